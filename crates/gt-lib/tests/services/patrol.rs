//! The deacon's patrol on the fake host: a dead agent's work is saved and
//! the agent restarted once the backoff has passed on the settable clock; a
//! stalled agent is nudged. No tmux, no sleeping.

use gt_lib::deacon::{kind, patrol_with};
use gt_lib::session::end_reason;
use gt_lib::store::{RigStore, SessionFilter, WorkStore};

use crate::testkit::{Kit, RIG};

fn kinds(r: &gt_lib::deacon::PatrolReport) -> Vec<&str> {
    r.actions.iter().map(|a| a.kind.as_str()).collect()
}

#[test]
fn a_dead_pane_is_saved_ended_and_restarted_after_the_backoff() {
    let k = Kit::with_config(&[("deacon.restart_backoff", "10s")]);
    let s = k.sling(&["crashy work"]).unwrap().remove(0);
    std::fs::write(s.worktree.join("half-done.txt"), "unsaved\n").unwrap();
    k.tmux.kill_pane(&s.session, Some(1)).unwrap();

    // First patrol: the session is dead; its work is committed, the record
    // ended, the pane killed. The backoff has not passed: no restart yet.
    let r = patrol_with(&k.ws, false).unwrap();
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    assert_eq!(kinds(&r), vec![kind::SAVED_WORK, kind::SESSION_DEAD]);
    let sessions = k.ws.store.list_sessions(&SessionFilter::default()).unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].end_reason.as_deref(), Some(end_reason::EXITED));
    assert!(
        k.tmux.session(&s.session).is_none(),
        "the dead pane is gone"
    );
    assert!(!k.ws.host.git.is_dirty(&s.worktree).unwrap());
    let repo = k.ws.repo_dir(RIG);
    let tip =
        k.ws.host
            .git
            .resolve(&repo, &format!("refs/heads/{}", s.branch))
            .unwrap()
            .unwrap();
    let base = &sessions[0].base_commit;
    let commits = k.ws.host.git.commits_between(&repo, base, &tip).unwrap();
    assert_eq!(commits.len(), 1);
    assert!(commits[0].subject.starts_with("WIP: saved by the deacon"));
    assert_eq!(k.events(kind::SAVED_WORK).len(), 1);

    // Nine seconds later: still inside the backoff.
    k.clock.advance(time::Duration::seconds(9));
    let r = patrol_with(&k.ws, false).unwrap();
    assert!(kinds(&r).is_empty(), "{:?}", r.actions);
    assert_eq!(k.tmux.starts(&s.session), 1);

    // Past it: a new session on the same polecat, worktree and branch.
    k.clock.advance(time::Duration::seconds(2));
    let r = patrol_with(&k.ws, false).unwrap();
    assert_eq!(kinds(&r), vec![kind::RESTARTED]);
    assert_eq!(k.tmux.starts(&s.session), 2);
    let fake = k.tmux.session(&s.session).unwrap();
    assert!(!fake.info.pane_dead);
    assert_eq!(fake.cwd, s.worktree);
    assert_eq!(fake.env_var("GT_BRANCH"), Some(s.branch.as_str()));
    let open =
        k.ws.store
            .list_sessions(&SessionFilter {
                open_only: true,
                ..Default::default()
            })
            .unwrap();
    assert_eq!(open.len(), 1);
    assert_ne!(open[0].id, sessions[0].id);
    assert_eq!(k.events(kind::RESTARTED).len(), 1);
    // A patrol right after changes nothing (the agent is alive).
    assert!(kinds(&patrol_with(&k.ws, false).unwrap()).is_empty());
}

#[test]
fn a_stalled_agent_is_nudged_once_per_stall_period() {
    let k = Kit::with_config(&[("deacon.stall_after", "15m")]);
    let s = k.sling(&["slow work"]).unwrap().remove(0);
    k.tmux
        .set_screen(&s.session, "thinking about it...")
        .unwrap();
    // The deacon samples the screen on every patrol: the first sees it new.
    assert!(kinds(&patrol_with(&k.ws, false).unwrap()).is_empty());

    // Quiet for less than stall_after: nothing.
    k.clock.advance(time::Duration::minutes(10));
    assert!(kinds(&patrol_with(&k.ws, false).unwrap()).is_empty());
    assert!(k.tmux.sent_text(&s.session).is_empty());

    // Past it: one reminder typed into the pane.
    k.clock.advance(time::Duration::minutes(6));
    let r = patrol_with(&k.ws, false).unwrap();
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    assert_eq!(kinds(&r), vec![kind::NUDGED]);
    let sent = k.tmux.sent_text(&s.session);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(
        sent[0].contains(&format!("you hold {}", s.bead)),
        "{sent:?}"
    );
    let nudged = k.events(kind::NUDGED);
    assert_eq!(nudged.len(), 1);
    assert_eq!(nudged[0].bead.as_deref(), Some(s.bead.as_str()));

    // The next patrol, a minute later: not again yet.
    k.clock.advance(time::Duration::minutes(1));
    assert!(kinds(&patrol_with(&k.ws, false).unwrap()).is_empty());
    assert_eq!(k.tmux.sent_text(&s.session).len(), 1);
}

#[test]
fn backoff_doubles_and_the_deacon_gives_up_after_max_restarts() {
    let k = Kit::with_config(&[
        ("deacon.restart_backoff", "10s"),
        ("deacon.max_restarts", "2"),
    ]);
    let s = k.sling(&["always crashes"]).unwrap().remove(0);
    let sec = time::Duration::seconds;
    // Crash 1: restarted 10 s later.
    k.tmux.kill_pane(&s.session, Some(1)).unwrap();
    assert_eq!(
        kinds(&patrol_with(&k.ws, false).unwrap()),
        vec![kind::SESSION_DEAD]
    );
    k.clock.advance(sec(10));
    assert_eq!(
        kinds(&patrol_with(&k.ws, false).unwrap()),
        vec![kind::RESTARTED]
    );
    // Crash 2: the backoff doubled; not after 10 s, after 20 s.
    k.tmux.kill_pane(&s.session, Some(1)).unwrap();
    assert_eq!(
        kinds(&patrol_with(&k.ws, false).unwrap()),
        vec![kind::SESSION_DEAD]
    );
    k.clock.advance(sec(10));
    assert!(kinds(&patrol_with(&k.ws, false).unwrap()).is_empty());
    k.clock.advance(sec(10));
    assert_eq!(
        kinds(&patrol_with(&k.ws, false).unwrap()),
        vec![kind::RESTARTED]
    );
    assert_eq!(k.tmux.starts(&s.session), 3);
    // Crash 3 is one more than max_restarts: the bead is given back, the
    // polecat is stuck, a human is told; no fourth start.
    k.tmux.kill_pane(&s.session, Some(1)).unwrap();
    let r = patrol_with(&k.ws, false).unwrap();
    assert_eq!(kinds(&r), vec![kind::SESSION_DEAD, kind::GAVE_UP]);
    k.clock.advance(sec(3600));
    assert!(kinds(&patrol_with(&k.ws, false).unwrap()).is_empty());
    assert_eq!(k.tmux.starts(&s.session), 3);
    assert_eq!(
        k.ws.store.get_polecat(RIG, &s.polecat).unwrap().state,
        gt_lib::polecat::PolecatState::Stuck
    );
    assert_eq!(
        gt_lib::store::BeadStore::get_bead(&k.ws.store, &s.bead)
            .unwrap()
            .status,
        gt_lib::bead::Status::Open
    );
    assert_eq!(k.events(kind::GAVE_UP).len(), 1);
}

#[test]
fn an_agent_at_a_question_is_reported_to_the_human_and_never_answered() {
    let k = Kit::new();
    let s = k.sling(&["risky work"]).unwrap().remove(0);
    k.tmux
        .set_screen(
            &s.session,
            "about to delete build/\nDo you want to proceed? (y/n)",
        )
        .unwrap();
    let r = patrol_with(&k.ws, false).unwrap();
    assert_eq!(kinds(&r), vec![kind::ASKED_HUMAN]);
    let mail = gt_lib::mail::inbox(&k.ws, "human", true, None).unwrap();
    assert_eq!(mail.len(), 1);
    assert!(
        mail[0].subject.contains("waits for input"),
        "{}",
        mail[0].subject
    );
    assert!(mail[0].body.contains("Do you want to proceed? (y/n)"));
    // Once per session, and nothing is ever typed into the pane.
    k.clock.advance(time::Duration::hours(2));
    let again = patrol_with(&k.ws, false).unwrap();
    assert!(
        !kinds(&again).contains(&kind::ASKED_HUMAN),
        "{:?}",
        again.actions
    );
    assert_eq!(
        gt_lib::mail::inbox(&k.ws, "human", true, None)
            .unwrap()
            .len(),
        1
    );
    assert!(k.tmux.sent_text(&s.session).is_empty());
    assert!(!k
        .tmux
        .calls()
        .iter()
        .any(|c| matches!(c, gt_host::testing::TmuxCall::SendEnter(_))));
}
