//! Deacon records the store traits read and write (no I/O).

use serde::Serialize;

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
