//! Forward-only migrations, one SQL file each under `migrations/`; the
//! version applied is kept in `gt_schema`. Never edit a released migration:
//! append a new file and list it here. (PostgreSQL's numbering is its own:
//! 0001 holds what SQLite's 0001–0009 built.)

pub const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_town.sql"),
    // The hosts of a town and the host of each session (SQLite's 0010).
    include_str!("../migrations/0002_hosts.sql"),
    // Where an event's change was made (SQLite's 0011).
    include_str!("../migrations/0003_event_source.sql"),
    // Beads by status kept by a trigger (SQLite's 0012).
    include_str!("../migrations/0004_bead_counts.sql"),
    // The last screen of each agent for other hosts' `gt peek` (SQLite's 0013).
    include_str!("../migrations/0005_agent_screens.sql"),
    // Event inserts notify `gt_events` (LISTEN/NOTIFY, issue 13).
    include_str!("../migrations/0006_events_notify.sql"),
    // A bead's merge requests by index (SQLite's 0014).
    include_str!("../migrations/0007_merge_requests_by_bead.sql"),
    // The host that made each event's change (SQLite's 0015).
    include_str!("../migrations/0008_event_host.sql"),
];

/// The tables the latest schema has (checked by `gt doctor`).
pub const TABLES: &[&str] = &[
    "meta",
    "beads",
    "labels",
    "deps",
    "comments",
    "events",
    "rigs",
    "polecats",
    "sessions",
    "merge_requests",
    "mail",
    "mailbox",
    "nudge_queue",
    "escalations",
    "agent_state",
    "convoys",
    "convoy_beads",
    "deacon",
    "deacon_marks",
    "agent_activity",
    "deacon_faults",
    "gate_runs",
    "session_usage",
    "hosts",
    "leases",
    "bead_counts",
    "agent_screens",
];

/// The schema version this build writes.
pub fn latest() -> i64 {
    MIGRATIONS.len() as i64
}
