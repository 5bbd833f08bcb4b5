
CREATE TABLE deacon (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    pid              INTEGER,
    started_at       TEXT,
    heartbeat_at     TEXT,
    last_patrol_at   TEXT,
    patrols          INTEGER NOT NULL DEFAULT 0,
    actions          INTEGER NOT NULL DEFAULT 0,
    scheduler_paused INTEGER NOT NULL DEFAULT 0
);
INSERT INTO deacon (id) VALUES (1);

CREATE TABLE deacon_marks (
    key      TEXT PRIMARY KEY,
    first_at TEXT NOT NULL,
    last_at  TEXT NOT NULL,
    count    INTEGER NOT NULL DEFAULT 1
) WITHOUT ROWID;
