-- Room life (issue 34): how many tracks one participant may have waiting in
-- a room's queue at once (null: no limit), the administrator's setting.
ALTER TABLE rooms ADD COLUMN queue_limit_per_user integer
    CHECK (queue_limit_per_user BETWEEN 1 AND 100);
