//! Merge queue and convoy records the store traits read and write (no I/O).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Status of a merge request (stored as text).
pub mod mr_status {
    pub const QUEUED: &str = "queued";
    /// The target is being moved to it (crash recovery decides from git).
    pub const LANDING: &str = "landing";
    pub const MERGED: &str = "merged";
    /// A gate failed (or the push was rejected).
    pub const FAILED: &str = "failed";
    /// The rebase or merge onto the target conflicted.
    pub const CONFLICT: &str = "conflict";
    /// Taken out of the queue by `gt mq remove`.
    pub const REMOVED: &str = "removed";
}

/// Event kinds of the refinery and convoys.
pub mod kind {
    pub const MERGE_LANDING: &str = "merge.landing";
    pub const MERGE_LANDED: &str = "merge.landed";
    pub const MERGE_FAILED: &str = "merge.failed";
    pub const MERGE_CONFLICT: &str = "merge.conflict";
    pub const MERGE_REQUEUED: &str = "merge.requeued";
    pub const MERGE_REMOVED: &str = "merge.removed";
    pub const CONVOY_CREATED: &str = "convoy.created";
    pub const CONVOY_UPDATED: &str = "convoy.updated";
    pub const CONVOY_LANDED: &str = "convoy.landed";
    pub const RIG_CONFIG_SET: &str = "rig.config_set";
    /// A gate process group left by a refinery that died was killed before
    /// a gate ran again.
    pub const GATE_KILLED: &str = "merge.gate_killed";
}

/// A merge request as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergeRequest {
    pub id: i64,
    pub rig: String,
    pub bead: String,
    pub polecat: Option<String>,
    pub branch: String,
    pub base_commit: String,
    pub head_commit: String,
    pub status: String,
    pub note: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// A merge request with the refinery's bookkeeping.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MergeEntry {
    #[serde(flatten)]
    pub mr: MergeRequest,
    /// How many times the refinery has tried to land it.
    pub attempts: i64,
    /// The target tip a landing started from (`landing` only).
    pub target_from: Option<String>,
    /// The commit that carries this request onto the target (rebased head,
    /// merge or squash commit), set when the landing starts.
    pub landing_commit: Option<String>,
    /// The commit on the target that contains it (`merged` only).
    pub merged_commit: Option<String>,
    /// The batch it landed or failed in.
    pub batch: Option<i64>,
    /// Why it failed: the tail of the gate output, or the conflicting files.
    pub failure: Option<String>,
    /// Conflicting files (`conflict` only).
    pub conflict_files: Vec<String>,
    /// Follow-up (branch deletion, re-sling, mail) still to do.
    pub followup_pending: bool,
}

/// One request of a landing: its id and the commit that carries it.
#[derive(Debug, Clone)]
pub struct Landing {
    pub id: i64,
    pub commit: String,
}

/// What a request failed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// A gate failed (status `failed`).
    Gate,
    /// The rebase or merge conflicted (status `conflict`).
    Conflict,
    /// Something else (push rejected...): status `failed`.
    Other,
}

/// A convoy: beads that belong together.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Convoy {
    pub id: i64,
    pub name: String,
    /// `open` or `landed`.
    pub status: String,
    pub created_by: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub landed_at: Option<String>,
    pub beads: Vec<String>,
    /// Tracked beads that are closed.
    pub closed: usize,
    pub total: usize,
}

pub fn validate_convoy_name(name: &str) -> Result<()> {
    if name.trim().is_empty()
        || name.len() > 200
        || name.chars().any(char::is_control)
        || name.starts_with('-')
    {
        return Err(Error::invalid(
            "a convoy name is 1-200 characters of text without control characters, not starting with '-'",
        ));
    }
    if name.parse::<i64>().is_ok()
        || name
            .strip_prefix("cv-")
            .is_some_and(|r| r.parse::<i64>().is_ok())
    {
        return Err(Error::invalid(format!(
            "convoy name '{name}' looks like a convoy id; choose a name with letters"
        )));
    }
    Ok(())
}
