-- Votes of many rooms in one transaction, as 0012, with each voter's
-- membership of the room judged inside it: a vote whose voter takes no
-- part in the room is applied to nothing and says so (`takes_part` false;
-- null when the room does not exist). A vote then costs the API no round
-- trip of its own to ask whether its voter may vote (it asked PostgreSQL
-- once a second per voter and room before, which at a vote a second per
-- voter was a round trip per vote), and the answer is the one true under
-- the room's lock.
--
-- The votes that may be cast are handed to 0012's function, in their
-- order, so that a vote is judged by one piece of SQL whichever function
-- a replica calls (0012's stays for replicas of the version before during
-- a rolling update).
CREATE FUNCTION spotik_apply_member_vote_batch(p_rooms uuid[], p_tracks uuid[], p_users uuid[], p_ups boolean[])
RETURNS TABLE (ordinal integer, takes_part boolean, score integer, changed boolean, seq bigint, voted_at timestamptz)
LANGUAGE plpgsql AS $$
BEGIN
    -- The rooms are locked first, in 0012's order: membership is read
    -- under the same locks the votes are applied under.
    PERFORM 1 FROM rooms WHERE id = ANY (p_rooms) ORDER BY id FOR UPDATE;
    RETURN QUERY
    WITH judged AS (
        SELECT i,
               CASE WHEN r.id IS NULL THEN NULL ELSE EXISTS (
                   SELECT 1 FROM room_participants p WHERE p.room_id = r.id AND p.user_id = p_users[i]
               ) END AS part
        FROM generate_subscripts(p_tracks, 1) AS i
        LEFT JOIN rooms r ON r.id = p_rooms[i]
    ),
    cast_votes AS (
        SELECT i, row_number() OVER (ORDER BY i)::integer AS k FROM judged WHERE part
    ),
    applied AS (
        SELECT * FROM spotik_apply_vote_batch(
            ARRAY(SELECT p_rooms[i] FROM cast_votes ORDER BY k),
            ARRAY(SELECT p_tracks[i] FROM cast_votes ORDER BY k),
            ARRAY(SELECT p_users[i] FROM cast_votes ORDER BY k),
            ARRAY(SELECT p_ups[i] FROM cast_votes ORDER BY k)
        )
    )
    SELECT j.i, j.part, a.score, coalesce(a.changed, false), a.seq, coalesce(a.voted_at, now())
    FROM judged j
    LEFT JOIN cast_votes c ON c.i = j.i
    LEFT JOIN applied a ON a.ordinal = c.k
    ORDER BY j.i;
END
$$;
