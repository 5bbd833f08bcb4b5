-- A bead's merge requests, read by its briefing, `gt convoy show` and the
-- dashboard's bead page without scanning the whole queue (issue 16).
CREATE INDEX merge_requests_by_bead ON merge_requests (bead, id);
