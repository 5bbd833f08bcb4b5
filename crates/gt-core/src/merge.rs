//! Merge queue and convoy records the store traits read and write (no I/O).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

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
    pub status: MergeStatus,
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
    pub status: ConvoyStatus,
    pub created_by: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub landed_at: Option<String>,
    pub beads: Vec<String>,
    /// Tracked beads that are closed.
    pub closed: usize,
    pub total: usize,
}

/// Where a merge request stands (stored and printed as its snake_case name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MergeStatus {
    /// Waiting for the refinery.
    Queued,
    /// The target is being moved to it (crash recovery decides from git).
    Landing,
    Merged,
    /// A gate failed (or the push was rejected).
    Failed,
    /// The rebase or merge onto the target conflicted.
    Conflict,
    /// Taken out of the queue by `gt mq remove`.
    Removed,
}

impl MergeStatus {
    pub const ALL: &'static [MergeStatus] = &[
        MergeStatus::Queued,
        MergeStatus::Landing,
        MergeStatus::Merged,
        MergeStatus::Failed,
        MergeStatus::Conflict,
        MergeStatus::Removed,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            MergeStatus::Queued => "queued",
            MergeStatus::Landing => "landing",
            MergeStatus::Merged => "merged",
            MergeStatus::Failed => "failed",
            MergeStatus::Conflict => "conflict",
            MergeStatus::Removed => "removed",
        }
    }

    /// Still to be landed (queued or landing).
    pub const fn is_pending(self) -> bool {
        matches!(self, MergeStatus::Queued | MergeStatus::Landing)
    }
}

impl std::str::FromStr for MergeStatus {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        MergeStatus::ALL
            .iter()
            .copied()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| Error::invalid(format!("unknown merge status '{}'", s.escape_debug())))
    }
}

/// Whether a convoy's beads have all landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConvoyStatus {
    Open,
    Landed,
}

impl ConvoyStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            ConvoyStatus::Open => "open",
            ConvoyStatus::Landed => "landed",
        }
    }
}

impl std::fmt::Display for MergeStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl std::fmt::Display for ConvoyStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl std::str::FromStr for ConvoyStatus {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "open" => Ok(ConvoyStatus::Open),
            "landed" => Ok(ConvoyStatus::Landed),
            _ => Err(Error::invalid(format!(
                "unknown convoy status '{}'",
                s.escape_debug()
            ))),
        }
    }
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

#[cfg(test)]
mod status_tests {
    use super::*;

    #[test]
    fn statuses_print_as_stored() {
        for m in MergeStatus::ALL {
            assert_eq!(m.as_str().parse::<MergeStatus>().unwrap(), *m);
            assert_eq!(serde_json::to_value(m).unwrap(), m.as_str());
        }
        assert_eq!(
            serde_json::to_value(ConvoyStatus::Landed).unwrap(),
            "landed"
        );
        assert!("merging".parse::<MergeStatus>().is_err());
    }
}

/// A molecule as `create_molecule` made it: the epic bead, the step beads
/// (in the order given) and the convoy tracking the steps.
#[derive(Debug, Clone, Serialize)]
pub struct Molecule {
    pub epic: crate::bead::Bead,
    pub steps: Vec<crate::bead::Bead>,
    pub convoy: Convoy,
}
