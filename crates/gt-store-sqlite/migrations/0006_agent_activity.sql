
CREATE TABLE agent_activity (
    agent             TEXT PRIMARY KEY,
    session_id        INTEGER,
    screen_hash       TEXT NOT NULL,
    first_observed_at TEXT NOT NULL,
    screen_changed_at TEXT,
    observed_at       TEXT NOT NULL,
    screen_kind       TEXT
) WITHOUT ROWID;
