//! [`CostStore`] for PostgreSQL. NOT PORTED YET: every method refuses
//! (`unported`) until it mirrors `gt-store-sqlite/src/costs.rs` (see the
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

impl CostStore for PgStore {
    fn record_usage(
        &self,
        session: i64,
        usage: &Usage,
        source: &str,
        actor: &str,
    ) -> Result<SessionUsage> {
        Err(unported("record_usage"))
    }

    fn session_usage(&self, session: i64) -> Result<Option<SessionUsage>> {
        Err(unported("session_usage"))
    }

    fn set_agent_session_id(&self, session: i64, id: &str, actor: &str) -> Result<()> {
        Err(unported("set_agent_session_id"))
    }

    fn agent_session_id(&self, session: i64) -> Result<Option<String>> {
        Err(unported("agent_session_id"))
    }

    fn costs_by(&self, group: CostGroup, q: &CostQuery) -> Result<Vec<CostRow>> {
        Err(unported("costs_by"))
    }

    fn cost_totals(&self, q: &CostQuery) -> Result<CostTotals> {
        Err(unported("cost_totals"))
    }
}
