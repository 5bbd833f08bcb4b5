//! Aider's completion signal (`Completion::CommitsAtPrompt`): it cannot run
//! `gt done`, so the deacon does, once the agent is back at its prompt on
//! two consecutive observations with a commit beyond its base and a clean
//! worktree. Screens are real captures of aider 0.86.2 (`screens/`).

use gt_lib::deacon::{kind, patrol_with, PatrolReport};
use gt_lib::sling::{SlingRequest, Slung};

use crate::testkit::{Kit, ACTOR, RIG};

const BANNER: &str = include_str!("screens/aider-banner.txt");
const APPLYING: &str = include_str!("screens/aider-applying.txt");
const AFTER_COMMIT: &str = include_str!("screens/aider-after-commit.txt");

fn kinds(r: &PatrolReport) -> Vec<&str> {
    r.actions.iter().map(|a| a.kind.as_str()).collect()
}

/// A kit whose caller has an `aider` on PATH (the fake tmux never runs
/// it), and `agent` slung with aider's real banner on its screen.
fn slung(agent: &str) -> (Kit, Slung) {
    let mut k = Kit::new();
    let bin = k.ws.town.root().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let program = bin.join("aider");
    std::fs::write(&program, "#!/bin/sh\nexit 0\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    k.ws.caller = gt_core::caller::CallerEnv::default()
        .with_var("PATH", &format!("{}:/usr/bin:/bin", bin.display()));
    k.tmux.start_screen(BANNER);
    let s = gt_lib::sling::sling(
        &k.ws,
        &SlingRequest {
            work: vec!["add a proof file".into()],
            rig: Some(RIG.into()),
            agent: Some(agent.into()),
            cwd: k.ws.town.root().to_path_buf(),
            ..Default::default()
        },
        ACTOR,
    )
    .unwrap()
    .remove(0);
    (k, s)
}

fn patrol(k: &Kit) -> Vec<String> {
    let r = patrol_with(&k.ws, false).unwrap();
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    k.clock.advance(time::Duration::seconds(10));
    kinds(&r).into_iter().map(str::to_string).collect()
}

fn status(k: &Kit, bead: &str) -> String {
    use gt_lib::store::BeadStore;
    k.ws.store.get_bead(bead).unwrap().status.to_string()
}

#[test]
fn aider_back_at_its_prompt_with_a_commit_is_finished_by_the_deacon() {
    let (k, s) = slung("aider");
    // The instruction was typed once the banner showed.
    let typed = k.tmux.sent_text(&s.session);
    // It cannot run gt, so it is not told to.
    assert!(
        typed.iter().any(|t| t.contains(&s.bead)
            && t.contains("gt finishes the bead")
            && !t.contains("gt done")
            && !t.contains("prime")),
        "{typed:?}"
    );
    // Idle at the banner, no commit yet: left alone, however often.
    for _ in 0..3 {
        assert!(!patrol(&k).contains(&kind::COMPLETED.to_string()));
    }
    assert_eq!(status(&k, &s.bead), "in_progress");

    // Aider applies the edit (its history files are in the worktree, kept
    // out of git by the rig's exclude), commits, and is back at `>`.
    std::fs::write(s.worktree.join(".aider.chat.history.md"), "# chat\n").unwrap();
    k.tmux.set_screen(&s.session, APPLYING).unwrap();
    assert!(patrol(&k).is_empty());
    k.commit_file(&s.worktree, "proof.txt", "landed by aider\n");
    k.tmux.set_screen(&s.session, AFTER_COMMIT).unwrap();
    // The first observation at the prompt is not enough.
    assert!(!patrol(&k).contains(&kind::COMPLETED.to_string()));
    let done = patrol(&k);
    assert_eq!(
        done.iter().filter(|a| *a == kind::COMPLETED).count(),
        1,
        "{done:?}"
    );
    assert_eq!(status(&k, &s.bead), "merging");
    let ev = k.events(kind::COMPLETED);
    assert_eq!(ev.len(), 1);
    assert!(
        ev[0].summary.contains("back at its prompt")
            && ev[0].summary.contains("aider cannot run gt done"),
        "{}",
        ev[0].summary
    );
    assert_eq!(ev[0].payload["reason"], "commits_at_prompt");
    assert_eq!(ev[0].payload["commits"], 1);
    assert_eq!(ev[0].actor, "deacon");
    let exclude = std::fs::read_to_string(k.ws.repo_dir(RIG).join("info/exclude")).unwrap();
    assert!(exclude.lines().any(|l| l == "/.aider*"), "{exclude}");
    // Nothing was typed for it after the instruction, and it is done once.
    assert_eq!(k.tmux.sent_text(&s.session), typed);
    assert!(!patrol(&k).contains(&kind::COMPLETED.to_string()));
    assert_eq!(k.events(kind::COMPLETED).len(), 1);
}

#[test]
fn a_changing_screen_a_dialog_or_uncommitted_changes_keep_it_open() {
    let (k, s) = slung("aider");
    k.commit_file(&s.worktree, "proof.txt", "one\n");
    // Each observation at the prompt differs from the one before: moving.
    for i in 0..3 {
        let screen = format!("{AFTER_COMMIT}\nTokens: {i} sent\n>");
        k.tmux.set_screen(&s.session, &screen).unwrap();
        assert!(!patrol(&k).contains(&kind::COMPLETED.to_string()));
    }
    // A question on screen is never read as finished.
    let question = format!("{AFTER_COMMIT}\nCreate new file notes.txt? (Y)es/(N)o [Yes]:");
    k.tmux.set_screen(&s.session, &question).unwrap();
    for _ in 0..2 {
        assert!(!patrol(&k).contains(&kind::COMPLETED.to_string()));
    }
    // At the prompt, still, but a tracked file is changed and not committed.
    k.tmux.set_screen(&s.session, AFTER_COMMIT).unwrap();
    std::fs::write(s.worktree.join("README.md"), "edited\n").unwrap();
    for _ in 0..3 {
        assert!(!patrol(&k).contains(&kind::COMPLETED.to_string()));
    }
    assert_eq!(status(&k, &s.bead), "in_progress");
    // Committed: finished at the next patrol (the screen did not move).
    k.commit_file(&s.worktree, "README.md", "edited\n");
    assert!(patrol(&k).contains(&kind::COMPLETED.to_string()));
    assert_eq!(status(&k, &s.bead), "merging");
}

#[test]
fn an_agent_that_runs_gt_done_itself_is_never_finished_for_it() {
    let (k, s) = slung("fake");
    assert!(
        k.tmux.session(&s.session).is_some(),
        "the custom agent runs"
    );
    k.commit_file(&s.worktree, "proof.txt", "one\n");
    k.tmux.set_screen(&s.session, AFTER_COMMIT).unwrap();
    for _ in 0..3 {
        assert!(!patrol(&k).contains(&kind::COMPLETED.to_string()));
    }
    assert_eq!(status(&k, &s.bead), "in_progress");
}

/// Aider idle at its banner with no commit for longer than `stall_after`:
/// the deacon's reminder is plain words to its model — never a gt command
/// it cannot run.
#[test]
fn a_stalled_aider_is_reminded_without_gt_commands() {
    let (k, s) = slung("aider");
    let before = k.tmux.sent_text(&s.session).len();
    let mut nudged = false;
    for _ in 0..4 {
        let r = patrol_with(&k.ws, false).unwrap();
        assert!(r.failures.is_empty(), "{:?}", r.failures);
        nudged |= kinds(&r).contains(&kind::NUDGED);
        k.clock.advance(time::Duration::minutes(20));
    }
    assert!(nudged, "never reminded");
    let sent = k.tmux.sent_text(&s.session);
    let reminders = &sent[before..];
    assert!(!reminders.is_empty());
    for r in reminders {
        assert!(r.contains(&s.bead), "{r}");
        assert!(!r.contains("gt done") && !r.contains("gt escalate"), "{r}");
    }
    assert_eq!(status(&k, &s.bead), "in_progress");
}
