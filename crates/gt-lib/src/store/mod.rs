//! The store seam. Commands and domain logic talk to these traits and never see
//! SQL; [`sqlite::SqliteStore`] is the embedded backend, and a PostgreSQL
//! backend for multi-machine towns can implement the same traits.
//!
//! Every method that changes state runs as one transaction that also appends
//! its event(s).

pub mod sqlite;

use crate::bead::{
    Bead, BeadDetails, BeadFilter, BeadPatch, BlockedBead, Comment, DepType, Dependency, NewBead,
    Status,
};
use crate::error::Result;
use crate::event::{Event, EventQuery, NewEvent};

pub use sqlite::SqliteStore;

/// One bead as carried by an import or export (ids and times kept).
#[derive(Debug, Clone)]
pub struct BeadRecord {
    pub bead: Bead,
    pub dependencies: Vec<Dependency>,
    pub comments: Vec<Comment>,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportCounts {
    pub created: usize,
    pub updated: usize,
    pub dependencies: usize,
    /// Dependencies whose target is neither in the file nor in the ledger.
    pub dangling_dependencies: usize,
    pub comments: usize,
}

/// A node of `gt bead dep tree`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DepTreeNode {
    pub id: String,
    pub title: String,
    pub status: Status,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub dep_type: Option<DepType>,
    /// Set when this node was already shown higher in the tree.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub repeated: bool,
    pub children: Vec<DepTreeNode>,
}

pub trait BeadStore {
    /// Creates a bead with a fresh id (and its parent and dependency edges).
    fn create_bead(&self, new: &NewBead, actor: &str) -> Result<Bead>;
    /// Resolves a full or partial id to exactly one bead id.
    fn resolve_bead_id(&self, query: &str) -> Result<String>;
    fn get_bead(&self, id: &str) -> Result<Bead>;
    fn bead_details(&self, id: &str) -> Result<BeadDetails>;
    fn list_beads(&self, filter: &BeadFilter) -> Result<Vec<Bead>>;
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
    fn count_by_status(&self) -> Result<Vec<(Status, u64)>>;
    /// Upserts records in one transaction (all or nothing).
    fn import_records(
        &self,
        records: &[BeadRecord],
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
}

/// Everything a town's store offers.
pub trait Store: BeadStore + EventStore {}
impl<T: BeadStore + EventStore> Store for T {}
