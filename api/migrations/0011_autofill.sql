-- Room life (issue 34): a room that never goes silent. When its queue runs
-- dry it plays on from its own history or from a playlist its
-- administrator links; such tracks are copies marked `autofill`, deleted
-- once they have played, and give way to anything a person queues.
ALTER TABLE rooms ADD COLUMN autofill text NOT NULL DEFAULT 'off' CHECK (autofill IN ('off', 'history', 'playlist'));
ALTER TABLE rooms ADD COLUMN autofill_playlist_id bigint REFERENCES playlists (id) ON DELETE SET NULL;
ALTER TABLE tracks ADD COLUMN autofill boolean NOT NULL DEFAULT false;

-- When a room last played each piece of audio (by content), so that autofill
-- plays the longest unheard first: bounded by the distinct files a room has
-- played.
CREATE TABLE autofill_plays (
    room_id        uuid NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    content_sha256 text NOT NULL,
    played_at      timestamptz(3) NOT NULL,
    PRIMARY KEY (room_id, content_sha256)
);
