//! Store seam for issue 7: the merge queue (refinery) and convoys.
//!
//! Every method that changes state is one transaction with its event(s).

use serde_json::{Map, Value};

use gt_core::error::Result;

pub use gt_core::merge::*;

use gt_core::bead::NewBead;

pub trait MergeStore {
    /// The rig's `config` object.
    fn rig_config(&self, rig: &str) -> Result<Map<String, Value>>;
    /// Sets (`Some`) or removes (`None`) one key of the rig's config, with a
    /// `rig.config_set` event. Values are validated by the caller.
    fn set_rig_config(
        &self,
        rig: &str,
        key: &str,
        value: Option<Value>,
        actor: &str,
    ) -> Result<Map<String, Value>>;

    fn merge_entry(&self, id: i64) -> Result<MergeEntry>;
    /// Entries of a rig (or all rigs), optionally of some statuses, by id.
    fn merge_entries(&self, rig: Option<&str>, statuses: &[MergeStatus])
        -> Result<Vec<MergeEntry>>;
    /// The merge requests of one bead (its full id), by id: an indexed
    /// read, never the whole queue.
    fn merge_entries_for_bead(&self, bead: &str) -> Result<Vec<MergeEntry>>;
    /// Rigs with queued, landing or follow-up work.
    fn rigs_with_merge_work(&self) -> Result<Vec<String>>;
    /// Starts a landing: each request `landing` with its commit and the
    /// target tip it starts from, attempts + 1 (`merge.landing` event).
    fn mark_landing(
        &self,
        landings: &[Landing],
        target_from: &str,
        batch: i64,
        actor: &str,
    ) -> Result<()>;
    /// Records verified landings: each request `merged` with the commit that
    /// contains it, its bead closed (reason: merged + commit), follow-up
    /// pending, convoys whose beads are now all closed `landed`. Returns the
    /// convoys that landed.
    fn record_merged(&self, landed: &[Landing], actor: &str) -> Result<Vec<Convoy>>;
    /// A request failed: status `failed` or `conflict` with `failure`, its
    /// bead back to `open` with `note` as a comment, follow-up pending.
    fn record_failure(
        &self,
        id: i64,
        kind: FailureKind,
        failure: &str,
        files: &[String],
        note: &str,
        actor: &str,
    ) -> Result<MergeEntry>;
    /// Back to `queued` (a landing that did not happen, or `gt mq retry`):
    /// the bead goes back to `merging`.
    fn requeue(&self, id: i64, reason: &str, actor: &str) -> Result<MergeEntry>;
    /// `gt mq remove`: status `removed`; a `merging` bead goes back to `open`.
    fn remove_merge_request(&self, id: i64, actor: &str) -> Result<MergeEntry>;
    fn set_followup_done(&self, id: i64) -> Result<()>;
    /// The next batch number.
    fn next_batch(&self) -> Result<i64>;

    fn create_convoy(&self, name: &str, beads: &[String], actor: &str) -> Result<Convoy>;
    /// A molecule of formula `formula` in one transaction: `epic`, then each
    /// of `steps` as a child of it (a dependency target `@N` names step N of
    /// this call, which must come before it), then convoy `convoy` tracking
    /// the steps, and `molecule.created`. Nothing is written if any part is
    /// refused.
    fn create_molecule(
        &self,
        formula: &str,
        epic: &NewBead,
        steps: &[NewBead],
        convoy: &str,
        actor: &str,
    ) -> Result<Molecule>;
    /// Adds beads (full or partial ids) to a convoy (id or name).
    fn add_to_convoy(&self, convoy: &str, beads: &[String], actor: &str) -> Result<Convoy>;
    /// A convoy by id or name.
    fn get_convoy(&self, convoy: &str) -> Result<Convoy>;
    fn list_convoys(&self) -> Result<Vec<Convoy>>;
    /// Marks `landed` every open convoy whose beads are all closed (beads may
    /// be closed by hand); returns those that landed now.
    fn refresh_convoys(&self, actor: &str) -> Result<Vec<Convoy>>;
}
