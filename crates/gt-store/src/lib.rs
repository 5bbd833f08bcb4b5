//! The store seam: one trait per concern, speaking in `gt-core`'s domain
//! types only. Commands and services talk to these traits and never see SQL;
//! `gt-store-sqlite` is the embedded backend, and another backend (e.g.
//! PostgreSQL for multi-machine towns) implements the same traits and passes
//! the conformance suite (`testing` feature, [`store_conformance!`]).
//!
//! Every method that changes state runs as one transaction that also appends
//! its event(s).

pub mod costs;
pub mod deacon;
pub mod dump;
pub mod host;
pub mod mail;
pub mod merge;
pub mod observe;

mod boxed;
#[cfg(feature = "testing")]
pub mod conformance;

use gt_core::bead::{
    Bead, BeadDetails, BeadFilter, BeadPatch, BlockedBead, Comment, DepType, Dependency, NewBead,
    Status,
};
use gt_core::error::Result;
use gt_core::event::{Event, EventQuery, NewEvent};
use gt_core::merge::MergeRequest;
use gt_core::polecat::Polecat;
use gt_core::rig::Rig;
use gt_core::session::Session;

pub use costs::CostStore;
pub use deacon::DeaconStore;
pub use host::HostStore;
pub use mail::MailStore;
pub use merge::MergeStore;
pub use observe::ObserveStore;

pub use gt_core::bead::{BeadRecord, DepTreeNode, ImportCounts, RecordSource};
pub use gt_core::work::*;

pub trait BeadStore {
    /// Creates a bead with a fresh id (and its parent and dependency edges).
    fn create_bead(&self, new: &NewBead, actor: &str) -> Result<Bead>;
    /// Resolves a full or partial id to exactly one bead id.
    fn resolve_bead_id(&self, query: &str) -> Result<String>;
    fn get_bead(&self, id: &str) -> Result<Bead>;
    fn bead_details(&self, id: &str) -> Result<BeadDetails>;
    fn list_beads(&self, filter: &BeadFilter) -> Result<Vec<Bead>>;
    /// [`BeadStore::list_beads`] a bead at a time, in the same order, without
    /// holding them all (`gt bead list --all`); stops at `sink`'s first error.
    fn each_bead(
        &self,
        filter: &BeadFilter,
        sink: &mut dyn FnMut(Bead) -> Result<()>,
    ) -> Result<()>;
    fn update_bead(&self, id: &str, patch: &BeadPatch, actor: &str) -> Result<Bead>;
    /// Atomically assigns an open, unassigned bead to `assignee` and sets it
    /// `in_progress`; fails if someone else holds it.
    fn claim_bead(&self, id: &str, assignee: &str, actor: &str) -> Result<Bead>;
    fn close_bead(&self, id: &str, reason: Option<&str>, actor: &str) -> Result<Bead>;
    fn reopen_bead(&self, id: &str, actor: &str) -> Result<Bead>;
    fn add_comment(&self, id: &str, author: &str, text: &str, actor: &str) -> Result<Comment>;
    /// `bead` depends on `depends_on`. Refuses self-edges, unknown beads and cycles.
    fn add_dependency(
        &self,
        bead: &str,
        depends_on: &str,
        dep_type: DepType,
        actor: &str,
    ) -> Result<Dependency>;
    /// Removes the edge(s); `None` removes every type. Returns how many were removed.
    fn remove_dependency(
        &self,
        bead: &str,
        depends_on: &str,
        dep_type: Option<DepType>,
        actor: &str,
    ) -> Result<usize>;
    /// What `id` depends on, transitively (`up`), or what depends on it (`!up`).
    fn dep_tree(&self, id: &str, up: bool, max_depth: usize) -> Result<DepTreeNode>;
    /// Ready beads: open, no unclosed `blocks` target, no blocked or deferred
    /// ancestor; by priority, then age.
    fn ready_beads(&self, limit: usize) -> Result<Vec<Bead>>;
    /// Beads that are not closed or deferred and are blocked, with what blocks them.
    fn blocked_beads(&self, limit: Option<usize>) -> Result<Vec<BlockedBead>>;
    /// Whether the bead with full id `id` is blocked, as
    /// [`BeadStore::bead_details`] says, without reading the rest of it (the
    /// scheduler asks this of every queued bead). An id no bead has is not
    /// blocked.
    fn is_blocked(&self, id: &str) -> Result<bool>;
    fn count_by_status(&self) -> Result<Vec<(Status, u64)>>;
    /// Upserts records in one transaction (all or nothing).
    fn import_records(
        &self,
        records: &dyn gt_core::bead::RecordSource,
        summary: NewEvent,
        actor: &str,
    ) -> Result<ImportCounts>;
    /// Streams every bead with its edges and comments, ordered by id.
    fn export_records(&self, sink: &mut dyn FnMut(BeadRecord) -> Result<()>) -> Result<()>;
}

pub trait EventStore {
    /// Appends an event on its own (for changes outside the database, such as
    /// a town created or a config key set).
    fn append_event(&self, event: NewEvent, actor: &str) -> Result<Event>;
    fn events(&self, query: &EventQuery) -> Result<Vec<Event>>;
    /// Every event this store handle appends from now on records `source`
    /// (e.g. `dashboard`; `None`: none, the default). Checked like an actor.
    fn set_source(&self, source: Option<&str>) -> Result<()>;
    /// Every event this store handle appends from now on records `host`,
    /// the town host this gt runs on (set when a town of several hosts is
    /// opened; `None`: none, the default).
    fn set_host(&self, host: Option<&str>) -> Result<()>;
}

pub trait RigStore {
    fn add_rig(&self, rig: &Rig, actor: &str) -> Result<()>;
    fn get_rig(&self, name: &str) -> Result<Rig>;
    fn list_rigs(&self) -> Result<Vec<Rig>>;
    /// Removes the rig and its polecats (sessions and merge requests stay as history).
    fn remove_rig(&self, name: &str, actor: &str) -> Result<()>;
    /// Adds an idle polecat.
    fn add_polecat(&self, rig: &str, name: &str, actor: &str) -> Result<Polecat>;
    fn get_polecat(&self, rig: &str, name: &str) -> Result<Polecat>;
    fn list_polecats(&self, rig: Option<&str>) -> Result<Vec<Polecat>>;
    fn remove_polecat(&self, rig: &str, name: &str, actor: &str) -> Result<()>;
    /// Sets (or clears) a rig's default agent runtime.
    fn set_rig_agent(&self, rig: &str, agent: Option<&str>, actor: &str) -> Result<()>;
    /// Sets a polecat's state (e.g. `stuck` when the deacon gives up on it).
    fn set_polecat_state(
        &self,
        rig: &str,
        name: &str,
        state: gt_core::polecat::PolecatState,
        actor: &str,
    ) -> Result<()>;
}

pub trait WorkStore {
    /// Claims the bead for the polecat: bead `hooked`, polecat `working`, a
    /// session recorded. Refuses a closed or merging bead, a bead with another
    /// open session, and a busy polecat.
    fn hook(&self, req: &HookRequest<'_>, actor: &str) -> Result<Session>;
    /// The agent process is running: bead `in_progress`.
    fn mark_running(&self, session: i64, actor: &str) -> Result<()>;
    /// Undoes a hook (start failed, or work given up): session ended with
    /// `reason`, bead back to `open` and unassigned, polecat `idle`.
    fn release(&self, session: i64, reason: &str, note: Option<&str>, actor: &str) -> Result<()>;
    /// [`WorkStore::release`] and, in the same transaction, queues the bead
    /// again with `queue` (status and metadata; no labels) when the release
    /// gave it back: `true` then; `false` when the bead had moved on
    /// (merging or closed) and was left as is.
    fn release_and_queue(
        &self,
        session: i64,
        reason: &str,
        note: Option<&str>,
        queue: &gt_core::bead::BeadPatch,
        actor: &str,
    ) -> Result<bool>;
    /// Undoes a sling that failed, in one transaction with a `sling.failed`
    /// event (see [`SlingUndo`]).
    fn discard_sling(&self, undo: &SlingUndo<'_>, actor: &str) -> Result<()>;
    /// Records that a session ended without `gt done`; bead and polecat keep
    /// their state so the work can be resumed.
    fn end_session(&self, session: i64, reason: &str, actor: &str) -> Result<()>;
    /// `gt done`: merge request (completed), bead state, session end, polecat idle.
    fn finish(&self, req: &DoneRequest<'_>, actor: &str) -> Result<DoneOutcome>;
    fn get_session(&self, id: i64) -> Result<Session>;
    fn list_sessions(&self, filter: &SessionFilter<'_>) -> Result<Vec<Session>>;
    /// The latest session of the polecat, open or ended.
    fn last_session(&self, rig: &str, polecat: &str) -> Result<Option<Session>> {
        Ok(self
            .list_sessions(&SessionFilter {
                rig: Some(rig),
                polecat: Some(polecat),
                limit: Some(1),
                ..Default::default()
            })?
            .pop())
    }
    fn list_merge_requests(&self, rig: Option<&str>) -> Result<Vec<MergeRequest>>;
}

/// Backend upkeep that `gt doctor` reports, in backend-neutral terms.
pub trait StoreMaintenance {
    /// Integrity problems the backend finds (at most `limit`); empty when the
    /// store is sound.
    fn integrity_problems(&self, limit: u32) -> Result<Vec<String>>;
    /// The applied schema version (migrations run).
    fn schema_version(&self) -> Result<i64>;
    /// Where the data lives, for people (a file path, a URL without secrets).
    fn location(&self) -> String;
}

/// Everything a town's store offers. Object safe: callers hold a
/// `&dyn Store` (or `Box<dyn Store + Send>`).
pub trait Store:
    BeadStore
    + EventStore
    + RigStore
    + WorkStore
    + MailStore
    + MergeStore
    + ObserveStore
    + DeaconStore
    + CostStore
    + HostStore
    + StoreMaintenance
{
}
impl<T> Store for T where
    T: BeadStore
        + EventStore
        + RigStore
        + WorkStore
        + MailStore
        + MergeStore
        + ObserveStore
        + DeaconStore
        + CostStore
        + HostStore
        + StoreMaintenance
{
}

#[cfg(test)]
mod tests {
    /// `Store` stays object safe (this fails to compile otherwise).
    #[allow(dead_code)]
    fn object_safe(_: &dyn super::Store, _: Box<dyn super::Store + Send>) {}
}
