-- The hosts of a town (issue 13): one for an embedded town, one per
-- `gt init`/`gt join` for a shared one; and which host runs each session.
CREATE TABLE hosts (
    name         TEXT PRIMARY KEY,
    capacity     INTEGER CHECK (capacity IS NULL OR capacity > 0),
    state        TEXT NOT NULL CHECK (state IN ('up', 'down', 'dead')),
    epoch        INTEGER NOT NULL CHECK (epoch >= 0),
    heartbeat_at TEXT,
    joined_at    TEXT NOT NULL,
    state_at     TEXT NOT NULL
);

ALTER TABLE sessions ADD COLUMN host TEXT;

CREATE INDEX sessions_open_by_host ON sessions (host) WHERE ended_at IS NULL;

-- Town-wide duties held by one host at a time (the refinery of each rig).
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    epoch      INTEGER NOT NULL CHECK (epoch > 0),
    taken_at   TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
