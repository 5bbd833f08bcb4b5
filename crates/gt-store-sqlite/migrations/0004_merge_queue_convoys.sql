
ALTER TABLE merge_requests ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE merge_requests ADD COLUMN target_from TEXT;
ALTER TABLE merge_requests ADD COLUMN landing_commit TEXT;
ALTER TABLE merge_requests ADD COLUMN merged_commit TEXT;
ALTER TABLE merge_requests ADD COLUMN batch INTEGER;
ALTER TABLE merge_requests ADD COLUMN failure TEXT;
ALTER TABLE merge_requests ADD COLUMN conflict_files TEXT NOT NULL DEFAULT '[]';
ALTER TABLE merge_requests ADD COLUMN followup_pending INTEGER NOT NULL DEFAULT 0;
CREATE INDEX merge_requests_followup ON merge_requests (rig, id) WHERE followup_pending = 1;

CREATE TABLE convoys (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    status     TEXT NOT NULL,
    created_by TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    landed_at  TEXT
);
CREATE TABLE convoy_beads (
    convoy_id INTEGER NOT NULL REFERENCES convoys (id) ON DELETE CASCADE,
    bead_id   TEXT NOT NULL REFERENCES beads (id) ON DELETE CASCADE,
    added_at  TEXT NOT NULL,
    PRIMARY KEY (convoy_id, bead_id)
) WITHOUT ROWID;
CREATE INDEX convoy_beads_by_bead ON convoy_beads (bead_id, convoy_id);
