-- The host whose gt made the change (SQLite's 0015): the session setting
-- `gt.host`, set by each host's store handle.
ALTER TABLE events ADD COLUMN host TEXT COLLATE "C";
