-- A room's votes applied in one transaction, in the order given: the batch
-- a replica gathered while its previous commit for the room was in flight
-- (group commit: one lock of the room's row and one WAL flush for all).
--
-- Each vote is judged exactly as the single vote statement judged it: a
-- vote for a track outside the room changes nothing and answers no score;
-- a vote (up) adds the user's row if absent, an unvote removes it if
-- present; the score moves by what changed; a vote that changed something
-- takes the room's next event number, in order. The room's row is locked
-- first, as every change of a room locks it, so batches of any replica
-- apply one after another and their numbers never collide.
CREATE FUNCTION spotik_apply_votes(p_room uuid, p_tracks uuid[], p_users uuid[], p_ups boolean[])
RETURNS TABLE (ordinal integer, score integer, changed boolean, seq bigint, voted_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    v_seq bigint;
    v_taken bigint := 0;
    v_rows integer;
BEGIN
    SELECT event_seq INTO v_seq FROM rooms WHERE id = p_room FOR UPDATE;
    FOR i IN 1 .. coalesce(array_length(p_tracks, 1), 0) LOOP
        ordinal := i;
        voted_at := now();
        seq := NULL;
        changed := false;
        score := NULL;
        IF v_seq IS NOT NULL THEN
            SELECT vote_score INTO score FROM tracks WHERE id = p_tracks[i] AND room_id = p_room;
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
        UPDATE rooms SET event_seq = v_seq + v_taken WHERE id = p_room;
    END IF;
END
$$;
