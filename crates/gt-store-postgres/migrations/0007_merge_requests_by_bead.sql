-- A bead's merge requests without scanning the whole queue (SQLite's 0014).
CREATE INDEX merge_requests_by_bead ON merge_requests (bead, id);
