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

/// Something the deacon or the refinery could not do for one agent, one rig
/// or the whole town (one step of a patrol), kept until that step works again
/// for it. Shown as a problem by `gt status` and `gt agents`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fault {
    /// `agent`, `rig` or `town`.
    pub scope: String,
    /// `rig/polecat`, the rig's name, or `town`.
    pub subject: String,
    pub rig: Option<String>,
    pub polecat: Option<String>,
    /// The patrol step (`save_work`, `restart`, `refinery`, ...).
    pub step: String,
    /// The error, one line.
    pub error: String,
    pub first_at: String,
    pub last_at: String,
    /// Patrols in a row that failed this way.
    pub count: u64,
}

/// A fault to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewFault<'a> {
    pub scope: &'a str,
    pub subject: &'a str,
    pub rig: Option<&'a str>,
    pub polecat: Option<&'a str>,
    pub step: &'a str,
    pub error: &'a str,
}

/// A gate process group the refinery started and has not yet seen end.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateRun {
    pub rig: String,
    /// The process group (= the gate's pid, its leader).
    pub pgid: u32,
    /// The leader's start time (clock ticks since boot, `/proc/PID/stat`), to
    /// tell it from a later process that got the same pid.
    pub start_ticks: Option<u64>,
    pub gate: String,
    pub command: String,
    pub started_at: String,
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
    /// Records (or bumps) a fault. `event` is appended, in the same
    /// transaction, only when the fault is new or its error changed. Returns
    /// the fault and whether the event was appended.
    fn record_fault(&self, f: &NewFault<'_>, event: NewEvent, actor: &str)
        -> Result<(Fault, bool)>;
    /// Forgets the fault of `subject` in `step`, appending `event` with it
    /// when there was one. Returns whether there was one.
    fn clear_fault(&self, subject: &str, step: &str, event: NewEvent, actor: &str) -> Result<bool>;
    /// Every fault, oldest first.
    fn faults(&self) -> Result<Vec<Fault>>;
    /// Records the gate process group the refinery of `g.rig` just started.
    fn gate_started(&self, g: &GateRun) -> Result<()>;
    /// The gate group of `rig` is over (ended or killed); `event`, when
    /// given, is appended in the same transaction.
    fn gate_finished(
        &self,
        rig: &str,
        pgid: u32,
        event: Option<NewEvent>,
        actor: &str,
    ) -> Result<()>;
    /// Gate groups recorded as running.
    fn gate_runs(&self) -> Result<Vec<GateRun>>;
}
