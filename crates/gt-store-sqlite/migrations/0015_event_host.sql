-- The host whose gt made the change, in a town of several hosts (issue 13).
ALTER TABLE events ADD COLUMN host TEXT;
