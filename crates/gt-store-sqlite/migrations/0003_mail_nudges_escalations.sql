
CREATE TABLE mail (
    id         INTEGER PRIMARY KEY,
    sender     TEXT NOT NULL,
    recipients TEXT NOT NULL,
    subject    TEXT NOT NULL,
    body       TEXT NOT NULL,
    priority   TEXT NOT NULL,
    sent_at    TEXT NOT NULL,
    reply_to   INTEGER REFERENCES mail (id),
    thread     INTEGER NOT NULL
);
CREATE INDEX mail_by_thread ON mail (thread, id);
CREATE INDEX mail_by_sender ON mail (sender, id);

CREATE TABLE mailbox (
    owner      TEXT NOT NULL,
    mail_id    INTEGER NOT NULL REFERENCES mail (id) ON DELETE CASCADE,
    state      TEXT NOT NULL CHECK (state IN ('unread', 'read', 'archived')),
    updated_at TEXT NOT NULL,
    PRIMARY KEY (owner, mail_id)
) WITHOUT ROWID;
CREATE INDEX mailbox_by_state ON mailbox (owner, state, mail_id);

CREATE TABLE nudge_queue (
    id           INTEGER PRIMARY KEY,
    agent        TEXT NOT NULL,
    sender       TEXT NOT NULL,
    message      TEXT NOT NULL,
    queued_at    TEXT NOT NULL,
    delivered_at TEXT
);
CREATE INDEX nudge_queue_pending ON nudge_queue (agent, id) WHERE delivered_at IS NULL;

CREATE TABLE escalations (
    id          INTEGER PRIMARY KEY,
    bead        TEXT NOT NULL UNIQUE,
    sender      TEXT NOT NULL,
    severity    TEXT NOT NULL,
    message     TEXT NOT NULL,
    source_bead TEXT,
    mail_id     INTEGER,
    created_at  TEXT NOT NULL,
    acked_at    TEXT,
    acked_by    TEXT
);

CREATE TABLE agent_state (
    agent      TEXT PRIMARY KEY,
    state      TEXT NOT NULL,
    source     TEXT NOT NULL,
    updated_at TEXT NOT NULL
) WITHOUT ROWID;
