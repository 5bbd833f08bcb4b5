//! SQLite backend for issue 7: merge queue (refinery) and convoys.

/// Migration 4.
pub(super) const SCHEMA: &str = "";
