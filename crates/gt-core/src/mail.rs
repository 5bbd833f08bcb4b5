//! Mail records the store traits read and write (no I/O).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

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

/// How bad an escalation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Critical,
    High,
    Medium,
}

impl Severity {
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl std::str::FromStr for Severity {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "critical" => Ok(Severity::Critical),
            "high" => Ok(Severity::High),
            "medium" => Ok(Severity::Medium),
            _ => Err(Error::invalid(format!(
                "unknown severity '{}': use critical, high or medium",
                s.escape_debug()
            ))),
        }
    }
}

/// An escalation: a blocked agent (or human) asking for help.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Escalation {
    pub id: i64,
    /// The escalation bead.
    pub bead: String,
    pub from: String,
    pub severity: Severity,
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
