-- Votes of many rooms in one transaction, as 0012, with each voter's
-- membership of the room judged inside it: a vote whose voter takes no
-- part in the room is applied to nothing and says so (`takes_part` false;
-- null when the room does not exist). A vote then costs the API no round
-- trip of its own to ask whether its voter may vote (it asked PostgreSQL
-- once a second per voter and room before, which at a vote a second per
-- voter was a round trip per vote), and the answer is the one true under
-- the room's lock.
--
-- One implementation judges votes: 0012's function, kept for replicas of
-- the version before during a rolling update, becomes this one without
-- the membership check (`p_members` false).
CREATE FUNCTION spotik_apply_member_vote_batch(
    p_rooms uuid[], p_tracks uuid[], p_users uuid[], p_ups boolean[], p_members boolean DEFAULT true
)
RETURNS TABLE (ordinal integer, takes_part boolean, score integer, changed boolean, seq bigint, voted_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    v_room uuid;
    v_seq bigint;
    v_taken bigint := 0;
    v_rows integer;
BEGIN
    PERFORM 1 FROM rooms WHERE id = ANY (p_rooms) ORDER BY id FOR UPDATE;
    FOR i IN 1 .. coalesce(array_length(p_tracks, 1), 0) LOOP
        IF v_room IS DISTINCT FROM p_rooms[i] THEN
            IF v_taken > 0 THEN
                UPDATE rooms SET event_seq = v_seq + v_taken WHERE id = v_room;
            END IF;
            v_room := p_rooms[i];
            v_taken := 0;
            SELECT event_seq INTO v_seq FROM rooms WHERE id = v_room;
        END IF;
        ordinal := i;
        voted_at := now();
        seq := NULL;
        changed := false;
        score := NULL;
        takes_part := NULL;
        IF v_seq IS NOT NULL THEN
            takes_part := NOT p_members OR EXISTS (
                SELECT 1 FROM room_participants WHERE room_id = v_room AND user_id = p_users[i]
            );
        END IF;
        IF takes_part THEN
            SELECT vote_score INTO score FROM tracks WHERE id = p_tracks[i] AND room_id = v_room;
        END IF;
        IF score IS NOT NULL THEN
            IF p_ups[i] THEN
                INSERT INTO track_votes (track_id, user_id) VALUES (p_tracks[i], p_users[i]) ON CONFLICT DO NOTHING;
            ELSE
                DELETE FROM track_votes WHERE track_id = p_tracks[i] AND user_id = p_users[i];
            END IF;
            GET DIAGNOSTICS v_rows = ROW_COUNT;
            IF v_rows > 0 THEN
                UPDATE tracks
                SET vote_score = vote_score + CASE WHEN p_ups[i] THEN 1 ELSE -1 END, updated_at = now()
                WHERE id = p_tracks[i]
                RETURNING vote_score INTO score;
                changed := true;
                v_taken := v_taken + 1;
                seq := v_seq + v_taken;
            END IF;
        END IF;
        RETURN NEXT;
    END LOOP;
    IF v_taken > 0 THEN
        UPDATE rooms SET event_seq = v_seq + v_taken WHERE id = v_room;
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION spotik_apply_vote_batch(p_rooms uuid[], p_tracks uuid[], p_users uuid[], p_ups boolean[])
RETURNS TABLE (ordinal integer, score integer, changed boolean, seq bigint, voted_at timestamptz)
LANGUAGE sql AS $$
    SELECT b.ordinal, b.score, b.changed, b.seq, b.voted_at
    FROM spotik_apply_member_vote_batch(p_rooms, p_tracks, p_users, p_ups, false) AS b
$$;
