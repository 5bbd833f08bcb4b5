//! Rules for the deacon's records (the scheduler switch, faults) and the
//! costs' (token usage, a runtime's conversation id).
//!
//! The deacon's other records carry the event their caller built (an action,
//! a finished gate) and append it as given: nothing to decide here.

use serde_json::json;

use crate::costs::{SessionUsage, Usage};
use crate::deacon::NewFault;
use crate::event::{kind, EventKind, NewEvent};
use crate::session::Session;

/// `gt scheduler pause|resume`: the event of the switch.
pub fn scheduler_event(paused: bool) -> NewEvent {
    if paused {
        NewEvent::new(EventKind::SchedulerPaused.as_str(), "scheduler paused")
    } else {
        NewEvent::new(EventKind::SchedulerResumed.as_str(), "scheduler resumed")
    }
}

/// A fault recorded over the error stored `before` for its subject and step:
/// the caller's `event` is appended when the fault is new or its error
/// changed, not when the same error repeats.
pub fn fault_event<'e>(
    before: Option<&str>,
    f: &NewFault<'_>,
    event: &'e NewEvent,
) -> Option<&'e NewEvent> {
    (before != Some(f.error)).then_some(event)
}

/// A fault cleared: the caller's `event` is appended only when there was a
/// fault (`existed`).
pub fn fault_cleared_event(existed: bool, event: &NewEvent) -> Option<&NewEvent> {
    existed.then_some(event)
}

/// What [`record_usage`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsagePlan {
    /// The same totals from the same source again: keep the row, append nothing.
    Keep(SessionUsage),
    /// Write this usage (and append [`usage_event`]).
    Write(Usage),
}

/// A session's usage read from `source`, over the row stored before (`prev`):
/// from the same source the cost is the larger known one (a running cost only
/// grows; a reading without a cost keeps it), the tokens are the new
/// reading's; the same again is kept as it is.
pub fn record_usage(prev: Option<SessionUsage>, usage: &Usage, source: &str) -> UsagePlan {
    let mut usage = usage.clone();
    if let Some(prev) = prev {
        if prev.source == source {
            usage.cost_micros = match (prev.usage.cost_micros, usage.cost_micros) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => b.or(a),
            };
            if prev.usage == usage {
                return UsagePlan::Keep(prev);
            }
        }
    }
    UsagePlan::Write(usage)
}

/// The `session.usage` event of `usage` (as written) of session `s`.
pub fn usage_event(s: &Session, usage: &Usage, source: &str) -> NewEvent {
    let cost = match usage.cost_micros {
        Some(c) => format!(", ${}.{:06}", c / 1_000_000, c % 1_000_000),
        None => String::new(),
    };
    NewEvent::new(
        kind::SESSION_USAGE,
        format!(
            "usage of {} on {}: {} tokens in, {} out{cost}",
            s.agent(),
            s.bead,
            usage.input_tokens,
            usage.output_tokens
        ),
    )
    .rig(&s.rig)
    .bead(&s.bead)
    .payload(json!({
        "session": s.id,
        "agent": s.agent(),
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_tokens": usage.cache_read_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
        "cost_micros": usage.cost_micros,
        "source": source,
    }))
}

/// The runtime's conversation `id` of session `s`, over the one recorded
/// before (`prev`): the `session.agent_id` event to append with it, or `None`
/// when it is the same id (nothing to write).
pub fn agent_session_id_event(s: &Session, prev: Option<&str>, id: &str) -> Option<NewEvent> {
    if prev == Some(id) {
        return None;
    }
    Some(
        NewEvent::new(
            kind::SESSION_AGENT_ID,
            format!(
                "{} session of {} on {}: conversation id recorded",
                s.runtime,
                s.agent(),
                s.bead
            ),
        )
        .rig(&s.rig)
        .bead(&s.bead)
        .payload(json!({ "session": s.id, "agent": s.agent() })),
    )
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
            running_at: None,
            ended_at: None,
            end_reason: None,
            head_commit: None,
            host: None,
        }
    }

    fn usage(input: i64, cost: Option<i64>) -> Usage {
        Usage {
            input_tokens: input,
            output_tokens: 20,
            cache_read_tokens: 7,
            cache_write_tokens: 3,
            cost_micros: cost,
            model: Some("m".into()),
        }
    }

    fn stored(u: Usage, source: &str) -> SessionUsage {
        SessionUsage {
            session: 7,
            rig: "app".into(),
            polecat: "nux".into(),
            bead: "gt-1".into(),
            runtime: "claude".into(),
            usage: u,
            source: source.into(),
            updated_at: T0.into(),
        }
    }

    #[test]
    fn scheduler_event_names_the_switch() {
        let ev = scheduler_event(true);
        assert_eq!(
            (ev.kind, ev.summary.as_str()),
            ("scheduler.paused", "scheduler paused")
        );
        assert_eq!(ev.payload, json!({}));
        let ev = scheduler_event(false);
        assert_eq!(
            (ev.kind, ev.summary.as_str()),
            ("scheduler.resumed", "scheduler resumed")
        );
        assert_eq!((ev.rig, ev.bead), (None, None));
    }

    #[test]
    fn a_fault_event_only_when_new_or_changed() {
        let f = NewFault {
            scope: "agent",
            subject: "app/nux",
            rig: Some("app"),
            polecat: Some("nux"),
            step: "restart",
            error: "tmux failed",
        };
        let ev = NewEvent::new("deacon.fault", "fault");
        assert_eq!(fault_event(None, &f, &ev).unwrap().summary, "fault");
        assert!(fault_event(Some("tmux failed"), &f, &ev).is_none());
        assert_eq!(
            fault_event(Some("git failed"), &f, &ev).unwrap().kind,
            "deacon.fault"
        );
        assert!(fault_cleared_event(true, &ev).is_some());
        assert!(fault_cleared_event(false, &ev).is_none());
    }

    #[test]
    fn record_usage_merges_a_running_cost_from_one_source() {
        let new = UsagePlan::Write(usage(100, None));
        assert_eq!(record_usage(None, &usage(100, None), "src"), new);
        let prev = || Some(stored(usage(100, Some(1234)), "src"));
        // The same totals again: kept.
        assert_eq!(
            record_usage(prev(), &usage(100, Some(1234)), "src"),
            UsagePlan::Keep(stored(usage(100, Some(1234)), "src"))
        );
        // No cost now: the known one stays, and then nothing changed.
        assert!(matches!(
            record_usage(prev(), &usage(100, None), "src"),
            UsagePlan::Keep(_)
        ));
        assert_eq!(
            record_usage(prev(), &usage(300, None), "src"),
            UsagePlan::Write(usage(300, Some(1234)))
        );
        // A lower cost does not lower it; a higher one raises it.
        assert_eq!(
            record_usage(prev(), &usage(300, Some(1000)), "src"),
            UsagePlan::Write(usage(300, Some(1234)))
        );
        assert_eq!(
            record_usage(prev(), &usage(300, Some(2000)), "src"),
            UsagePlan::Write(usage(300, Some(2000)))
        );
        // Another source replaces the reading as it is, even the same totals.
        assert_eq!(
            record_usage(prev(), &usage(100, None), "other"),
            UsagePlan::Write(usage(100, None))
        );
        assert_eq!(
            record_usage(prev(), &usage(100, Some(1234)), "other"),
            UsagePlan::Write(usage(100, Some(1234)))
        );
    }

    #[test]
    fn usage_event_tells_tokens_and_cost() {
        let s = session();
        let ev = usage_event(&s, &usage(250, Some(1_234_567)), "claude-transcript");
        assert_event(
            &ev,
            kind::SESSION_USAGE,
            "usage of app/nux on gt-1: 250 tokens in, 20 out, $1.234567",
            Some("app"),
            Some("gt-1"),
            json!({
                "session": 7, "agent": "app/nux", "input_tokens": 250, "output_tokens": 20,
                "cache_read_tokens": 7, "cache_write_tokens": 3, "cost_micros": 1_234_567,
                "source": "claude-transcript",
            }),
        );
        let ev = usage_event(&s, &usage(1, Some(5)), "x");
        assert_eq!(
            ev.summary,
            "usage of app/nux on gt-1: 1 tokens in, 20 out, $0.000005"
        );
        let ev = usage_event(&s, &usage(1, None), "x");
        assert_eq!(ev.summary, "usage of app/nux on gt-1: 1 tokens in, 20 out");
        assert_eq!(ev.payload["cost_micros"], json!(null));
    }

    #[test]
    fn agent_session_id_event_only_for_a_new_id() {
        let s = session();
        let ev = agent_session_id_event(&s, None, "abc").unwrap();
        assert_event(
            &ev,
            kind::SESSION_AGENT_ID,
            "claude session of app/nux on gt-1: conversation id recorded",
            Some("app"),
            Some("gt-1"),
            json!({ "session": 7, "agent": "app/nux" }),
        );
        assert!(agent_session_id_event(&s, Some("abc"), "abc").is_none());
        assert!(agent_session_id_event(&s, Some("old"), "abc").is_some());
    }
}
