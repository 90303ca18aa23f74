-- Scores raised by the unvote that deleted a vote row through another
-- room's URL without moving the score (fixed in votes.rs): every track's
-- score is recounted from its vote rows, the only truth.
UPDATE tracks AS t
SET vote_score = counted.votes, updated_at = now()
FROM (
    SELECT tracks.id, count(track_votes.user_id)::integer AS votes
    FROM tracks LEFT JOIN track_votes ON track_votes.track_id = tracks.id
    GROUP BY tracks.id
) AS counted
WHERE counted.id = t.id AND t.vote_score <> counted.votes;
