
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
