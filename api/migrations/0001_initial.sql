-- Spotik's schema. PostgreSQL is the source of truth; Redis only caches.

CREATE TABLE users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    username      text NOT NULL,
    email         text NOT NULL,
    password_hash text NOT NULL,
    created_at    timestamptz(3) NOT NULL DEFAULT now(),
    updated_at    timestamptz(3) NOT NULL DEFAULT now()
);
-- Case-insensitive uniqueness: "Alice@Example.com" and "alice@example.com" are one account.
CREATE UNIQUE INDEX idx_users_email ON users (lower(email));
CREATE UNIQUE INDEX idx_users_username ON users (lower(username));

CREATE TABLE rooms (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name                text NOT NULL,
    administrator_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    current_track_id    uuid,
    playback_started_at timestamptz(3),
    playback_paused_at  timestamptz(3),
    is_playing          boolean NOT NULL DEFAULT false,
    -- Grows by one with every event of the room, in the transaction of the change.
    event_seq           bigint NOT NULL DEFAULT 0,
    created_at          timestamptz(3) NOT NULL DEFAULT now(),
    updated_at          timestamptz(3) NOT NULL DEFAULT now()
);
CREATE INDEX idx_rooms_time_name ON rooms (created_at DESC, name);
CREATE INDEX idx_rooms_active ON rooms (id) WHERE is_playing;

CREATE TABLE tracks (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    room_id         uuid NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    uploader_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    filename        text NOT NULL,
    original_name   text NOT NULL,
    file_path       text NOT NULL,
    duration_ms     bigint NOT NULL CHECK (duration_ms > 0),
    file_size_bytes bigint NOT NULL CHECK (file_size_bytes > 0),
    mime_type       text NOT NULL,
    content_sha256  text NOT NULL,
    vote_score      integer NOT NULL DEFAULT 0,
    played_at       timestamptz(3),
    created_at      timestamptz(3) NOT NULL DEFAULT now(),
    updated_at      timestamptz(3) NOT NULL DEFAULT now()
);
ALTER TABLE rooms ADD CONSTRAINT rooms_current_track_fk
    FOREIGN KEY (current_track_id) REFERENCES tracks (id) ON DELETE SET NULL;
-- The queue: unplayed tracks of a room by score, then age, then id.
CREATE INDEX idx_tracks_queue_order ON tracks (room_id, vote_score DESC, created_at ASC, id) WHERE played_at IS NULL;
CREATE INDEX idx_tracks_uploader_time ON tracks (uploader_id, created_at);
CREATE INDEX idx_tracks_voted ON tracks (room_id, vote_score) WHERE vote_score > 0;
CREATE INDEX idx_tracks_content ON tracks (content_sha256);

CREATE TABLE room_participants (
    room_id   uuid NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    joined_at timestamptz(3) NOT NULL DEFAULT now(),
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX idx_participants_room_time ON room_participants (room_id, joined_at);
CREATE INDEX idx_participants_user ON room_participants (user_id);

CREATE TABLE track_votes (
    track_id   uuid NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz(3) NOT NULL DEFAULT now(),
    PRIMARY KEY (track_id, user_id)
);
CREATE INDEX idx_votes_track_time ON track_votes (track_id, created_at);
CREATE INDEX idx_votes_user ON track_votes (user_id);

-- Revoked tokens (logout, refresh), kept until they would have expired anyway.
CREATE TABLE revoked_tokens (
    jti        uuid PRIMARY KEY,
    expires_at timestamptz NOT NULL
);
CREATE INDEX idx_revoked_tokens_expiry ON revoked_tokens (expires_at);
