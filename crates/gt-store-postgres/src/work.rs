//! [`RigStore`, `WorkStore`] for PostgreSQL. NOT PORTED YET: every method refuses
//! (`unported`) until it mirrors `gt-store-sqlite/src/work.rs` (see the
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

impl RigStore for PgStore {
    fn add_rig(&self, rig: &Rig, actor: &str) -> Result<()> {
        Err(unported("add_rig"))
    }

    fn get_rig(&self, name: &str) -> Result<Rig> {
        Err(unported("get_rig"))
    }

    fn list_rigs(&self) -> Result<Vec<Rig>> {
        Err(unported("list_rigs"))
    }

    fn remove_rig(&self, name: &str, actor: &str) -> Result<()> {
        Err(unported("remove_rig"))
    }

    fn add_polecat(&self, rig: &str, name: &str, actor: &str) -> Result<Polecat> {
        Err(unported("add_polecat"))
    }

    fn get_polecat(&self, rig: &str, name: &str) -> Result<Polecat> {
        Err(unported("get_polecat"))
    }

    fn list_polecats(&self, rig: Option<&str>) -> Result<Vec<Polecat>> {
        Err(unported("list_polecats"))
    }

    fn remove_polecat(&self, rig: &str, name: &str, actor: &str) -> Result<()> {
        Err(unported("remove_polecat"))
    }

    fn set_rig_agent(&self, rig: &str, agent: Option<&str>, actor: &str) -> Result<()> {
        Err(unported("set_rig_agent"))
    }

    fn set_polecat_state(
        &self,
        rig: &str,
        name: &str,
        state: gt_core::polecat::PolecatState,
        actor: &str,
    ) -> Result<()> {
        Err(unported("set_polecat_state"))
    }
}

impl WorkStore for PgStore {
    fn hook(&self, req: &HookRequest<'_>, actor: &str) -> Result<Session> {
        Err(unported("hook"))
    }

    fn mark_running(&self, session: i64, actor: &str) -> Result<()> {
        Err(unported("mark_running"))
    }

    fn release(&self, session: i64, reason: &str, note: Option<&str>, actor: &str) -> Result<()> {
        Err(unported("release"))
    }

    fn discard_sling(&self, undo: &SlingUndo<'_>, actor: &str) -> Result<()> {
        Err(unported("discard_sling"))
    }

    fn end_session(&self, session: i64, reason: &str, actor: &str) -> Result<()> {
        Err(unported("end_session"))
    }

    fn finish(&self, req: &DoneRequest<'_>, actor: &str) -> Result<DoneOutcome> {
        Err(unported("finish"))
    }

    fn get_session(&self, id: i64) -> Result<Session> {
        Err(unported("get_session"))
    }

    fn list_sessions(&self, filter: &SessionFilter<'_>) -> Result<Vec<Session>> {
        Err(unported("list_sessions"))
    }

    fn list_merge_requests(&self, rig: Option<&str>) -> Result<Vec<MergeRequest>> {
        Err(unported("list_merge_requests"))
    }
}
