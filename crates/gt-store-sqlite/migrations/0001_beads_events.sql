
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE beads (
    id           TEXT PRIMARY KEY,
    title        TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL,
    priority     INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 4),
    type         TEXT NOT NULL,
    assignee     TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    closed_at    TEXT,
    close_reason TEXT,
    created_by   TEXT,
    metadata     TEXT NOT NULL DEFAULT '{}'
) WITHOUT ROWID;
CREATE INDEX beads_by_status ON beads (status, priority, created_at, id);
CREATE INDEX beads_by_assignee ON beads (assignee) WHERE assignee IS NOT NULL;

CREATE TABLE labels (
    bead_id TEXT NOT NULL REFERENCES beads (id) ON DELETE CASCADE,
    label   TEXT NOT NULL,
    PRIMARY KEY (bead_id, label)
) WITHOUT ROWID;
CREATE INDEX labels_by_label ON labels (label, bead_id);

CREATE TABLE deps (
    bead_id    TEXT NOT NULL REFERENCES beads (id) ON DELETE CASCADE,
    depends_on TEXT NOT NULL REFERENCES beads (id) ON DELETE CASCADE,
    type       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT,
    PRIMARY KEY (bead_id, type, depends_on)
) WITHOUT ROWID;
CREATE INDEX deps_by_target ON deps (depends_on, type, bead_id);

CREATE TABLE comments (
    id         INTEGER PRIMARY KEY,
    bead_id    TEXT NOT NULL REFERENCES beads (id) ON DELETE CASCADE,
    author     TEXT NOT NULL,
    text       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX comments_by_bead ON comments (bead_id, id);

CREATE TABLE events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    time    TEXT NOT NULL,
    kind    TEXT NOT NULL,
    actor   TEXT NOT NULL,
    rig     TEXT,
    bead    TEXT,
    summary TEXT NOT NULL,
    payload TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_by_time ON events (time);
CREATE INDEX events_by_actor ON events (actor, id);
CREATE INDEX events_by_rig ON events (rig, id) WHERE rig IS NOT NULL;
CREATE INDEX events_by_bead ON events (bead, id) WHERE bead IS NOT NULL;
CREATE INDEX events_by_kind ON events (kind, id);
