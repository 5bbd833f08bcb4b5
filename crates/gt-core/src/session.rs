//! Agent sessions: one run of an agent on a bead, in a tmux session.

use serde::{Deserialize, Serialize};

/// Why a session ended (stored as text in `sessions.end_reason`).
pub mod end_reason {
    /// The agent ran `gt done`.
    pub const DONE: &str = "done";
    /// The agent command could not start or died at once.
    pub const FAILED_TO_START: &str = "failed_to_start";
    /// The tmux session disappeared (killed, crashed server).
    pub const VANISHED: &str = "vanished";
    /// The agent process exited without `gt done`.
    pub const EXITED: &str = "exited";
    /// Replaced by a new session (`gt resume`, `gt sling --force`).
    pub const SUPERSEDED: &str = "superseded";
    /// The agent asked for a fresh session.
    pub const HANDOFF: &str = "handoff";
    /// Ended on purpose by `gt down --all` (its work saved first); the bead
    /// and polecat keep their state and `gt up` resumes it.
    pub const STOPPED: &str = "stopped";
    /// The deacon gave up after `deacon.max_restarts` failed sessions: the
    /// bead is `open` again, the polecat `stuck`.
    pub const GAVE_UP: &str = "gave_up";
    /// The polecat was removed (`gt polecat remove --force`).
    pub const POLECAT_REMOVED: &str = "polecat_removed";
    /// Its rig was removed (`gt rig remove`).
    pub const RIG_REMOVED: &str = "rig_removed";
}

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub id: i64,
    pub rig: String,
    pub polecat: String,
    pub bead: String,
    /// Name of the tmux session on the town's private socket.
    pub tmux_session: String,
    /// The runtime (agent kind) it runs: `claude`, `codex`, a custom name...
    pub runtime: String,
    pub branch: String,
    /// The default-branch commit the bead's branch was cut from.
    pub base_commit: String,
    pub started_at: String,
    /// When the agent process was seen running.
    pub running_at: Option<String>,
    pub ended_at: Option<String>,
    pub end_reason: Option<String>,
    pub head_commit: Option<String>,
    /// The host whose daemon runs it (`None` for sessions recorded before
    /// towns had hosts).
    pub host: Option<String>,
}

impl Session {
    pub fn agent(&self) -> String {
        format!("{}/{}", self.rig, self.polecat)
    }

    pub fn is_open(&self) -> bool {
        self.ended_at.is_none()
    }
}
