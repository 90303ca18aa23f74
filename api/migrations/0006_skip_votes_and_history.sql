-- Room life, first part (issue 34): vote to skip and the play history.

-- Whether participants present may skip what plays by voting (the
-- administrator's setting; on by default).
ALTER TABLE rooms ADD COLUMN vote_skip boolean NOT NULL DEFAULT true;

-- Votes to skip the track a room plays. They are for that track only: the
-- room's next track starts with none (the rows of the old one are deleted
-- in the same transaction), and a voter who leaves the room's channels
-- takes theirs back. At most one row per participant per room.
CREATE TABLE skip_votes (
    room_id    uuid NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    track_id   uuid NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
    created_at timestamptz(3) NOT NULL DEFAULT now(),
    PRIMARY KEY (room_id, user_id)
);

-- What played in a room: one row per track that stopped being current,
-- newest kept (HISTORY_KEPT per room, trimmed as rows are added). The
-- track's name and uploader are copied: the history outlives the track.
CREATE TABLE play_history (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    room_id        uuid NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    track_id       uuid REFERENCES tracks (id) ON DELETE SET NULL,
    track_name     text NOT NULL,
    duration_ms    bigint NOT NULL,
    added_by       uuid REFERENCES users (id) ON DELETE SET NULL,
    added_by_name  text NOT NULL,
    -- How far it played (ms), and when it stopped being current.
    played_ms      bigint NOT NULL CHECK (played_ms >= 0),
    ended_at       timestamptz(3) NOT NULL DEFAULT now(),
    -- finished: it played to its end; otherwise why it was cut short.
    ending         text NOT NULL CHECK (ending IN ('finished', 'admin', 'vote', 'removed', 'replaced', 'stopped'))
);
CREATE INDEX idx_play_history_room ON play_history (room_id, id DESC);
