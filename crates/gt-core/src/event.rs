//! The event log: every state change appends one event in the same transaction
//! as the change. Kinds are stable dotted names (see `docs/cli.md`).

use serde::{Deserialize, Serialize};

/// Stable event kinds.
pub mod kind {
    pub const BEAD_CREATED: &str = "bead.created";
    pub const BEAD_UPDATED: &str = "bead.updated";
    pub const BEAD_CLAIMED: &str = "bead.claimed";
    pub const BEAD_CLOSED: &str = "bead.closed";
    pub const BEAD_REOPENED: &str = "bead.reopened";
    pub const BEAD_COMMENTED: &str = "bead.commented";
    pub const DEP_ADDED: &str = "bead.dep_added";
    pub const DEP_REMOVED: &str = "bead.dep_removed";
    pub const BEADS_IMPORTED: &str = "bead.imported";
    pub const TOWN_CREATED: &str = "town.created";
    pub const CONFIG_SET: &str = "config.set";
    pub const RIG_ADDED: &str = "rig.added";
    pub const RIG_REMOVED: &str = "rig.removed";
    pub const POLECAT_ADDED: &str = "polecat.added";
    pub const POLECAT_REMOVED: &str = "polecat.removed";
    pub const POLECAT_STATE: &str = "polecat.state";
    pub const SLING: &str = "sling";
    pub const SLING_FAILED: &str = "sling.failed";
    pub const SESSION_STARTED: &str = "session.started";
    pub const SESSION_ENDED: &str = "session.ended";
    pub const BEAD_RELEASED: &str = "bead.released";
    pub const DONE: &str = "done";
    pub const MERGE_QUEUED: &str = "merge.queued";
    pub const WORK_SAVED: &str = "work.saved";
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: i64,
    pub time: String,
    pub kind: String,
    pub actor: String,
    pub rig: Option<String>,
    pub bead: Option<String>,
    pub summary: String,
    pub payload: serde_json::Value,
}

/// An event to append; time and actor are filled in by the store.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub kind: &'static str,
    pub rig: Option<String>,
    pub bead: Option<String>,
    pub summary: String,
    pub payload: serde_json::Value,
}

impl NewEvent {
    pub fn new(kind: &'static str, summary: impl Into<String>) -> Self {
        NewEvent {
            kind,
            rig: None,
            bead: None,
            summary: summary.into(),
            payload: serde_json::Value::Object(Default::default()),
        }
    }

    pub fn bead(mut self, id: impl Into<String>) -> Self {
        self.bead = Some(id.into());
        self
    }

    pub fn rig(mut self, rig: impl Into<String>) -> Self {
        self.rig = Some(rig.into());
        self
    }

    pub fn payload(mut self, payload: serde_json::Value) -> Self {
        self.payload = payload;
        self
    }
}

/// Which events to read (`gt trail`). Results are newest last.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Canonical timestamp: only events at or after it.
    pub since: Option<String>,
    /// Only events with an id greater than this (following a feed).
    pub after_id: Option<i64>,
    pub actor: Option<String>,
    pub rig: Option<String>,
    pub bead: Option<String>,
    pub kinds: Vec<String>,
    /// The newest `limit` matching events.
    pub limit: Option<usize>,
}

/// An actor (recorded on every event) is free text, but short and without
/// control characters.
pub fn validate_actor(actor: &str) -> crate::error::Result<()> {
    if actor.is_empty() || actor.chars().count() > 100 {
        return Err(crate::error::Error::invalid(
            "actor must be 1 to 100 characters",
        ));
    }
    if actor.chars().any(char::is_control) {
        return Err(crate::error::Error::invalid(
            "actor must not contain control characters",
        ));
    }
    Ok(())
}
