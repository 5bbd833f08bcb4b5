//! [`MergeStore`] for PostgreSQL. NOT PORTED YET: every method refuses
//! (`unported`) until it mirrors `gt-store-sqlite/src/merge.rs` (see the
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

use serde_json::{Map, Value};

use crate::{unported, PgStore};

impl MergeStore for PgStore {
    fn rig_config(&self, rig: &str) -> Result<Map<String, Value>> {
        Err(unported("rig_config"))
    }

    fn set_rig_config(
        &self,
        rig: &str,
        key: &str,
        value: Option<Value>,
        actor: &str,
    ) -> Result<Map<String, Value>> {
        Err(unported("set_rig_config"))
    }

    fn merge_entry(&self, id: i64) -> Result<MergeEntry> {
        Err(unported("merge_entry"))
    }

    fn merge_entries(
        &self,
        rig: Option<&str>,
        statuses: &[MergeStatus],
    ) -> Result<Vec<MergeEntry>> {
        Err(unported("merge_entries"))
    }

    fn rigs_with_merge_work(&self) -> Result<Vec<String>> {
        Err(unported("rigs_with_merge_work"))
    }

    fn mark_landing(
        &self,
        landings: &[Landing],
        target_from: &str,
        batch: i64,
        actor: &str,
    ) -> Result<()> {
        Err(unported("mark_landing"))
    }

    fn record_merged(&self, landed: &[Landing], actor: &str) -> Result<Vec<Convoy>> {
        Err(unported("record_merged"))
    }

    fn record_failure(
        &self,
        id: i64,
        kind: FailureKind,
        failure: &str,
        files: &[String],
        note: &str,
        actor: &str,
    ) -> Result<MergeEntry> {
        Err(unported("record_failure"))
    }

    fn requeue(&self, id: i64, reason: &str, actor: &str) -> Result<MergeEntry> {
        Err(unported("requeue"))
    }

    fn remove_merge_request(&self, id: i64, actor: &str) -> Result<MergeEntry> {
        Err(unported("remove_merge_request"))
    }

    fn set_followup_done(&self, id: i64) -> Result<()> {
        Err(unported("set_followup_done"))
    }

    fn next_batch(&self) -> Result<i64> {
        Err(unported("next_batch"))
    }

    fn create_convoy(&self, name: &str, beads: &[String], actor: &str) -> Result<Convoy> {
        Err(unported("create_convoy"))
    }

    fn add_to_convoy(&self, convoy: &str, beads: &[String], actor: &str) -> Result<Convoy> {
        Err(unported("add_to_convoy"))
    }

    fn get_convoy(&self, convoy: &str) -> Result<Convoy> {
        Err(unported("get_convoy"))
    }

    fn list_convoys(&self) -> Result<Vec<Convoy>> {
        Err(unported("list_convoys"))
    }

    fn refresh_convoys(&self, actor: &str) -> Result<Vec<Convoy>> {
        Err(unported("refresh_convoys"))
    }
}
