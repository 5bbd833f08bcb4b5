-- The last screen text of each agent's open session, as its host captured
-- it, for `gt peek` on another host of the town (issue 13). Written only by
-- towns with a shared store; one row per agent, replaced by each capture.
CREATE TABLE agent_screens (
    agent       TEXT PRIMARY KEY,
    session_id  INTEGER NOT NULL,
    screen      TEXT NOT NULL,
    captured_at TEXT NOT NULL
) WITHOUT ROWID;
