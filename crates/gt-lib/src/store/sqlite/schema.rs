//! Forward-only migrations. Migration N brings `PRAGMA user_version` to N.
//! Never edit a released migration: append a new one.

pub const MIGRATIONS: &[&str] = &[
    // 1: beads, labels, dependencies, comments, events.
    r#"
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
"#,
    // 2: rigs, polecats, sessions, merge requests.
    r#"
CREATE TABLE rigs (
    name       TEXT PRIMARY KEY,
    source     TEXT NOT NULL,
    branch     TEXT NOT NULL,
    prefix     TEXT NOT NULL UNIQUE,
    agent      TEXT,
    created_at TEXT NOT NULL,
    config     TEXT NOT NULL DEFAULT '{}'
) WITHOUT ROWID;

CREATE TABLE polecats (
    rig        TEXT NOT NULL REFERENCES rigs (name) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    state      TEXT NOT NULL,
    bead       TEXT,
    branch     TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (rig, name)
) WITHOUT ROWID;

CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY,
    rig          TEXT NOT NULL,
    polecat      TEXT NOT NULL,
    bead         TEXT NOT NULL,
    tmux_session TEXT NOT NULL,
    runtime      TEXT NOT NULL,
    branch       TEXT NOT NULL,
    base_commit  TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    running_at   TEXT,
    ended_at     TEXT,
    end_reason   TEXT,
    head_commit  TEXT
);
CREATE INDEX sessions_open ON sessions (bead) WHERE ended_at IS NULL;
CREATE INDEX sessions_by_bead ON sessions (bead, id);
CREATE INDEX sessions_by_polecat ON sessions (rig, polecat, id);

CREATE TABLE merge_requests (
    id          INTEGER PRIMARY KEY,
    rig         TEXT NOT NULL,
    bead        TEXT NOT NULL,
    polecat     TEXT,
    branch      TEXT NOT NULL,
    base_commit TEXT NOT NULL,
    head_commit TEXT NOT NULL,
    status      TEXT NOT NULL,
    note        TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX merge_requests_by_status ON merge_requests (rig, status, id);
"#,
    super::mail::SCHEMA,
    super::merge::SCHEMA,
    super::deacon::SCHEMA,
    super::observe::SCHEMA,
    // 7: bare partial ids (`4k2m` for `bn-4k2m…`) found by index in ledgers
    // whose prefix is not the town's (imported ones).
    "CREATE INDEX beads_by_hash ON beads (substr(id, instr(id, '-') + 1));",
    // 8: deacon faults per agent / rig, recorded gate process groups.
    super::deacon::SCHEMA_FAULTS,
];

/// The schema version this build writes.
pub fn latest() -> i64 {
    MIGRATIONS.len() as i64
}
