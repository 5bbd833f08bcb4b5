//! M4: the argv of a resumed Claude Code session continues the previous
//! session's conversation (`--resume ID`) only when that session recorded
//! Claude's id; else a fresh start, and never `--continue`.

use gt_lib::bead::NewBead;
use gt_lib::session::end_reason;
use gt_lib::store::{BeadStore, CostStore, HookRequest, RigStore, WorkStore};

use crate::testkit::{Kit, ACTOR, RIG};

fn hook(k: &Kit, bead: &str, runtime: &str) -> gt_lib::session::Session {
    let s =
        k.ws.store
            .hook(
                &HookRequest {
                    bead,
                    rig: RIG,
                    polecat: "nux",
                    tmux_session: "gt-app-P-nux",
                    runtime,
                    branch: "polecat/nux/x",
                    base_commit: "aaaa",
                    supersede: None,
                    host: gt_lib::config::DEFAULT_HOST,
                },
                ACTOR,
            )
            .unwrap();
    k.ws.store.mark_running(s.id, ACTOR).unwrap();
    s
}

#[test]
fn resume_argv_uses_the_recorded_claude_session_id() {
    let k = Kit::new();
    k.ws.store.add_polecat(RIG, "nux", ACTOR).unwrap();
    let bead =
        k.ws.store
            .create_bead(&NewBead::new("work"), ACTOR)
            .unwrap();
    let claude = gt_lib::runtime::preset("claude").unwrap();
    let argv = |s: &gt_lib::session::Session, resume: bool| {
        gt_lib::sling::agent_argv(&k.ws, s, &bead, &claude, resume).unwrap()
    };
    let has_resume = |a: &[String]| a.iter().any(|x| x == "--resume");

    let first = hook(&k, &bead.id, "claude");
    assert!(!has_resume(&argv(&first, true)), "nothing to resume yet");
    k.ws.store
        .set_agent_session_id(first.id, "0c0ffee0-1111-4222-8333-444455556666", "app/nux")
        .unwrap();
    k.ws.store
        .end_session(first.id, end_reason::EXITED, ACTOR)
        .unwrap();
    let second = hook(&k, &bead.id, "claude");
    let a = argv(&second, true);
    let i = a.iter().position(|x| x == "--resume").expect("--resume");
    assert_eq!(a[i + 1], "0c0ffee0-1111-4222-8333-444455556666");
    // Before the instruction, which stays last.
    assert!(a.last().unwrap().starts_with("You are app/nux"));
    assert!(!a.iter().any(|x| x == "--continue" || x == "-c"));
    // A fresh (not resumed) start never resumes.
    assert!(!has_resume(&argv(&second, false)));

    // The previous session recorded no id: a fresh start.
    k.ws.store
        .end_session(second.id, end_reason::EXITED, ACTOR)
        .unwrap();
    let third = hook(&k, &bead.id, "claude");
    assert!(!has_resume(&argv(&third, true)));

    // The previous session ran another runtime (`gt resume --agent`): its
    // id is not Claude's.
    k.ws.store
        .end_session(third.id, end_reason::EXITED, ACTOR)
        .unwrap();
    let other = hook(&k, &bead.id, "codex");
    k.ws.store
        .set_agent_session_id(other.id, "019a-codex-thread", "app/nux")
        .unwrap();
    k.ws.store
        .end_session(other.id, end_reason::EXITED, ACTOR)
        .unwrap();
    let back = hook(&k, &bead.id, "claude");
    assert!(!has_resume(&argv(&back, true)));
}
