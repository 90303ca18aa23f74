-- Room life, second part (issue 34): the room's chat.

-- What participants wrote in a room; the newest MESSAGES_KEPT per room are
-- kept (trimmed as messages are added). The author's name is copied so a
-- message outlives its author's account.
CREATE TABLE chat_messages (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    room_id    uuid NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id    uuid REFERENCES users (id) ON DELETE SET NULL,
    username   text NOT NULL,
    body       text NOT NULL CHECK (char_length(body) BETWEEN 1 AND 500),
    created_at timestamptz(3) NOT NULL DEFAULT now()
);
CREATE INDEX idx_chat_messages_room ON chat_messages (room_id, id DESC);
