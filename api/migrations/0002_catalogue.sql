-- Genres, playlists, covers, room descriptions and track search: the parts of
-- the old backend its front end calls and the first schema left out.

-- Trusted since PostgreSQL 13: the database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE genres (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    description text CHECK (char_length(description) <= 500),
    color       text NOT NULL DEFAULT '#6366f1' CHECK (color ~ '^#[0-9A-Fa-f]{6}$'),
    -- Who may rename or delete it; NULL for the built-in genres, which nobody may.
    created_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz(3) NOT NULL DEFAULT now(),
    updated_at  timestamptz(3) NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX idx_genres_name ON genres (lower(name));

INSERT INTO genres (name, description, color) VALUES
    ('Pop', 'Catchy, mainstream popular music', '#ff6b6b'),
    ('Rock', 'Guitars, drums and attitude', '#4ecdc4'),
    ('Hip Hop', 'Beats, rhymes and samples', '#45b7d1'),
    ('Electronic', 'Synthesisers, drum machines and the dance floor', '#96ceb4'),
    ('Jazz', 'Swing, improvisation and blue notes', '#feca57'),
    ('Classical', 'Orchestras, chamber music and the canon', '#ff9ff3'),
    ('R&B', 'Rhythm and blues, soul and groove', '#54a0ff'),
    ('Country', 'Stories, steel guitars and fiddles', '#5f27cd'),
    ('Reggae', 'Offbeat rhythms from Jamaica', '#00d2d3'),
    ('Alternative', 'Outside the mainstream', '#ff6348');

ALTER TABLE rooms
    ADD COLUMN description text CHECK (char_length(description) <= 500),
    -- Media-relative path of the content-addressed cover image.
    ADD COLUMN cover_path text;

ALTER TABLE tracks
    ADD COLUMN genre_id bigint REFERENCES genres (id) ON DELETE SET NULL,
    ADD COLUMN cover_path text;
CREATE INDEX idx_tracks_genre ON tracks (genre_id) WHERE genre_id IS NOT NULL;
CREATE INDEX idx_tracks_cover ON tracks (cover_path) WHERE cover_path IS NOT NULL;
CREATE INDEX idx_rooms_cover ON rooms (cover_path) WHERE cover_path IS NOT NULL;
-- The list of a room holds every track, played ones included, in queue order.
DROP INDEX idx_tracks_queue_order;
CREATE INDEX idx_tracks_queue_order ON tracks (room_id, vote_score DESC, created_at ASC, id);
-- Track search by name: trigram matching serves ILIKE '%…%' (three
-- characters or more) from an index; shorter texts match the start of the
-- name; results come most voted, then newest first, which the last index
-- serves for texts that match many tracks (loadtest/search-bench).
CREATE INDEX idx_tracks_name_trgm ON tracks USING gin (original_name gin_trgm_ops);
CREATE INDEX idx_tracks_name_prefix ON tracks (lower(original_name) text_pattern_ops);
CREATE INDEX idx_tracks_popular ON tracks (vote_score DESC, created_at DESC, id);

CREATE TABLE playlists (
    id          bigserial PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    description text CHECK (char_length(description) <= 1000),
    is_public   boolean NOT NULL DEFAULT false,
    created_at  timestamptz(3) NOT NULL DEFAULT now(),
    updated_at  timestamptz(3) NOT NULL DEFAULT now()
);
CREATE INDEX idx_playlists_owner_time ON playlists (user_id, created_at DESC);
CREATE INDEX idx_playlists_public_time ON playlists (created_at DESC) WHERE is_public;

CREATE TABLE playlist_tracks (
    playlist_id bigint NOT NULL REFERENCES playlists (id) ON DELETE CASCADE,
    track_id    uuid NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
    position    integer NOT NULL CHECK (position >= 0),
    created_at  timestamptz(3) NOT NULL DEFAULT now(),
    PRIMARY KEY (playlist_id, track_id)
);
CREATE INDEX idx_playlist_tracks_order ON playlist_tracks (playlist_id, position);
CREATE INDEX idx_playlist_tracks_track ON playlist_tracks (track_id);
