-- Room life (issue 34): the queue's order, by votes (as the original
-- backend) or fair (turns by fewest plays this session), the
-- administrator's setting; and when the room's listening session began
-- (playback started in an idle room), from which plays are counted.
ALTER TABLE rooms ADD COLUMN queue_mode text NOT NULL DEFAULT 'votes' CHECK (queue_mode IN ('votes', 'fair'));
ALTER TABLE rooms ADD COLUMN session_started_at timestamptz(3);
