//! Escalations (a blocked agent or human asks for help) and hand-offs (an
//! agent asks for a fresh session on the same bead).

use std::path::Path;

use serde::Serialize;

use crate::bead::{BeadType, DepType, NewBead};
use crate::error::{Error, Result};
use crate::mail::{parse, Address, Priority};
use crate::session::Session;
use crate::store::mail::{HandoffRequest, MailStore, NewMail};
use crate::store::{BeadStore, RigStore, SessionFilter, WorkStore};
use crate::workspace::Workspace;

pub use crate::store::mail::Escalation;

/// Stable event kinds.
pub mod kind {
    pub const ESCALATION: &str = crate::event::EventKind::Escalation.as_str();
    pub const ACKED: &str = crate::event::EventKind::EscalationAcked.as_str();
    pub const HANDOFF: &str = crate::event::EventKind::Handoff.as_str();
}

pub use gt_core::mail::Severity;

/// Bead priority and mail priority of an escalation of `severity`.
fn priorities(severity: Severity) -> (u8, Priority) {
    match severity {
        Severity::Critical => (0, Priority::Urgent),
        Severity::High => (1, Priority::High),
        Severity::Medium => (2, Priority::Normal),
    }
}

/// The bead a polecat address holds, if any.
fn hooked_bead(ws: &Workspace, from: &str) -> Result<Option<String>> {
    match parse(from)? {
        Address::Polecat { rig, name } => Ok(ws.store.get_polecat(&rig, &name)?.bead),
        _ => Ok(None),
    }
}

/// `gt escalate`: an escalation bead (type `task`, label `escalation`, priority
/// from the severity, `related` to the caller's hooked bead), then in one
/// transaction the mail to `mayor` and `human`, the escalation record and the
/// `escalation` event.
pub fn escalate(
    ws: &Workspace,
    from: &str,
    severity: Severity,
    message: &str,
    actor: &str,
) -> Result<Escalation> {
    if message.trim().is_empty() {
        return Err(Error::invalid("say what blocks you: the message is empty"));
    }
    let first_line: String = message
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(150)
        .collect();
    let subject = format!(
        "ESCALATION ({}) from {from}: {first_line}",
        severity.as_str()
    );
    crate::mail::validate(&subject, message)?;
    crate::bead::validate_description(message)?;
    let source = hooked_bead(ws, from)?;
    let (bead_priority, mail_priority) = priorities(severity);
    let mut nb = NewBead::new(format!("Escalation from {from}: {first_line}"));
    nb.title = nb.title.chars().take(200).collect();
    nb.description = message.to_string();
    nb.priority = Some(bead_priority);
    nb.bead_type = Some(BeadType::Task);
    nb.labels = vec![
        "escalation".into(),
        format!("severity:{}", severity.as_str()),
    ];
    if let Some(b) = &source {
        nb.deps.push((DepType::Related, b.clone()));
    }
    nb.metadata.insert(
        "escalation".into(),
        serde_json::json!({ "from": from, "severity": severity.as_str(), "bead": source }),
    );
    let bead = ws.store.create_bead(&nb, actor)?;
    let to = vec!["mayor".to_string(), "human".to_string()];
    let mut body = message.to_string();
    body.push_str(&format!(
        "\n\n(escalation bead {}{}; acknowledge with gt escalate ack {})",
        bead.id,
        source
            .as_deref()
            .map(|b| format!(", about {b}"))
            .unwrap_or_default(),
        bead.id
    ));
    let mail = NewMail {
        from,
        to: &to,
        subject: &subject,
        body: &body,
        priority: mail_priority,
        reply_to: None,
    };
    let e = ws.store.add_escalation(
        &bead.id,
        from,
        severity,
        message,
        source.as_deref(),
        &mail,
        actor,
    )?;
    if let Some(src) = &source {
        if let Some(w) = crate::formula::held(ws, src, &format!("escalated ({})", e.bead), actor) {
            tracing::warn!("{w}");
        }
    }
    Ok(e)
}

pub fn list(ws: &Workspace, all: bool) -> Result<Vec<Escalation>> {
    ws.store.list_escalations(!all)
}

pub fn ack(ws: &Workspace, id: &str, actor: &str) -> Result<Escalation> {
    ws.store.ack_escalation(id, actor)
}

/// What `gt handoff` did.
#[derive(Debug, Clone, Serialize)]
pub struct Handoff {
    pub agent: String,
    pub bead: String,
    pub old_session: i64,
    pub session: Session,
    pub restarted: bool,
}

/// `gt handoff`: the caller's note is mailed to itself (so the next session's
/// `gt prime` shows it), the session record is replaced, and tmux restarts
/// the agent in the same pane and worktree (`respawn-pane -k`, done by the
/// tmux server, because this process runs inside the pane it replaces).
pub fn handoff(ws: &Workspace, cwd: &Path, note: Option<&str>, actor: &str) -> Result<Handoff> {
    let note = note.unwrap_or("(no note)");
    crate::mail::validate("handoff", note)?;
    let p = crate::sling::caller(ws, cwd)?;
    let agent = p.address();
    let old = ws
        .store
        .list_sessions(&SessionFilter {
            open_only: true,
            rig: Some(&p.rig),
            polecat: Some(&p.name),
            limit: Some(1),
            ..Default::default()
        })?
        .pop()
        .ok_or_else(|| Error::refused(format!("{agent} has no open session to hand off")))?;
    let bead = ws.store.get_bead(&old.bead)?;
    let runtime = ws.town.config.runtime(&old.runtime)?;
    if !ws.host.tmux.has_session(&old.tmux_session)? {
        return Err(Error::refused(format!(
            "{agent} has no tmux session to restart; use gt resume {}",
            old.bead
        )));
    }
    let session = ws.store.handoff(
        &HandoffRequest {
            session: old.id,
            note,
            subject: &format!("handoff note for {}", old.bead),
        },
        actor,
    )?;
    let wt = ws.worktree(&p.rig, &p.name);
    let argv = crate::sling::agent_argv(ws, &session, &bead, &runtime, false)?;
    let env = crate::sling::session_env(
        ws,
        &runtime,
        &session.rig,
        &session.polecat,
        &session.bead,
        &session.branch,
        session.id,
    );
    ws.host
        .tmux
        .respawn_pane(&session.tmux_session, &wt, &env, &argv)?;
    Ok(Handoff {
        agent,
        bead: bead.id,
        old_session: old.id,
        session,
        restarted: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escalate_severity_parses() {
        assert_eq!("critical".parse::<Severity>().unwrap(), Severity::Critical);
        assert_eq!("medium".parse::<Severity>().unwrap().as_str(), "medium");
        assert!("low".parse::<Severity>().is_err());
    }
}
