-- The hosts of a town (issue 13), and which host runs each session.
CREATE TABLE hosts (
    name         TEXT COLLATE "C" PRIMARY KEY,
    capacity     BIGINT CHECK (capacity IS NULL OR capacity > 0),
    state        TEXT COLLATE "C" NOT NULL CHECK (state IN ('up', 'down', 'dead')),
    epoch        BIGINT NOT NULL CHECK (epoch >= 0),
    heartbeat_at TEXT COLLATE "C",
    joined_at    TEXT COLLATE "C" NOT NULL,
    state_at     TEXT COLLATE "C" NOT NULL
);

ALTER TABLE sessions ADD COLUMN host TEXT COLLATE "C";

CREATE INDEX sessions_open_by_host ON sessions (host) WHERE ended_at IS NULL;

-- Town-wide duties held by one host at a time (the refinery of each rig).
CREATE TABLE leases (
    name       TEXT COLLATE "C" PRIMARY KEY,
    holder     TEXT COLLATE "C" NOT NULL,
    epoch      BIGINT NOT NULL CHECK (epoch > 0),
    taken_at   TEXT COLLATE "C" NOT NULL,
    expires_at TEXT COLLATE "C" NOT NULL
);
