
CREATE TABLE deacon_faults (
    subject  TEXT NOT NULL,
    step     TEXT NOT NULL,
    scope    TEXT NOT NULL,
    rig      TEXT,
    polecat  TEXT,
    error    TEXT NOT NULL,
    first_at TEXT NOT NULL,
    last_at  TEXT NOT NULL,
    count    INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (subject, step)
) WITHOUT ROWID;

CREATE TABLE gate_runs (
    rig         TEXT PRIMARY KEY,
    pgid        INTEGER NOT NULL,
    start_ticks INTEGER,
    gate        TEXT NOT NULL,
    command     TEXT NOT NULL,
    started_at  TEXT NOT NULL
) WITHOUT ROWID;
