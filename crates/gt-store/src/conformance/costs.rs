//! Token usage and cost per session, and the runtime's conversation id.

use gt_core::costs::{CostGroup, CostQuery, CostTotals, Usage};
use gt_core::session::end_reason;

use super::{all_events, bead, events_of, hook_req, hooked, refusal, NOW};
use crate::Store;

fn usage(input: i64, output: i64, cost: Option<i64>) -> Usage {
    Usage {
        input_tokens: input,
        output_tokens: output,
        cache_read_tokens: 7,
        cache_write_tokens: 3,
        cost_micros: cost,
        model: Some("claude-test".into()),
    }
}

pub fn costs_record_replace_and_refusals(s: &dyn Store) {
    let (b, sess) = hooked(s);
    assert_eq!(s.session_usage(sess.id).unwrap(), None);
    let u = s
        .record_usage(
            sess.id,
            &usage(100, 20, None),
            "claude-transcript",
            "app/nux",
        )
        .unwrap();
    assert_eq!(
        (
            u.session,
            u.rig.as_str(),
            u.polecat.as_str(),
            u.bead.as_str()
        ),
        (sess.id, "app", "nux", b.id.as_str())
    );
    assert_eq!(
        (u.source.as_str(), u.updated_at.as_str()),
        ("claude-transcript", NOW)
    );
    assert_eq!(u.usage, usage(100, 20, None));
    // A later running total replaces the earlier one.
    s.record_usage(
        sess.id,
        &usage(250, 40, Some(1234)),
        "claude-transcript",
        "app/nux",
    )
    .unwrap();
    let got = s.session_usage(sess.id).unwrap().unwrap();
    assert_eq!(got.usage, usage(250, 40, Some(1234)));
    let evs = events_of(s, "session.usage");
    assert_eq!(evs.len(), 2);
    assert_eq!(evs[1].bead.as_deref(), Some(b.id.as_str()));
    assert_eq!(evs[1].payload["session"], sess.id);
    assert_eq!(evs[1].payload["input_tokens"], 250);
    assert_eq!(
        evs[0].summary,
        format!("usage of app/nux on {}: 100 tokens in, 20 out", b.id)
    );
    assert_eq!(
        evs[1].summary,
        format!(
            "usage of app/nux on {}: 250 tokens in, 40 out, $0.001234",
            b.id
        )
    );
    assert_eq!(evs[1].rig.as_deref(), Some("app"));
    assert_eq!(
        evs[1].payload,
        serde_json::json!({
            "session": sess.id, "agent": "app/nux", "input_tokens": 250,
            "output_tokens": 40, "cache_read_tokens": 7, "cache_write_tokens": 3,
            "cost_micros": 1234, "source": "claude-transcript",
        })
    );
    // The same totals again: nothing written.
    let before = all_events(s).len();
    s.record_usage(
        sess.id,
        &usage(250, 40, Some(1234)),
        "claude-transcript",
        "app/nux",
    )
    .unwrap();
    assert_eq!(all_events(s).len(), before);
    // A later reading without a cost keeps the known cost.
    s.record_usage(
        sess.id,
        &usage(300, 50, None),
        "claude-transcript",
        "app/nux",
    )
    .unwrap();
    assert_eq!(
        s.session_usage(sess.id).unwrap().unwrap().usage,
        usage(300, 50, Some(1234))
    );
    s.record_usage(
        sess.id,
        &usage(300, 50, Some(1000)),
        "claude-transcript",
        "app/nux",
    )
    .unwrap();
    assert_eq!(
        s.session_usage(sess.id).unwrap().unwrap().usage.cost_micros,
        Some(1234),
        "a running cost never goes down"
    );
    let before = all_events(s).len();

    // Refusals write nothing.
    assert_eq!(
        refusal(s.record_usage(sess.id + 100, &usage(1, 1, None), "x", "h")),
        "not_found"
    );
    for bad in [
        usage(-1, 1, None),
        usage(1, -1, None),
        usage(1, 1, Some(-1)),
        Usage {
            cache_read_tokens: -2,
            ..usage(1, 1, None)
        },
    ] {
        assert_eq!(refusal(s.record_usage(sess.id, &bad, "x", "h")), "invalid");
    }
    assert_eq!(
        refusal(s.record_usage(sess.id, &usage(1, 1, None), "Bad Source", "h")),
        "invalid"
    );
    assert_eq!(all_events(s).len(), before);
    assert_eq!(
        s.session_usage(sess.id).unwrap().unwrap().usage,
        usage(300, 50, Some(1234))
    );
    assert_eq!(s.session_usage(sess.id + 100).unwrap(), None);
    // Another source's reading replaces it as it is (no cost carried over).
    let u = s
        .record_usage(sess.id, &usage(300, 50, None), "codex-rollout", "app/nux")
        .unwrap();
    assert_eq!(
        (u.usage, u.source.as_str()),
        (usage(300, 50, None), "codex-rollout")
    );
    assert_eq!(all_events(s).len(), before + 1);
    assert_eq!(
        events_of(s, "session.usage").pop().unwrap().payload["source"],
        "codex-rollout"
    );
}

pub fn costs_agent_session_id(s: &dyn Store) {
    let (_, sess) = hooked(s);
    assert_eq!(s.agent_session_id(sess.id).unwrap(), None);
    let id = "4f1c2d3e-0000-4000-8000-0123456789ab";
    s.set_agent_session_id(sess.id, id, "app/nux").unwrap();
    assert_eq!(s.agent_session_id(sess.id).unwrap().as_deref(), Some(id));
    assert_eq!(events_of(s, "session.agent_id").len(), 1);
    let ev = &events_of(s, "session.agent_id")[0];
    assert_eq!(
        ev.summary,
        format!(
            "{} session of app/nux on {}: conversation id recorded",
            sess.runtime, sess.bead
        )
    );
    assert_eq!(
        (ev.rig.as_deref(), ev.bead.as_deref()),
        (Some("app"), Some(sess.bead.as_str()))
    );
    assert_eq!(
        ev.payload,
        serde_json::json!({ "session": sess.id, "agent": "app/nux" })
    );
    s.set_agent_session_id(sess.id, id, "app/nux").unwrap();
    assert_eq!(
        events_of(s, "session.agent_id").len(),
        1,
        "same id: no event"
    );
    let before = all_events(s).len();
    assert_eq!(
        refusal(s.set_agent_session_id(sess.id + 100, id, "h")),
        "not_found"
    );
    for bad in ["", "--continue", "a b", "x;rm -rf"] {
        assert_eq!(
            refusal(s.set_agent_session_id(sess.id, bad, "h")),
            "invalid"
        );
    }
    assert_eq!(all_events(s).len(), before);
    assert_eq!(s.agent_session_id(sess.id).unwrap().as_deref(), Some(id));
    assert_eq!(s.agent_session_id(sess.id + 100).unwrap(), None);
}

pub fn costs_grouped_and_totals(s: &dyn Store) {
    let (b1, s1) = hooked(s);
    s.add_polecat("app", "max", "human").unwrap();
    let b2 = bead(s, "other");
    let s2 = s
        .hook(&hook_req(&b2.id, "max", "gt-app-max"), "human")
        .unwrap();
    let q = CostQuery::default();
    assert_eq!(s.cost_totals(&q).unwrap(), CostTotals::default());
    assert!(s.costs_by(CostGroup::Agent, &q).unwrap().is_empty());
    s.record_usage(s1.id, &usage(100, 10, Some(500)), "claude-transcript", "h")
        .unwrap();
    s.record_usage(s2.id, &usage(50, 5, None), "codex-rollout", "h")
        .unwrap();
    // A session that ended still counts.
    s.end_session(s2.id, end_reason::EXITED, "h").unwrap();
    let t = s.cost_totals(&q).unwrap();
    assert_eq!(
        t,
        CostTotals {
            sessions: 2,
            input_tokens: 150,
            output_tokens: 15,
            cache_read_tokens: 14,
            cache_write_tokens: 6,
            cost_micros: Some(500),
            sessions_without_cost: 1,
        }
    );
    let by_agent = s.costs_by(CostGroup::Agent, &q).unwrap();
    let keys: Vec<&str> = by_agent.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["app/max", "app/nux"]);
    assert_eq!(by_agent[0].totals.cost_micros, None);
    assert_eq!(by_agent[0].totals.sessions_without_cost, 1);
    assert_eq!(by_agent[1].totals.input_tokens, 100);
    let by_rig = s.costs_by(CostGroup::Rig, &q).unwrap();
    assert_eq!(by_rig.len(), 1);
    assert_eq!(
        (by_rig[0].key.as_str(), by_rig[0].totals.sessions),
        ("app", 2)
    );
    let by_bead = s.costs_by(CostGroup::Bead, &q).unwrap();
    let mut want = vec![b1.id.clone(), b2.id.clone()];
    want.sort();
    assert_eq!(
        by_bead.iter().map(|r| r.key.clone()).collect::<Vec<_>>(),
        want
    );
    let by_day = s.costs_by(CostGroup::Day, &q).unwrap();
    assert_eq!(by_day.len(), 1);
    assert_eq!(by_day[0].key, &NOW[..10]);
    assert_eq!(by_day[0].totals, t);
    // Since: sessions started at or after the time.
    let later = CostQuery {
        since: Some("2026-01-03T00:00:00.000000Z".into()),
    };
    assert_eq!(s.cost_totals(&later).unwrap(), CostTotals::default());
    assert!(s.costs_by(CostGroup::Bead, &later).unwrap().is_empty());
    let earlier = CostQuery {
        since: Some("2026-01-01T00:00:00.000000Z".into()),
    };
    assert_eq!(s.cost_totals(&earlier).unwrap(), t);
}
