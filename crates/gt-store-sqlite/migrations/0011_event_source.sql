-- Where a change was made when not the command line (issue 14): `dashboard`
-- for the web dashboard's actions; NULL otherwise.
ALTER TABLE events ADD COLUMN source TEXT;
