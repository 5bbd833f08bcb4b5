//! Store seam for the deacon (issue 6): its heartbeat and the log of the
//! actions it took, which also makes "do this once" actions idempotent.

use gt_core::error::Result;
use gt_core::event::NewEvent;

pub use gt_core::deacon::*;

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
