-- Where a change was made when not the command line (SQLite's 0011).
ALTER TABLE events ADD COLUMN source TEXT COLLATE "C";
