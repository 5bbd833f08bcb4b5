//! Store seam for issue 4: mail, the nudge queue, escalations, hand-offs and
//! agent state. Backend-agnostic: domain types only, every state change one
//! transaction with its event.

use gt_core::error::Result;
use gt_core::session::Session;

pub use gt_core::mail::*;

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
        severity: gt_core::mail::Severity,
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
