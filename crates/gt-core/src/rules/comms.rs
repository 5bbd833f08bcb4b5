//! Rules for comms: mail, the mailbox states, nudges, escalations and
//! hand-offs.

use serde_json::json;

use crate::error::{Error, Result};
use crate::event::{kind, EventKind, NewEvent};
use crate::mail::{Escalation, HandoffRequest, NewMail, Priority, QueuedNudge};
use crate::session::{end_reason, Session};

/// A short one-line version of user text for event summaries: control
/// characters become spaces, at most `max` chars, `…` when cut.
pub fn one_line(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect();
    if s.chars().count() > max {
        out.push('…');
    }
    out
}

/// A message may be stored: it has at least one recipient.
pub fn check_mail(m: &NewMail<'_>) -> Result<()> {
    if m.to.is_empty() {
        return Err(Error::invalid("mail needs at least one recipient"));
    }
    Ok(())
}

/// The `mail.sent` event of message `id` (stored in conversation `thread`).
pub fn mail_sent(m: &NewMail<'_>, id: i64, thread: i64) -> NewEvent {
    NewEvent::new(
        EventKind::MailSent.as_str(),
        format!(
            "mail {id} from {} to {}: {}",
            m.from,
            m.to.join(", "),
            one_line(m.subject, 80)
        ),
    )
    .payload(json!({
        "id": id, "from": m.from, "to": m.to, "priority": m.priority.as_str(),
        "reply_to": m.reply_to, "thread": thread,
    }))
}

/// A move of mailbox copies: only forward, unread → read → archived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailboxMove {
    /// To `read` (from `unread`).
    Read,
    /// To `archived` (from `unread` or `read`).
    Archive,
}

impl MailboxMove {
    /// The mailbox state it moves to, as stored.
    pub const fn state(self) -> &'static str {
        match self {
            MailboxMove::Read => "read",
            MailboxMove::Archive => "archived",
        }
    }

    /// Whether a copy in stored state `current` moves (else it stays).
    pub fn moves(self, current: &str) -> bool {
        match self {
            MailboxMove::Read => current == "unread",
            MailboxMove::Archive => current != "archived",
        }
    }

    /// The one event naming the copies of `owner` that moved (`changed`);
    /// none moved, no event.
    pub fn event(self, owner: &str, changed: &[i64]) -> Option<NewEvent> {
        if changed.is_empty() {
            return None;
        }
        let kind = match self {
            MailboxMove::Read => EventKind::MailRead,
            MailboxMove::Archive => EventKind::MailArchived,
        };
        Some(
            NewEvent::new(
                kind.as_str(),
                format!("{owner} {} mail {changed:?}", self.state()),
            )
            .payload(json!({ "owner": owner, "ids": changed })),
        )
    }
}

/// `gt mail check` gave `owner` its unread mail `ids` (read now); none, no
/// event.
pub fn mail_given(owner: &str, ids: &[i64]) -> Option<NewEvent> {
    if ids.is_empty() {
        return None;
    }
    Some(
        NewEvent::new(
            EventKind::MailRead.as_str(),
            format!("{owner} was given mail {ids:?}"),
        )
        .payload(json!({ "owner": owner, "ids": ids, "via": "check" })),
    )
}

/// `gt mail check` gave `owner` its queued nudge `n` (delivered now).
pub fn queued_nudge_given(owner: &str, n: &QueuedNudge) -> NewEvent {
    NewEvent::new(
        EventKind::NudgeDelivered.as_str(),
        format!("queued nudge {} from {} given to {owner}", n.id, n.from),
    )
    .payload(json!({ "agent": owner, "from": n.from, "queued": n.id,
                     "via": "check", "bytes": n.message.len() }))
}

/// The `nudge.queued` event of the nudge just stored.
pub fn nudge_queued(n: &QueuedNudge) -> NewEvent {
    NewEvent::new(
        EventKind::NudgeQueued.as_str(),
        format!("nudge {} for {} queued by {}", n.id, n.agent, n.from),
    )
    .payload(json!({ "id": n.id, "agent": n.agent, "from": n.from,
                     "bytes": n.message.len() }))
}

/// The `nudge.delivered` event of a nudge typed into `agent`'s session.
pub fn nudge_delivered(agent: &str, from: &str, message: &str) -> NewEvent {
    NewEvent::new(
        EventKind::NudgeDelivered.as_str(),
        format!("{from} nudged {agent}"),
    )
    .payload(json!({ "agent": agent, "from": from, "bytes": message.len() }))
}

/// The `escalation` event of the escalation just stored (with its mail).
/// An agent's (`rig/name`) is its rig's.
pub fn escalated(e: &Escalation) -> NewEvent {
    let mut ev = NewEvent::new(
        EventKind::Escalation.as_str(),
        format!(
            "{} escalated ({}): {}",
            e.from,
            e.severity,
            one_line(&e.message, 80)
        ),
    )
    .bead(&e.bead)
    .payload(json!({ "id": e.id, "from": e.from, "severity": e.severity,
                     "source_bead": e.source_bead, "mail": e.mail }));
    if let Some((rig, _)) = e.from.split_once('/') {
        ev = ev.rig(rig);
    }
    ev
}

/// `gt escalate ack`: an open escalation becomes acknowledged by `actor`.
pub fn ack_escalation(e: &mut Escalation, actor: &str, now: &str) -> Result<NewEvent> {
    if e.acked_at.is_some() {
        return Err(Error::refused(format!(
            "escalation {} was already acknowledged by {}",
            e.id,
            e.acked_by.as_deref().unwrap_or("?")
        )));
    }
    e.acked_at = Some(now.to_string());
    e.acked_by = Some(actor.to_string());
    Ok(NewEvent::new(
        EventKind::EscalationAcked.as_str(),
        format!("escalation {} from {} acknowledged", e.id, e.from),
    )
    .bead(&e.bead)
    .payload(json!({ "id": e.id })))
}

/// `gt handoff`, first half: the open session `old` ends (`handoff`).
/// Returns its `session.ended` event; the backend then records the new
/// session, mails [`handoff_mail`] and appends [`handed_off`].
pub fn end_for_handoff(old: &mut Session, now: &str) -> Result<NewEvent> {
    if !old.is_open() {
        return Err(Error::refused(format!(
            "session {} of {} has already ended",
            old.id,
            old.agent()
        )));
    }
    old.ended_at = Some(now.to_string());
    old.end_reason = Some(end_reason::HANDOFF.to_string());
    let agent = old.agent();
    Ok(NewEvent::new(
        kind::SESSION_ENDED,
        format!("session of {agent} on {} ended: handoff", old.bead),
    )
    .rig(&old.rig)
    .bead(&old.bead)
    .payload(json!({ "session": old.id, "reason": end_reason::HANDOFF,
                     "agent": agent })))
}

/// The hand-off note: mailed by the agent to itself (`to` is `[agent]`),
/// high priority.
pub fn handoff_mail<'a>(to: &'a [String; 1], req: &HandoffRequest<'a>) -> NewMail<'a> {
    NewMail {
        from: &to[0],
        to,
        subject: req.subject,
        body: req.note,
        priority: Priority::High,
        reply_to: None,
    }
}

/// The `handoff` event: `old` replaced by session `new_id`, note in `mail`.
pub fn handed_off(old: &Session, new_id: i64, mail: i64) -> NewEvent {
    let agent = old.agent();
    NewEvent::new(
        EventKind::Handoff.as_str(),
        format!("{agent} handed off to a fresh session"),
    )
    .rig(&old.rig)
    .bead(&old.bead)
    .payload(json!({ "agent": agent, "old_session": old.id,
                     "session": new_id, "mail": mail }))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::rules::fixtures::{assert_event, T0};

    fn session() -> Session {
        Session {
            id: 7,
            rig: "app".into(),
            polecat: "nux".into(),
            bead: "gt-1".into(),
            tmux_session: "gt-app-nux".into(),
            runtime: "claude".into(),
            branch: "polecat/nux/gt-1".into(),
            base_commit: "aaaa".into(),
            started_at: T0.into(),
            running_at: Some(T0.into()),
            ended_at: None,
            end_reason: None,
            head_commit: None,
            host: None,
        }
    }

    fn escalation() -> Escalation {
        Escalation {
            id: 3,
            bead: "gt-9".into(),
            from: "app/nux".into(),
            severity: crate::mail::Severity::High,
            message: "stuck\non auth".into(),
            source_bead: Some("gt-1".into()),
            mail: Some(12),
            created_at: T0.into(),
            acked_at: None,
            acked_by: None,
        }
    }

    fn nudge() -> QueuedNudge {
        QueuedNudge {
            id: 4,
            agent: "app/nux".into(),
            from: "human".into(),
            message: "wake up".into(),
            queued_at: T0.into(),
        }
    }

    #[test]
    fn one_line_flattens_and_cuts() {
        assert_eq!(one_line("a\nb", 80), "a b");
        assert_eq!(one_line("abcdef", 3), "abc…");
        assert_eq!(one_line("abc", 3), "abc");
    }

    #[test]
    fn mail_needs_a_recipient_and_its_event_names_all() {
        let to = vec!["app/nux".to_string(), "app/max".to_string()];
        let mut m = NewMail {
            from: "human",
            to: &[],
            subject: "hello\nthere",
            body: "b",
            priority: Priority::Urgent,
            reply_to: None,
        };
        let err = check_mail(&m).unwrap_err();
        assert_eq!(err.to_string(), "mail needs at least one recipient");
        assert!(matches!(err, Error::Invalid(_)));
        m.to = &to;
        check_mail(&m).unwrap();
        m.reply_to = Some(5);
        let ev = mail_sent(&m, 9, 5);
        assert_eq!(ev.kind, "mail.sent");
        assert_eq!(
            ev.summary,
            "mail 9 from human to app/nux, app/max: hello there"
        );
        assert_eq!(
            ev.payload,
            json!({ "id": 9, "from": "human", "to": to, "priority": "urgent",
                    "reply_to": 5, "thread": 5 })
        );
        assert_eq!((ev.rig, ev.bead), (None, None));
    }

    #[test]
    fn mailbox_moves_only_forward_with_one_event() {
        assert!(MailboxMove::Read.moves("unread"));
        assert!(!MailboxMove::Read.moves("read"));
        assert!(!MailboxMove::Read.moves("archived"));
        assert!(MailboxMove::Archive.moves("unread"));
        assert!(MailboxMove::Archive.moves("read"));
        assert!(!MailboxMove::Archive.moves("archived"));
        assert!(MailboxMove::Read.event("app/nux", &[]).is_none());
        let ev = MailboxMove::Read.event("app/nux", &[1, 2]).unwrap();
        assert_eq!(
            (ev.kind, ev.summary.as_str()),
            ("mail.read", "app/nux read mail [1, 2]")
        );
        assert_eq!(ev.payload, json!({ "owner": "app/nux", "ids": [1, 2] }));
        let ev = MailboxMove::Archive.event("app/nux", &[3]).unwrap();
        assert_eq!(
            (ev.kind, ev.summary.as_str()),
            ("mail.archived", "app/nux archived mail [3]")
        );
    }

    #[test]
    fn mail_check_events() {
        assert!(mail_given("app/nux", &[]).is_none());
        let ev = mail_given("app/nux", &[1, 3]).unwrap();
        assert_eq!(
            (ev.kind, ev.summary.as_str()),
            ("mail.read", "app/nux was given mail [1, 3]")
        );
        assert_eq!(
            ev.payload,
            json!({ "owner": "app/nux", "ids": [1, 3], "via": "check" })
        );
        let ev = queued_nudge_given("app/nux", &nudge());
        assert_eq!(
            (ev.kind, ev.summary.as_str()),
            (
                "nudge.delivered",
                "queued nudge 4 from human given to app/nux"
            )
        );
        assert_eq!(
            ev.payload,
            json!({ "agent": "app/nux", "from": "human", "queued": 4, "via": "check",
                    "bytes": 7 })
        );
    }

    #[test]
    fn nudge_events() {
        let ev = nudge_queued(&nudge());
        assert_eq!(
            (ev.kind, ev.summary.as_str()),
            ("nudge.queued", "nudge 4 for app/nux queued by human")
        );
        assert_eq!(
            ev.payload,
            json!({ "id": 4, "agent": "app/nux", "from": "human", "bytes": 7 })
        );
        let ev = nudge_delivered("app/nux", "mayor", "hi");
        assert_eq!(
            (ev.kind, ev.summary.as_str()),
            ("nudge.delivered", "mayor nudged app/nux")
        );
        assert_eq!(
            ev.payload,
            json!({ "agent": "app/nux", "from": "mayor", "bytes": 2 })
        );
    }

    #[test]
    fn an_escalation_is_its_agents_rig_and_acked_once() {
        let mut e = escalation();
        let ev = escalated(&e);
        assert_event(
            &ev,
            "escalation",
            "app/nux escalated (high): stuck on auth",
            Some("app"),
            Some("gt-9"),
            json!({ "id": 3, "from": "app/nux", "severity": "high",
                    "source_bead": "gt-1", "mail": 12 }),
        );
        e.from = "human".into();
        assert_eq!(escalated(&e).rig, None, "a human's is no rig's");

        let ev = ack_escalation(&mut e, "mayor", "now").unwrap();
        assert_eq!(
            (e.acked_at.as_deref(), e.acked_by.as_deref()),
            (Some("now"), Some("mayor"))
        );
        assert_eq!(
            (ev.kind, ev.summary.as_str()),
            ("escalation.acked", "escalation 3 from human acknowledged")
        );
        assert_eq!((ev.rig, ev.bead.as_deref()), (None, Some("gt-9")));
        assert_eq!(ev.payload, json!({ "id": 3 }));
        let before = e.clone();
        let err = ack_escalation(&mut e, "human", "later").unwrap_err();
        assert_eq!(
            err.to_string(),
            "escalation 3 was already acknowledged by mayor"
        );
        assert!(matches!(err, Error::Refused(_)));
        assert_eq!(e, before, "a refusal changes nothing");
    }

    #[test]
    fn a_handoff_ends_an_open_session_and_mails_the_note() {
        let mut old = session();
        let ev = end_for_handoff(&mut old, "now").unwrap();
        assert_eq!(
            (old.ended_at.as_deref(), old.end_reason.as_deref()),
            (Some("now"), Some("handoff"))
        );
        assert_event(
            &ev,
            "session.ended",
            "session of app/nux on gt-1 ended: handoff",
            Some("app"),
            Some("gt-1"),
            json!({ "session": 7, "reason": "handoff", "agent": "app/nux" }),
        );
        let before = old.clone();
        let err = end_for_handoff(&mut old, "later").unwrap_err();
        assert_eq!(err.to_string(), "session 7 of app/nux has already ended");
        assert!(matches!(err, Error::Refused(_)));
        assert_eq!(old, before, "a refusal changes nothing");

        let to = [old.agent()];
        let req = HandoffRequest {
            session: 7,
            note: "carry on",
            subject: "handoff",
        };
        let m = handoff_mail(&to, &req);
        assert_eq!(
            (m.from, m.to, m.subject, m.body),
            ("app/nux", &to[..], "handoff", "carry on")
        );
        assert_eq!((m.priority, m.reply_to), (Priority::High, None));

        let ev = handed_off(&old, 8, 21);
        assert_event(
            &ev,
            "handoff",
            "app/nux handed off to a fresh session",
            Some("app"),
            Some("gt-1"),
            json!({ "agent": "app/nux", "old_session": 7, "session": 8, "mail": 21 }),
        );
    }
}
