-- The last screen text of each agent's open session, as its host captured
-- it, for `gt peek` on another host of the town (SQLite's 0013).
CREATE TABLE agent_screens (
    agent       TEXT PRIMARY KEY,
    session_id  BIGINT NOT NULL,
    screen      TEXT NOT NULL,
    captured_at TEXT NOT NULL
);
