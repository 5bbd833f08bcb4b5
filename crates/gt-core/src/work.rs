//! Work on a bead: what hooking, finishing and undoing a sling ask the store
//! for, and what they return (no I/O).

use crate::bead::Bead;
use crate::error::Result;
use crate::merge::MergeRequest;

/// How an agent finished its bead (`gt done --status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DoneStatus {
    Completed,
    Escalated,
    Deferred,
}

impl std::str::FromStr for DoneStatus {
    type Err = crate::error::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "completed" => Ok(DoneStatus::Completed),
            "escalated" => Ok(DoneStatus::Escalated),
            "deferred" => Ok(DoneStatus::Deferred),
            _ => Err(crate::error::Error::invalid(format!(
                "unknown done status '{}': use completed, escalated or deferred",
                s.escape_debug()
            ))),
        }
    }
}

/// Hooking a bead to a polecat: the first, atomic step of a sling.
/// What a failed sling takes back.
#[derive(Debug, Clone)]
pub struct SlingUndo<'a> {
    pub bead: &'a str,
    /// The session it recorded, if it got that far: ended
    /// `failed_to_start`, the bead released with `note`.
    pub session: Option<i64>,
    /// The bead was created by this sling: it is deleted with its sessions.
    pub drop_bead: bool,
    /// `(rig, name)` of a polecat this sling created: deleted when it has
    /// no other session; else the polecat holding the bead goes idle.
    pub new_polecat: Option<(&'a str, &'a str)>,
    pub note: &'a str,
}

#[derive(Debug, Clone)]
pub struct HookRequest<'a> {
    pub bead: &'a str,
    pub rig: &'a str,
    pub polecat: &'a str,
    pub tmux_session: &'a str,
    pub runtime: &'a str,
    pub branch: &'a str,
    pub base_commit: &'a str,
    /// An open session of this bead that the caller found dead or chose to
    /// replace (`--force`, `gt resume`): it is ended as superseded.
    pub supersede: Option<i64>,
    /// The host that runs the session.
    pub host: &'a str,
}

#[derive(Debug, Clone)]
pub struct DoneRequest<'a> {
    pub session: i64,
    pub status: DoneStatus,
    pub note: Option<&'a str>,
    pub head_commit: &'a str,
    /// Completed with no commits beyond the base: the bead is closed directly.
    pub no_changes: bool,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct DoneOutcome {
    pub bead: Bead,
    pub merge_request: Option<MergeRequest>,
}

#[derive(Debug, Clone, Default)]
pub struct SessionFilter<'a> {
    pub open_only: bool,
    pub rig: Option<&'a str>,
    pub polecat: Option<&'a str>,
    pub bead: Option<&'a str>,
    /// Only sessions run by this host.
    pub host: Option<&'a str>,
    pub limit: Option<usize>,
}
