-- Votes of many rooms applied in one transaction: a replica's batch holds
-- whatever votes arrived while its previous commit was in flight, of any
-- room, so that commits stop following votes when votes are spread over
-- many rooms (each room alone rarely has two at once).
--
-- The votes come grouped by room, rooms in ascending id, each room's votes
-- in their order. Every room of the batch is locked first, in that order,
-- as every change of a room locks its row: batches of any replica and lane
-- that share rooms take them in one order and never deadlock each other.
-- Each vote is then judged exactly as spotik_apply_votes judges it (0004),
-- and each room's changes take its next event numbers in order.
CREATE FUNCTION spotik_apply_vote_batch(p_rooms uuid[], p_tracks uuid[], p_users uuid[], p_ups boolean[])
RETURNS TABLE (ordinal integer, score integer, changed boolean, seq bigint, voted_at timestamptz)
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
        IF v_seq IS NOT NULL THEN
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
