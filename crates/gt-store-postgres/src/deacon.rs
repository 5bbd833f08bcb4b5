//! [`DeaconStore`] for PostgreSQL. NOT PORTED YET: every method refuses
//! (`unported`) until it mirrors `gt-store-sqlite/src/deacon.rs` (see the
//! crate docs for the rules of a port).
#![allow(unused_variables, unused_imports)]

use gt_core::bead::*;
use gt_core::error::Result;
use gt_core::event::*;
use gt_core::merge::*;
use gt_core::polecat::*;
use gt_core::rig::*;
use gt_core::session::*;
use gt_store::costs::*;
use gt_store::deacon::*;
use gt_store::mail::*;
use gt_store::merge::*;
use gt_store::observe::*;
use gt_store::*;

use crate::{unported, PgStore};

impl DeaconStore for PgStore {
    fn deacon_state(&self) -> Result<DeaconState> {
        Err(unported("deacon_state"))
    }

    fn deacon_started(&self, pid: Option<u32>) -> Result<()> {
        Err(unported("deacon_started"))
    }

    fn deacon_heartbeat(&self, actions: u64) -> Result<()> {
        Err(unported("deacon_heartbeat"))
    }

    fn set_scheduler_paused(&self, paused: bool, actor: &str) -> Result<()> {
        Err(unported("set_scheduler_paused"))
    }

    fn mark(&self, key: &str) -> Result<Option<DeaconMark>> {
        Err(unported("mark"))
    }

    fn marks(&self, prefix: &str) -> Result<Vec<DeaconMark>> {
        Err(unported("marks"))
    }

    fn record_action(&self, key: &str, event: NewEvent, actor: &str) -> Result<DeaconMark> {
        Err(unported("record_action"))
    }

    fn forget_mark(&self, key: &str) -> Result<bool> {
        Err(unported("forget_mark"))
    }

    fn record_fault(
        &self,
        f: &NewFault<'_>,
        event: NewEvent,
        actor: &str,
    ) -> Result<(Fault, bool)> {
        Err(unported("record_fault"))
    }

    fn clear_fault(&self, subject: &str, step: &str, event: NewEvent, actor: &str) -> Result<bool> {
        Err(unported("clear_fault"))
    }

    fn faults(&self) -> Result<Vec<Fault>> {
        Err(unported("faults"))
    }

    fn gate_started(&self, g: &GateRun) -> Result<()> {
        Err(unported("gate_started"))
    }

    fn gate_finished(
        &self,
        rig: &str,
        pgid: u32,
        event: Option<NewEvent>,
        actor: &str,
    ) -> Result<()> {
        Err(unported("gate_finished"))
    }

    fn gate_runs(&self) -> Result<Vec<GateRun>> {
        Err(unported("gate_runs"))
    }
}
