//! Store seam for issue 4: mail, the nudge queue, escalations, hand-offs and
//! agent state. Backend-agnostic: domain types only, every state change one
//! transaction with its event.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::session::Session;

/// How urgent a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Urgent,
    High,
    #[default]
    Normal,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Urgent => "urgent",
            Priority::High => "high",
            Priority::Normal => "normal",
        }
    }
}

impl std::str::FromStr for Priority {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "urgent" => Ok(Priority::Urgent),
            "high" => Ok(Priority::High),
            "normal" => Ok(Priority::Normal),
            _ => Err(Error::invalid(format!(
                "unknown priority '{}': use urgent, high or normal",
                s.escape_debug()
            ))),
        }
    }
}

/// A message as one recipient (or its sender) sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mail {
    pub id: i64,
    pub from: String,
    /// Every recipient address (`*` and `rig/*` already expanded).
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
    pub priority: Priority,
    pub sent_at: String,
    /// The message this one answers.
    pub reply_to: Option<i64>,
    /// Id of the first message of the conversation.
    pub thread: i64,
    /// Read by the viewer (also true once archived; true for the sender).
    pub read: bool,
    /// Archived by the viewer.
    pub archived: bool,
}

/// A message to store.
#[derive(Debug, Clone)]
pub struct NewMail<'a> {
    pub from: &'a str,
    /// Concrete recipient addresses, deduplicated.
    pub to: &'a [String],
    pub subject: &'a str,
    pub body: &'a str,
    pub priority: Priority,
    pub reply_to: Option<i64>,
}

/// Which messages of a mailbox to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxFilter {
    /// Unread only.
    Unread,
    /// Unread and read, not archived.
    Current,
    /// Everything, archived included.
    All,
}

/// A nudge waiting for its agent's next idle moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueuedNudge {
    pub id: i64,
    pub agent: String,
    pub from: String,
    pub message: String,
    pub queued_at: String,
}

/// What an agent is doing, and how `gt` learned it: the stored row of
/// `gt agent-report` (not [`crate::problems::AgentState`], the observed state).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentStateRecord {
    pub agent: String,
    /// `working`, `idle` or `waiting-for-input`.
    pub state: String,
    /// `hook` (reported by the runtime's hooks) or `screen` (observed).
    pub source: String,
    pub updated_at: String,
}

/// An escalation: a blocked agent (or human) asking for help.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Escalation {
    pub id: i64,
    /// The escalation bead.
    pub bead: String,
    pub from: String,
    /// `critical`, `high` or `medium`.
    pub severity: String,
    pub message: String,
    /// The caller's hooked bead, if any.
    pub source_bead: Option<String>,
    pub mail: Option<i64>,
    pub created_at: String,
    pub acked_at: Option<String>,
    pub acked_by: Option<String>,
}

/// A hand-off: the open session ends (`handoff`), a new one is recorded on the
/// same polecat, bead and branch, and the note is mailed to the agent itself.
#[derive(Debug, Clone)]
pub struct HandoffRequest<'a> {
    pub session: i64,
    pub note: &'a str,
    pub subject: &'a str,
}

pub trait MailStore {
    /// Stores a message for each recipient (state unread), with one
    /// `mail.sent` event, in one transaction.
    fn send_mail(&self, m: &NewMail<'_>, actor: &str) -> Result<Mail>;
    /// `owner`'s messages, newest first, at most `limit` (`None`: all).
    fn inbox(&self, owner: &str, filter: InboxFilter, limit: Option<usize>) -> Result<Vec<Mail>>;
    /// One message as `viewer` sees it: `NotFound` unless the viewer sent or
    /// received it (`human`, the overseer, sees every message).
    fn get_mail(&self, id: i64, viewer: &str) -> Result<Mail>;
    /// Marks `owner`'s copies read (`mail.read` event when any changed).
    /// Returns how many changed. Unknown ids are `NotFound`, nothing written.
    fn mark_read(&self, ids: &[i64], owner: &str, actor: &str) -> Result<usize>;
    /// Archives `owner`'s copies (`mail.archived`). Unknown ids: `NotFound`.
    fn archive_mail(&self, ids: &[i64], owner: &str, actor: &str) -> Result<usize>;
    /// `owner`'s unread mail and queued nudges, marked read/delivered in one
    /// transaction (for `gt mail check`).
    fn take_unread(&self, owner: &str, actor: &str) -> Result<(Vec<Mail>, Vec<QueuedNudge>)>;
    /// Every message of the conversation `id` belongs to, oldest first.
    fn thread(&self, id: i64, viewer: &str) -> Result<Vec<Mail>>;
    /// Messages sent or received by `owner` whose subject or body contains
    /// `text` (case-insensitive for ASCII), newest first.
    fn search_mail(&self, owner: &str, text: &str, limit: Option<usize>) -> Result<Vec<Mail>>;

    /// Stores a nudge for later (`nudge.queued`).
    fn queue_nudge(
        &self,
        agent: &str,
        from: &str,
        message: &str,
        actor: &str,
    ) -> Result<QueuedNudge>;
    /// Records a delivered nudge (`nudge.delivered`).
    fn record_nudge(&self, agent: &str, from: &str, message: &str, actor: &str) -> Result<()>;
    /// Pending nudges of `agent`, oldest first.
    fn pending_nudges(&self, agent: &str) -> Result<Vec<QueuedNudge>>;
    /// Marks a queued nudge delivered (the delivery itself records its
    /// `nudge.delivered` event). Returns false when it was already delivered.
    fn mark_nudge_delivered(&self, id: i64) -> Result<bool>;

    /// Records what an agent is doing (observational: no event).
    fn set_agent_state(&self, agent: &str, state: &str, source: &str) -> Result<()>;
    fn agent_state(&self, agent: &str) -> Result<Option<AgentStateRecord>>;

    /// Records an escalation of `bead` and its mail, with an `escalation`
    /// event, in one transaction.
    #[allow(clippy::too_many_arguments)]
    fn add_escalation(
        &self,
        bead: &str,
        from: &str,
        severity: &str,
        message: &str,
        source_bead: Option<&str>,
        mail: &NewMail<'_>,
        actor: &str,
    ) -> Result<Escalation>;
    fn list_escalations(&self, open_only: bool) -> Result<Vec<Escalation>>;
    /// Acknowledges an escalation by its id or bead id (`escalation.acked`).
    fn ack_escalation(&self, id_or_bead: &str, actor: &str) -> Result<Escalation>;

    /// See [`HandoffRequest`]. Returns the new session.
    fn handoff(&self, req: &HandoffRequest<'_>, actor: &str) -> Result<Session>;
}
