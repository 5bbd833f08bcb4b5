//! Sling on the fake host: a new polecat, reuse of an idle one, the
//! capacity queue, and a failed start taking back what it created.

use gt_host::testing::TmuxCall;
use gt_lib::bead::Status;
use gt_lib::event::kind;
use gt_lib::polecat::PolecatState;
use gt_lib::sling::DoneArgs;
use gt_lib::store::{BeadStore, RigStore, SessionFilter, WorkStore};

use crate::testkit::{Kit, ACTOR, RIG};

#[test]
fn sling_starts_a_new_polecat_in_its_own_worktree_and_session() {
    let k = Kit::new();
    let slung = k.sling(&["fix the parser"]).unwrap();
    assert_eq!(slung.len(), 1);
    let s = &slung[0];
    assert!(s.created_bead && !s.queued);
    assert_eq!(s.rig, RIG);
    assert_eq!(s.runtime, "fake");
    assert_eq!(s.branch, format!("polecat/{}/{}", s.polecat, s.bead));

    // The store: the bead hooked to a working polecat, one running session.
    let bead = k.ws.store.get_bead(&s.bead).unwrap();
    assert_eq!(bead.title, "fix the parser");
    assert_eq!(
        bead.status,
        Status::InProgress,
        "running once tmux started it"
    );
    let pc = k.ws.store.get_polecat(RIG, &s.polecat).unwrap();
    assert_eq!(pc.state, PolecatState::Working);
    assert_eq!(pc.bead.as_deref(), Some(s.bead.as_str()));
    let sessions = k.ws.store.list_sessions(&SessionFilter::default()).unwrap();
    assert_eq!(sessions.len(), 1);
    assert!(sessions[0].is_open() && sessions[0].running_at.is_some());
    assert_eq!(sessions[0].tmux_session, s.session);

    // git: a worktree on the bead's branch, cut from main.
    let repo = k.ws.repo_dir(RIG);
    let main = k.ws.host.git.resolve(&repo, "refs/heads/main").unwrap();
    assert_eq!(k.ws.host.git.resolve(&s.worktree, "HEAD").unwrap(), main);
    assert!(k.ws.host.git.branch_exists(&repo, &s.branch).unwrap());

    // tmux: one session, in the worktree, with the agent's environment.
    let fake = k.tmux.session(&s.session).expect("a tmux session");
    assert_eq!(fake.cwd, s.worktree);
    assert_eq!(fake.argv[0], "sh");
    assert_eq!(fake.env_var("GT_BEAD"), Some(s.bead.as_str()));
    assert_eq!(fake.env_var("GT_AGENT"), Some(s.agent.as_str()));
    assert_eq!(k.tmux.session_names(), vec![s.session.clone()]);

    // Events: the polecat was added and the bead slung.
    assert_eq!(k.events(kind::POLECAT_ADDED).len(), 1);
    let sling = k.events(kind::SLING);
    assert_eq!(sling.len(), 1);
    assert_eq!(sling[0].bead.as_deref(), Some(s.bead.as_str()));
}

#[test]
fn sling_reuses_an_idle_polecat_and_its_worktree() {
    let k = Kit::new();
    let first = k.sling(&["first task"]).unwrap().remove(0);
    k.commit_file(&first.worktree, "a.txt", "a\n");
    gt_lib::sling::done(
        &k.ws,
        &first.worktree,
        &DoneArgs {
            status: None,
            note: None,
            wip: false,
            no_changes: false,
        },
        ACTOR,
    )
    .unwrap();
    // The agent's session ends after `gt done` (tmux kills it later).
    assert!(k
        .tmux
        .calls()
        .contains(&TmuxCall::KillSessionLater(first.session.clone(), 1)));
    k.tmux.remove_session(&first.session);
    assert_eq!(
        k.ws.store.get_polecat(RIG, &first.polecat).unwrap().state,
        PolecatState::Idle
    );

    let second = k.sling(&["second task"]).unwrap().remove(0);
    assert_eq!(second.polecat, first.polecat, "the idle polecat is reused");
    assert_eq!(second.worktree, first.worktree);
    assert_ne!(second.branch, first.branch);
    assert_eq!(k.ws.store.list_polecats(Some(RIG)).unwrap().len(), 1);
    assert_eq!(k.events(kind::POLECAT_ADDED).len(), 1);
    assert_eq!(k.tmux.starts(&first.session), 2);
    // The reused worktree is on the new branch, cut from main.
    let repo = k.ws.repo_dir(RIG);
    assert_eq!(
        k.ws.host.git.resolve(&second.worktree, "HEAD").unwrap(),
        k.ws.host.git.resolve(&repo, "refs/heads/main").unwrap()
    );
}

#[test]
fn sling_queues_at_capacity_and_starts_nothing() {
    let k = Kit::with_config(&[("scheduler.max_polecats", "1")]);
    let running = k.sling(&["one"]).unwrap().remove(0);
    assert!(!running.queued);
    let queued = k.sling(&["two"]).unwrap().remove(0);
    assert!(queued.queued);
    assert!(queued.polecat.is_empty() && queued.session.is_empty());
    let bead = k.ws.store.get_bead(&queued.bead).unwrap();
    assert_eq!(bead.status, Status::Queued);
    assert_eq!(
        bead.metadata.get("queue_rig").and_then(|v| v.as_str()),
        Some(RIG)
    );
    // One polecat, one tmux session: the queued bead started nothing.
    assert_eq!(k.ws.store.list_polecats(None).unwrap().len(), 1);
    assert_eq!(k.tmux.session_names(), vec![running.session]);
    assert_eq!(k.events(kind::SLING).len(), 1);
}

/// Everything a failed sling must have taken back.
fn assert_nothing_left(k: &Kit, err: &gt_lib::Error) {
    assert!(
        matches!(k.ws.store.list_polecats(None), Ok(p) if p.is_empty()),
        "{err}"
    );
    assert!(
        k.ws.store
            .list_beads(&Default::default())
            .unwrap()
            .is_empty(),
        "the new bead is dropped"
    );
    let sessions = k.ws.store.list_sessions(&SessionFilter::default()).unwrap();
    assert!(sessions.iter().all(|s| !s.is_open()), "no open session");
    assert!(k.tmux.session_names().is_empty(), "no tmux session");
    let left: Vec<_> = std::fs::read_dir(k.ws.rig_dir(RIG).join("polecats"))
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "no worktree left: {left:?}");
    let branches =
        k.ws.host
            .git
            .list_branches(&k.ws.repo_dir(RIG), "polecat/*")
            .unwrap();
    assert!(branches.is_empty(), "{branches:?}");
}

#[test]
fn a_start_tmux_refuses_takes_back_the_bead_polecat_worktree_and_branch() {
    let k = Kit::new();
    k.tmux.fail_next_start("no server running");
    let err = k.sling(&["doomed"]).unwrap_err();
    assert!(err.to_string().contains("no server running"), "{err}");
    assert_nothing_left(&k, &err);
    let starts = k.tmux.calls();
    assert!(
        matches!(&starts[..], [TmuxCall::NewSession { name, .. }, TmuxCall::KillSession(killed)]
            if *name == k.session("nux") && killed == name),
        "{starts:?}"
    );
}

#[test]
fn an_agent_that_exits_at_once_is_a_failed_start() {
    let k = Kit::new();
    k.tmux.start_dead(Some(Some(127)));
    let err = k.sling(&["doomed"]).unwrap_err();
    assert!(
        err.to_string().contains("exited at once (exit code 127)"),
        "{err}"
    );
    assert_nothing_left(&k, &err);
    // The dead session was killed.
    assert!(k
        .tmux
        .calls()
        .iter()
        .any(|c| matches!(c, TmuxCall::KillSession(_))));
    // A later sling (agent fixed) works.
    k.tmux.start_dead(None);
    assert_eq!(k.sling(&["fine"]).unwrap().len(), 1);
}
