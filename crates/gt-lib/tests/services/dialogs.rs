//! The deacon never types into a dialog or menu (issue #12, M11): a stalled
//! agent whose screen shows a trust dialog or a numbered menu is reported to
//! the human once, and nothing is sent to its pane.

use gt_lib::deacon::{kind, patrol_with};

use crate::testkit::Kit;

fn kinds(r: &gt_lib::deacon::PatrolReport) -> Vec<&str> {
    r.actions.iter().map(|a| a.kind.as_str()).collect()
}

fn nothing_typed(k: &Kit, session: &str) {
    assert!(
        k.tmux.sent_text(session).is_empty(),
        "{:?}",
        k.tmux.sent_text(session)
    );
    assert!(!k
        .tmux
        .calls()
        .iter()
        .any(|c| matches!(c, gt_host::testing::TmuxCall::SendEnter(s) if s == session)));
}

/// Quiet past `stall_after` with `screen` up: the deacon must not nudge.
fn stalled_at(screen: &str) {
    let k = Kit::with_config(&[("deacon.stall_after", "15m")]);
    let s = k.sling(&["slow work"]).unwrap().remove(0);
    k.tmux.set_screen(&s.session, screen).unwrap();
    let first = patrol_with(&k.ws, false).unwrap();
    assert!(first.failures.is_empty(), "{:?}", first.failures);
    k.clock.advance(time::Duration::minutes(20));
    let r = patrol_with(&k.ws, false).unwrap();
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    let all: Vec<&str> = kinds(&first).into_iter().chain(kinds(&r)).collect();
    assert!(!all.contains(&kind::NUDGED), "{all:?}");
    assert_eq!(
        all.iter().filter(|k| **k == kind::ASKED_HUMAN).count(),
        1,
        "{all:?}"
    );
    // Reported once per session, however long it stays up.
    k.clock.advance(time::Duration::hours(2));
    let again = patrol_with(&k.ws, false).unwrap();
    assert!(
        !kinds(&again).contains(&kind::ASKED_HUMAN),
        "{:?}",
        again.actions
    );
    assert!(
        !kinds(&again).contains(&kind::NUDGED),
        "{:?}",
        again.actions
    );
    assert_eq!(k.events(kind::NUDGED).len(), 0);
    assert_eq!(
        gt_lib::mail::inbox(&k.ws, "human", true, None)
            .unwrap()
            .len(),
        1
    );
    nothing_typed(&k, &s.session);
}

#[test]
fn a_folder_trust_dialog_is_never_typed_into() {
    stalled_at(
        "  Since this folder is version controlled, you may wish to allow Codex\n\
         \n  Trust this folder?\n\n\
         › 1. Yes, allow Codex to work in this folder without asking for approval\n\
         \x20 2. No, ask me to approve edits and commands\n",
    );
}

#[test]
fn a_numbered_menu_is_never_typed_into() {
    stalled_at("│ Pick one                 │\n│ ❯ 1. Keep going          │\n│   2. Stop                │\n");
}

#[test]
fn a_login_question_is_never_typed_into() {
    stalled_at("No API key found.\nWould you like to log in to Amp? [(y)es, (n)o]: ");
}

#[test]
fn the_kind_of_dialog_is_reported_with_the_problem() {
    let k = Kit::new();
    let s = k.sling(&["trust me"]).unwrap().remove(0);
    k.tmux
        .set_screen(
            &s.session,
            "  Do you trust the files in this folder?\n\n ❯ 1. Yes, proceed\n   2. No, exit\n",
        )
        .unwrap();
    let problems = gt_lib::problems::detect(&k.ws, &Default::default()).unwrap();
    let p = problems
        .iter()
        .find(|p| p.agent == s.agent)
        .unwrap_or_else(|| panic!("{problems:?}"));
    assert_eq!(p.kind, gt_lib::problems::ProblemKind::WaitingForInput);
    assert_eq!(p.reason, Some(gt_lib::screen::DialogReason::FolderTrust));
    let json = serde_json::to_value(p).unwrap();
    assert_eq!(json["reason"], "folder_trust", "{json}");
    // Problems without a dialog have no `reason` key at all.
    let none = gt_lib::problems::Problem {
        reason: None,
        ..p.clone()
    };
    assert!(serde_json::to_value(&none).unwrap().get("reason").is_none());
}

#[test]
fn a_stored_dialog_keeps_its_kind() {
    use gt_lib::problems::Screen;
    use gt_lib::screen::DialogReason;
    for s in [
        Screen::Question("Trust this folder?".into(), Some(DialogReason::FolderTrust)),
        Screen::Question("Proceed? (y/n)".into(), None),
        Screen::Question("a: colon: inside".into(), Some(DialogReason::Confirm)),
    ] {
        assert_eq!(Screen::decode(&s.encode()), Some(s.clone()));
    }
    // The form stored before the kind was known still reads.
    assert_eq!(
        Screen::decode("question:Proceed?"),
        Some(Screen::Question("Proceed?".into(), None))
    );
}

#[test]
fn a_nudge_waits_in_the_queue_while_a_dialog_is_up() {
    use gt_lib::nudge::{nudge_with, Mode};
    let k = Kit::new();
    let s = k.sling(&["asked something"]).unwrap().remove(0);
    k.tmux
        .set_screen(&s.session, "  Trust this folder?\n\n› 1. Yes\n  2. No\n")
        .unwrap();
    let before = k.tmux.sent_text(&s.session).len();
    let out = nudge_with(
        &k.ws,
        &s.agent,
        "please go on",
        Mode::WaitIdle,
        std::time::Duration::ZERO,
        "human",
    )
    .unwrap();
    assert_eq!(out.status, "queued", "{out:?}");
    assert_eq!(
        k.tmux.sent_text(&s.session).len(),
        before,
        "typed into a dialog"
    );
    // Once the dialog is gone, an immediate nudge is typed.
    k.tmux.set_screen(&s.session, "$ ").unwrap();
    let out = nudge_with(
        &k.ws,
        &s.agent,
        "now",
        Mode::WaitIdle,
        std::time::Duration::ZERO,
        "human",
    )
    .unwrap();
    assert_eq!(out.status, "delivered", "{out:?}");
}
