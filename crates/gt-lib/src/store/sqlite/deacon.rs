//! SQLite backend for issue 6: deacon heartbeat, actions, scheduler.

/// Migration 5.
pub(super) const SCHEMA: &str = "";
