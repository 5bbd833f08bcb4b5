//! SQLite backend for issue 5: agent activity observations.

/// Migration 6.
pub(super) const SCHEMA: &str = "";
