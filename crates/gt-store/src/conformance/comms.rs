//! Mail, nudges, agent state, escalations and hand-offs.

use gt_core::event::Event;
use gt_core::mail::{HandoffRequest, InboxFilter, NewMail, Priority};
use serde_json::json;

use super::{all_events, events_of, hooked, refusal, NOW};
use crate::Store;

/// The newest event of `kind`.
fn last(s: &dyn Store, kind: &str) -> Event {
    events_of(s, kind).pop().expect("an event of that kind")
}

fn mail<'a>(
    from: &'a str,
    to: &'a [String],
    subject: &'a str,
    reply_to: Option<i64>,
) -> NewMail<'a> {
    NewMail {
        from,
        to,
        subject,
        body: "body text",
        priority: Priority::Normal,
        reply_to,
    }
}

pub fn mail_send_read_archive(s: &dyn Store) {
    let to = vec!["app/nux".to_string(), "app/max".to_string()];
    let m = s
        .send_mail(&mail("human", &to, "hello", None), "human")
        .unwrap();
    assert_eq!((m.from.as_str(), m.sent_at.as_str()), ("human", NOW));
    assert_eq!(m.to, to);
    assert_eq!(
        events_of(s, "mail.sent").len(),
        1,
        "one event for all recipients"
    );
    let ev = last(s, "mail.sent");
    assert_eq!(
        ev.summary,
        format!("mail {} from human to app/nux, app/max: hello", m.id)
    );
    assert_eq!(
        ev.payload,
        json!({ "id": m.id, "from": "human", "to": to, "priority": "normal",
                "reply_to": null, "thread": m.id })
    );
    let inbox = s.inbox("app/nux", InboxFilter::Unread, None).unwrap();
    assert_eq!(inbox.len(), 1);
    assert!(!inbox[0].read);
    assert_eq!(s.get_mail(m.id, "app/nux").unwrap().subject, "hello");
    assert_eq!(
        s.get_mail(m.id, "human").unwrap().id,
        m.id,
        "the sender sees it"
    );
    assert_eq!(refusal(s.get_mail(m.id, "web/other")), "not_found");
    assert_eq!(refusal(s.get_mail(9999, "human")), "not_found");
    assert_eq!(s.mark_read(&[m.id], "app/nux", "app/nux").unwrap(), 1);
    assert_eq!(s.mark_read(&[m.id], "app/nux", "app/nux").unwrap(), 0);
    assert!(s
        .inbox("app/nux", InboxFilter::Unread, None)
        .unwrap()
        .is_empty());
    assert_eq!(
        s.inbox("app/nux", InboxFilter::Current, None)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        refusal(s.mark_read(&[9999], "app/nux", "app/nux")),
        "not_found"
    );
    assert_eq!(s.archive_mail(&[m.id], "app/nux", "app/nux").unwrap(), 1);
    assert!(s
        .inbox("app/nux", InboxFilter::Current, None)
        .unwrap()
        .is_empty());
    assert_eq!(
        s.inbox("app/nux", InboxFilter::All, Some(10))
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        refusal(s.archive_mail(&[9999], "app/nux", "app/nux")),
        "not_found"
    );
    assert_eq!(events_of(s, "mail.read").len(), 1);
    assert_eq!(events_of(s, "mail.archived").len(), 1);
    let ev = last(s, "mail.read");
    assert_eq!(ev.summary, format!("app/nux read mail [{}]", m.id));
    assert_eq!(ev.payload, json!({ "owner": "app/nux", "ids": [m.id] }));
    let ev = last(s, "mail.archived");
    assert_eq!(ev.summary, format!("app/nux archived mail [{}]", m.id));
    assert_eq!(ev.payload, json!({ "owner": "app/nux", "ids": [m.id] }));
    // Refused: no recipient, a reply to nothing; nothing written.
    let before = all_events(s).len();
    assert_eq!(
        s.send_mail(&mail("human", &[], "x", None), "human")
            .unwrap_err()
            .to_string(),
        "mail needs at least one recipient"
    );
    assert_eq!(
        refusal(s.send_mail(&mail("human", &to, "x", Some(9999)), "human")),
        "not_found"
    );
    assert_eq!(all_events(s).len(), before);
    assert_eq!(s.inbox("app/max", InboxFilter::All, None).unwrap().len(), 1);
}

pub fn mail_thread_search_take_unread(s: &dyn Store) {
    let nux = vec!["app/nux".to_string()];
    let human = vec!["human".to_string()];
    let first = s
        .send_mail(&mail("human", &nux, "Deploy plan", None), "human")
        .unwrap();
    let reply = s
        .send_mail(
            &mail("app/nux", &human, "re: deploy", Some(first.id)),
            "app/nux",
        )
        .unwrap();
    assert_eq!(reply.thread, first.thread);
    let thread = s.thread(reply.id, "app/nux").unwrap();
    assert_eq!(
        thread.iter().map(|m| m.id).collect::<Vec<_>>(),
        [first.id, reply.id]
    );
    assert_eq!(refusal(s.thread(9999, "human")), "not_found");
    let found = s.search_mail("app/nux", "DEPLOY", None).unwrap();
    assert_eq!(found.len(), 2, "case-insensitive, sent and received");
    assert!(s
        .search_mail("app/nux", "nothing like it", Some(5))
        .unwrap()
        .is_empty());
    let q = s
        .queue_nudge("app/nux", "human", "check your mail", "human")
        .unwrap();
    let (unread, nudges) = s.take_unread("app/nux", "app/nux").unwrap();
    assert_eq!(unread.len(), 1);
    assert_eq!(nudges.len(), 1);
    let ev = last(s, "mail.read");
    assert_eq!(ev.summary, format!("app/nux was given mail [{}]", first.id));
    assert_eq!(
        ev.payload,
        json!({ "owner": "app/nux", "ids": [first.id], "via": "check" })
    );
    let ev = last(s, "nudge.delivered");
    assert_eq!(
        ev.summary,
        format!("queued nudge {} from human given to app/nux", q.id)
    );
    assert_eq!(
        ev.payload,
        json!({ "agent": "app/nux", "from": "human", "queued": q.id, "via": "check",
                "bytes": 15 })
    );
    let (unread, nudges) = s.take_unread("app/nux", "app/nux").unwrap();
    assert!(unread.is_empty() && nudges.is_empty(), "taken once");
    assert!(s.pending_nudges("app/nux").unwrap().is_empty());
}

pub fn nudges_queue_and_deliver(s: &dyn Store) {
    let q = s
        .queue_nudge("app/nux", "human", "wake up", "human")
        .unwrap();
    assert_eq!((q.message.as_str(), q.queued_at.as_str()), ("wake up", NOW));
    s.queue_nudge("app/nux", "human", "second", "human")
        .unwrap();
    let pending = s.pending_nudges("app/nux").unwrap();
    assert_eq!(
        pending
            .iter()
            .map(|n| n.message.as_str())
            .collect::<Vec<_>>(),
        ["wake up", "second"]
    );
    assert!(s.mark_nudge_delivered(q.id).unwrap());
    assert!(!s.mark_nudge_delivered(q.id).unwrap(), "already delivered");
    assert!(!s.mark_nudge_delivered(9999).unwrap());
    assert_eq!(s.pending_nudges("app/nux").unwrap().len(), 1);
    s.record_nudge("app/nux", "human", "now", "human").unwrap();
    assert_eq!(events_of(s, "nudge.queued").len(), 2);
    assert_eq!(events_of(s, "nudge.delivered").len(), 1);
    let ev = &events_of(s, "nudge.queued")[0];
    assert_eq!(
        ev.summary,
        format!("nudge {} for app/nux queued by human", q.id)
    );
    assert_eq!(
        ev.payload,
        json!({ "id": q.id, "agent": "app/nux", "from": "human", "bytes": 7 })
    );
    let ev = last(s, "nudge.delivered");
    assert_eq!(ev.summary, "human nudged app/nux");
    assert_eq!(
        ev.payload,
        json!({ "agent": "app/nux", "from": "human", "bytes": 3 })
    );
}

pub fn agent_state_and_hook_states(s: &dyn Store) {
    assert!(s.agent_state("app/nux").unwrap().is_none());
    let before = all_events(s).len();
    s.set_agent_state("app/nux", "working", "claude-hook")
        .unwrap();
    s.set_agent_state("app/nux", "idle", "claude-hook").unwrap();
    let st = s.agent_state("app/nux").unwrap().unwrap();
    assert_eq!(
        (
            st.state.as_str(),
            st.source.as_str(),
            st.updated_at.as_str()
        ),
        ("idle", "claude-hook", NOW)
    );
    assert_eq!(all_events(s).len(), before, "observational: no event");
    let hs = s.hook_states().unwrap();
    assert_eq!(hs.len(), 1);
    assert_eq!(
        (hs[0].agent.as_str(), hs[0].state.as_str()),
        ("app/nux", "idle")
    );
}

pub fn escalations_add_list_ack(s: &dyn Store) {
    let (b, _) = hooked(s);
    let human = vec!["human".to_string()];
    let e = s
        .add_escalation(
            &b.id,
            "app/nux",
            gt_core::mail::Severity::High,
            "stuck on auth",
            None,
            &mail("app/nux", &human, "escalation", None),
            "app/nux",
        )
        .unwrap();
    assert_eq!(
        (e.bead.as_str(), e.severity.as_str(), e.acked_at.clone()),
        (b.id.as_str(), "high", None)
    );
    assert!(e.mail.is_some());
    let ev = last(s, "escalation");
    assert_eq!(ev.summary, "app/nux escalated (high): stuck on auth");
    assert_eq!(
        (ev.rig.as_deref(), ev.bead.as_deref()),
        (Some("app"), Some(b.id.as_str()))
    );
    assert_eq!(
        ev.payload,
        json!({ "id": e.id, "from": "app/nux", "severity": "high",
                "source_bead": null, "mail": e.mail })
    );
    assert_eq!(
        s.inbox("human", InboxFilter::Unread, None).unwrap().len(),
        1
    );
    assert_eq!(s.list_escalations(true).unwrap().len(), 1);
    let acked = s.ack_escalation(&b.id, "human").unwrap();
    assert_eq!(acked.acked_by.as_deref(), Some("human"));
    assert!(s.list_escalations(true).unwrap().is_empty());
    assert_eq!(s.list_escalations(false).unwrap().len(), 1);
    assert_eq!(
        refusal(s.ack_escalation(&e.id.to_string(), "human")),
        "refused"
    );
    assert_eq!(
        s.ack_escalation(&b.id, "mayor").unwrap_err().to_string(),
        format!("escalation {} was already acknowledged by human", e.id)
    );
    let ev = last(s, "escalation.acked");
    assert_eq!(
        ev.summary,
        format!("escalation {} from app/nux acknowledged", e.id)
    );
    assert_eq!((ev.rig, ev.bead.as_deref()), (None, Some(b.id.as_str())));
    assert_eq!(ev.payload, json!({ "id": e.id }));
    assert_eq!(refusal(s.ack_escalation("9999", "human")), "not_found");
    assert_eq!(events_of(s, "escalation").len(), 1);
    assert_eq!(events_of(s, "escalation.acked").len(), 1);
}

pub fn handoff_moves_the_work(s: &dyn Store) {
    let (b, sess) = hooked(s);
    let new = s
        .handoff(
            &HandoffRequest {
                session: sess.id,
                note: "carry on from the tests",
                subject: "handoff",
            },
            "app/nux",
        )
        .unwrap();
    assert_ne!(new.id, sess.id);
    assert_eq!(
        (new.bead.as_str(), new.polecat.as_str(), new.branch.as_str()),
        (b.id.as_str(), "nux", sess.branch.as_str())
    );
    assert_eq!(
        s.get_session(sess.id).unwrap().end_reason.as_deref(),
        Some("handoff")
    );
    assert_eq!(
        s.inbox("app/nux", InboxFilter::Unread, None).unwrap().len(),
        1,
        "the note is mailed"
    );
    let req = HandoffRequest {
        session: sess.id,
        note: "again",
        subject: "handoff",
    };
    let ended = last(s, "session.ended");
    assert_eq!(
        ended.summary,
        format!("session of app/nux on {} ended: handoff", b.id)
    );
    assert_eq!(
        ended.payload,
        json!({ "session": sess.id, "reason": "handoff", "agent": "app/nux" })
    );
    let note = s
        .inbox("app/nux", InboxFilter::Unread, None)
        .unwrap()
        .remove(0);
    assert_eq!(
        (
            note.from.as_str(),
            note.subject.as_str(),
            note.body.as_str(),
            note.priority
        ),
        (
            "app/nux",
            "handoff",
            "carry on from the tests",
            Priority::High
        )
    );
    let ev = last(s, "handoff");
    assert_eq!(ev.summary, "app/nux handed off to a fresh session");
    assert_eq!(
        (ev.rig.as_deref(), ev.bead.as_deref()),
        (Some("app"), Some(b.id.as_str()))
    );
    assert_eq!(
        ev.payload,
        json!({ "agent": "app/nux", "old_session": sess.id, "session": new.id,
                "mail": note.id })
    );
    let kinds: Vec<String> = all_events(s)
        .into_iter()
        .rev()
        .take(3)
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        ["handoff", "mail.sent", "session.ended"],
        "in this order"
    );
    assert_eq!(refusal(s.handoff(&req, "app/nux")), "refused");
    assert_eq!(
        s.handoff(&req, "app/nux").unwrap_err().to_string(),
        format!("session {} of app/nux has already ended", sess.id)
    );
    assert_eq!(
        refusal(s.handoff(
            &HandoffRequest {
                session: 9999,
                ..req
            },
            "app/nux"
        )),
        "not_found"
    );
    assert_eq!(events_of(s, "handoff").len(), 1);
}
