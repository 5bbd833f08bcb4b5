//! [`BeadStore`] for PostgreSQL. NOT PORTED YET: every method refuses
//! (`unported`) until it mirrors `gt-store-sqlite/src/beads.rs` (see the
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

impl BeadStore for PgStore {
    fn create_bead(&self, new: &NewBead, actor: &str) -> Result<Bead> {
        Err(unported("create_bead"))
    }

    fn resolve_bead_id(&self, query: &str) -> Result<String> {
        Err(unported("resolve_bead_id"))
    }

    fn get_bead(&self, id: &str) -> Result<Bead> {
        Err(unported("get_bead"))
    }

    fn bead_details(&self, id: &str) -> Result<BeadDetails> {
        Err(unported("bead_details"))
    }

    fn list_beads(&self, filter: &BeadFilter) -> Result<Vec<Bead>> {
        Err(unported("list_beads"))
    }

    fn update_bead(&self, id: &str, patch: &BeadPatch, actor: &str) -> Result<Bead> {
        Err(unported("update_bead"))
    }

    fn claim_bead(&self, id: &str, assignee: &str, actor: &str) -> Result<Bead> {
        Err(unported("claim_bead"))
    }

    fn close_bead(&self, id: &str, reason: Option<&str>, actor: &str) -> Result<Bead> {
        Err(unported("close_bead"))
    }

    fn reopen_bead(&self, id: &str, actor: &str) -> Result<Bead> {
        Err(unported("reopen_bead"))
    }

    fn add_comment(&self, id: &str, author: &str, text: &str, actor: &str) -> Result<Comment> {
        Err(unported("add_comment"))
    }

    fn add_dependency(
        &self,
        bead: &str,
        depends_on: &str,
        dep_type: DepType,
        actor: &str,
    ) -> Result<Dependency> {
        Err(unported("add_dependency"))
    }

    fn remove_dependency(
        &self,
        bead: &str,
        depends_on: &str,
        dep_type: Option<DepType>,
        actor: &str,
    ) -> Result<usize> {
        Err(unported("remove_dependency"))
    }

    fn dep_tree(&self, id: &str, up: bool, max_depth: usize) -> Result<DepTreeNode> {
        Err(unported("dep_tree"))
    }

    fn ready_beads(&self, limit: usize) -> Result<Vec<Bead>> {
        Err(unported("ready_beads"))
    }

    fn blocked_beads(&self, limit: Option<usize>) -> Result<Vec<BlockedBead>> {
        Err(unported("blocked_beads"))
    }

    fn count_by_status(&self) -> Result<Vec<(Status, u64)>> {
        Err(unported("count_by_status"))
    }

    fn import_records(
        &self,
        records: &[BeadRecord],
        summary: NewEvent,
        actor: &str,
    ) -> Result<ImportCounts> {
        Err(unported("import_records"))
    }

    fn export_records(&self, sink: &mut dyn FnMut(BeadRecord) -> Result<()>) -> Result<()> {
        Err(unported("export_records"))
    }
}
