//! SQLite backend for issue 4: mail, nudge queue, escalations.

/// Migration 3.
pub(super) const SCHEMA: &str = "";
