//! Store seam for issue 7: the merge queue (refinery) and convoys.
//!
//! Every method that changes state is one transaction with its event(s).

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::refinery::MergeRequest;

/// A merge request with the refinery's bookkeeping.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MergeEntry {
    #[serde(flatten)]
    pub mr: MergeRequest,
    /// How many times the refinery has tried to land it.
    pub attempts: i64,
    /// The target tip a landing started from (`landing` only).
    pub target_from: Option<String>,
    /// The commit that carries this request onto the target (rebased head,
    /// merge or squash commit), set when the landing starts.
    pub landing_commit: Option<String>,
    /// The commit on the target that contains it (`merged` only).
    pub merged_commit: Option<String>,
    /// The batch it landed or failed in.
    pub batch: Option<i64>,
    /// Why it failed: the tail of the gate output, or the conflicting files.
    pub failure: Option<String>,
    /// Conflicting files (`conflict` only).
    pub conflict_files: Vec<String>,
    /// Follow-up (branch deletion, re-sling, mail) still to do.
    pub followup_pending: bool,
}

/// One request of a landing: its id and the commit that carries it.
#[derive(Debug, Clone)]
pub struct Landing {
    pub id: i64,
    pub commit: String,
}

/// What a request failed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// A gate failed (status `failed`).
    Gate,
    /// The rebase or merge conflicted (status `conflict`).
    Conflict,
    /// Something else (push rejected...): status `failed`.
    Other,
}

/// A convoy: beads that belong together.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Convoy {
    pub id: i64,
    pub name: String,
    /// `open` or `landed`.
    pub status: String,
    pub created_by: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub landed_at: Option<String>,
    pub beads: Vec<String>,
    /// Tracked beads that are closed.
    pub closed: usize,
    pub total: usize,
}

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
    fn merge_entries(&self, rig: Option<&str>, statuses: &[&str]) -> Result<Vec<MergeEntry>>;
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
    /// Adds beads (full or partial ids) to a convoy (id or name).
    fn add_to_convoy(&self, convoy: &str, beads: &[String], actor: &str) -> Result<Convoy>;
    /// A convoy by id or name.
    fn get_convoy(&self, convoy: &str) -> Result<Convoy>;
    fn list_convoys(&self) -> Result<Vec<Convoy>>;
    /// Marks `landed` every open convoy whose beads are all closed (beads may
    /// be closed by hand); returns those that landed now.
    fn refresh_convoys(&self, actor: &str) -> Result<Vec<Convoy>>;
}

pub fn validate_convoy_name(name: &str) -> Result<()> {
    if name.trim().is_empty()
        || name.len() > 200
        || name.chars().any(char::is_control)
        || name.starts_with('-')
    {
        return Err(Error::invalid(
            "a convoy name is 1-200 characters of text without control characters, not starting with '-'",
        ));
    }
    if name.parse::<i64>().is_ok()
        || name
            .strip_prefix("cv-")
            .is_some_and(|r| r.parse::<i64>().is_ok())
    {
        return Err(Error::invalid(format!(
            "convoy name '{name}' looks like a convoy id; choose a name with letters"
        )));
    }
    Ok(())
}
