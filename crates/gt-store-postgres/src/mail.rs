//! [`MailStore`] for PostgreSQL. NOT PORTED YET: every method refuses
//! (`unported`) until it mirrors `gt-store-sqlite/src/mail.rs` (see the
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

impl MailStore for PgStore {
    fn send_mail(&self, m: &NewMail<'_>, actor: &str) -> Result<Mail> {
        Err(unported("send_mail"))
    }

    fn inbox(&self, owner: &str, filter: InboxFilter, limit: Option<usize>) -> Result<Vec<Mail>> {
        Err(unported("inbox"))
    }

    fn get_mail(&self, id: i64, viewer: &str) -> Result<Mail> {
        Err(unported("get_mail"))
    }

    fn mark_read(&self, ids: &[i64], owner: &str, actor: &str) -> Result<usize> {
        Err(unported("mark_read"))
    }

    fn archive_mail(&self, ids: &[i64], owner: &str, actor: &str) -> Result<usize> {
        Err(unported("archive_mail"))
    }

    fn take_unread(&self, owner: &str, actor: &str) -> Result<(Vec<Mail>, Vec<QueuedNudge>)> {
        Err(unported("take_unread"))
    }

    fn thread(&self, id: i64, viewer: &str) -> Result<Vec<Mail>> {
        Err(unported("thread"))
    }

    fn search_mail(&self, owner: &str, text: &str, limit: Option<usize>) -> Result<Vec<Mail>> {
        Err(unported("search_mail"))
    }

    fn queue_nudge(
        &self,
        agent: &str,
        from: &str,
        message: &str,
        actor: &str,
    ) -> Result<QueuedNudge> {
        Err(unported("queue_nudge"))
    }

    fn record_nudge(&self, agent: &str, from: &str, message: &str, actor: &str) -> Result<()> {
        Err(unported("record_nudge"))
    }

    fn pending_nudges(&self, agent: &str) -> Result<Vec<QueuedNudge>> {
        Err(unported("pending_nudges"))
    }

    fn mark_nudge_delivered(&self, id: i64) -> Result<bool> {
        Err(unported("mark_nudge_delivered"))
    }

    fn set_agent_state(&self, agent: &str, state: &str, source: &str) -> Result<()> {
        Err(unported("set_agent_state"))
    }

    fn agent_state(&self, agent: &str) -> Result<Option<AgentStateRecord>> {
        Err(unported("agent_state"))
    }

    fn add_escalation(
        &self,
        bead: &str,
        from: &str,
        severity: gt_core::mail::Severity,
        message: &str,
        source_bead: Option<&str>,
        mail: &NewMail<'_>,
        actor: &str,
    ) -> Result<Escalation> {
        Err(unported("add_escalation"))
    }

    fn list_escalations(&self, open_only: bool) -> Result<Vec<Escalation>> {
        Err(unported("list_escalations"))
    }

    fn ack_escalation(&self, id_or_bead: &str, actor: &str) -> Result<Escalation> {
        Err(unported("ack_escalation"))
    }

    fn handoff(&self, req: &HandoffRequest<'_>, actor: &str) -> Result<Session> {
        Err(unported("handoff"))
    }
}
