//! The refinery: the per-rig merge queue. `gt done` records merge requests;
//! the queue that lands them is built on these records.

use serde::{Deserialize, Serialize};

/// Status of a merge request (stored as text).
pub mod mr_status {
    pub const QUEUED: &str = "queued";
}

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
