//! Store seam for the deacon (issue 6): its heartbeat and the log of the
//! actions it took, which also makes "do this once" actions idempotent.

use serde::Serialize;

use crate::error::Result;
use crate::event::NewEvent;

/// The deacon's row: who runs it and when it last patrolled.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DeaconState {
    pub pid: Option<u32>,
    pub started_at: Option<String>,
    pub heartbeat_at: Option<String>,
    pub last_patrol_at: Option<String>,
    pub patrols: u64,
    pub actions: u64,
    /// Dispatch of queued beads is paused (`gt scheduler pause`).
    pub scheduler_paused: bool,
}

/// One remembered action, keyed by what it was about (e.g. `mail-human:r/nux:hq-1`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeaconMark {
    pub key: String,
    pub first_at: String,
    pub last_at: String,
    pub count: u64,
}

pub trait DeaconStore {
    fn deacon_state(&self) -> Result<DeaconState>;
    /// The daemon started (pid) or stopped (`None`).
    fn deacon_started(&self, pid: Option<u32>) -> Result<()>;
    /// Records a finished patrol (heartbeat) and how many actions it took.
    fn deacon_heartbeat(&self, actions: u64) -> Result<()>;
    fn set_scheduler_paused(&self, paused: bool, actor: &str) -> Result<()>;
    fn mark(&self, key: &str) -> Result<Option<DeaconMark>>;
    /// Every mark whose key starts with `prefix`.
    fn marks(&self, prefix: &str) -> Result<Vec<DeaconMark>>;
    /// Records an action: bumps its mark and appends its event, in one
    /// transaction. Returns the mark after the update.
    fn record_action(&self, key: &str, event: NewEvent, actor: &str) -> Result<DeaconMark>;
    /// Forgets the mark `key` (the condition is over). Returns whether it existed.
    fn forget_mark(&self, key: &str) -> Result<bool>;
}
