//! Rules for work: rigs and polecats ([`rig`]), and the sessions that hook a
//! bead to a polecat, run it, release it and finish it ([`session`]).
//!
//! Every function is re-exported here: backends call `rules::work::hook`.

pub mod rig;
pub mod session;

pub use rig::*;
pub use session::*;

use crate::polecat::PolecatState;

/// A polecat row to write: its new state, the bead it now holds (`None`:
/// none) and, when `Some`, its new branch (`None` keeps the old one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolecatChange {
    pub rig: String,
    pub name: String,
    pub state: PolecatState,
    pub bead: Option<String>,
    pub branch: Option<String>,
}

impl PolecatChange {
    /// Polecat `rig/name` idle, holding nothing, its branch kept.
    pub fn idle(rig: &str, name: &str) -> Self {
        PolecatChange {
            rig: rig.to_string(),
            name: name.to_string(),
            state: PolecatState::Idle,
            bead: None,
            branch: None,
        }
    }
}

/// Rows for the work rules' unit tests.
#[cfg(test)]
pub(crate) mod fixtures {
    use crate::polecat::{Polecat, PolecatState};
    use crate::rig::Rig;
    use crate::rules::fixtures::T0;
    use crate::session::Session;

    /// Rig `name` (prefix `name`), from `/repos/{name}` on `main`.
    pub fn rig(name: &str) -> Rig {
        Rig {
            name: name.to_string(),
            source: format!("/repos/{name}"),
            branch: "main".to_string(),
            prefix: name.to_string(),
            agent: None,
            created_at: T0.to_string(),
        }
    }

    /// Polecat `rig/name`, idle, holding nothing.
    pub fn polecat(rig: &str, name: &str) -> Polecat {
        Polecat {
            rig: rig.to_string(),
            name: name.to_string(),
            state: PolecatState::Idle,
            bead: None,
            branch: None,
            created_at: T0.to_string(),
            updated_at: T0.to_string(),
        }
    }

    /// Open session `id` of `rig/polecat` on `bead`.
    pub fn session(id: i64, rig: &str, polecat: &str, bead: &str) -> Session {
        Session {
            id,
            rig: rig.to_string(),
            polecat: polecat.to_string(),
            bead: bead.to_string(),
            tmux_session: format!("gt-{rig}-{polecat}"),
            runtime: "claude".to_string(),
            branch: format!("polecat/{polecat}/{bead}"),
            base_commit: "aaaa".to_string(),
            started_at: T0.to_string(),
            running_at: None,
            ended_at: None,
            end_reason: None,
            head_commit: None,
            host: None,
        }
    }
}
