
ALTER TABLE sessions ADD COLUMN agent_session_id TEXT;

CREATE TABLE session_usage (
    session_id         INTEGER PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    input_tokens       INTEGER NOT NULL CHECK (input_tokens >= 0),
    output_tokens      INTEGER NOT NULL CHECK (output_tokens >= 0),
    cache_read_tokens  INTEGER NOT NULL CHECK (cache_read_tokens >= 0),
    cache_write_tokens INTEGER NOT NULL CHECK (cache_write_tokens >= 0),
    cost_micros        INTEGER CHECK (cost_micros >= 0),
    model              TEXT,
    source             TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);
