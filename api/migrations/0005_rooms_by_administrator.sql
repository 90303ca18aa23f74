-- Rooms are counted per administrator for ROOMS_PER_USER on every create.
CREATE INDEX idx_rooms_administrator ON rooms (administrator_id);
