-- Room life, third part (issue 34): moderators, mutes, bans and the room's
-- moderation log.

-- A participant the administrator made a moderator; one muted may not
-- queue tracks, chat or react until the time given.
ALTER TABLE room_participants ADD COLUMN is_moderator boolean NOT NULL DEFAULT false;
ALTER TABLE room_participants ADD COLUMN muted_until timestamptz(3);

-- Who may not join a room again (their participation is deleted when
-- they are banned).
CREATE TABLE room_bans (
    room_id    uuid NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    banned_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz(3) NOT NULL DEFAULT now(),
    PRIMARY KEY (room_id, user_id)
);

-- Every moderation action in a room, newest LOG_KEPT kept; names copied so
-- the log outlives the accounts.
CREATE TABLE moderation_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    room_id     uuid NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    actor_id    uuid REFERENCES users (id) ON DELETE SET NULL,
    actor_name  text NOT NULL,
    action      text NOT NULL CHECK (action IN ('moderator_added', 'moderator_removed', 'muted', 'unmuted',
                                                 'banned', 'unbanned', 'track_removed', 'message_deleted')),
    target_name text NOT NULL,
    detail      text,
    created_at  timestamptz(3) NOT NULL DEFAULT now()
);
CREATE INDEX idx_moderation_log_room ON moderation_log (room_id, id DESC);
