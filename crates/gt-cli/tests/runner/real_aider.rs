//! The whole loop with the REAL Aider (issue 12). Aider has no shell tool,
//! so it cannot run `gt done`: its completion signal is its own commits plus
//! its return to the `> ` prompt (`Completion::CommitsAtPrompt`), which the
//! deacon's patrol reads. `gt sling "free text" rig --agent aider` starts
//! it in tmux, configured from the caller's environment the way aider
//! documents (`OPENAI_API_BASE`, `OPENAI_API_KEY`, `AIDER_*`); gt types the
//! instruction once the banner shows; the scripted model answers in the
//! "whole" edit format, aider writes and commits proof.txt and returns to
//! its prompt; patrols see it idle there with a new commit and finish it;
//! the refinery lands it on main. The CLI is found from `GT_TEST_AIDER`;
//! without it the test prints one line and returns, unless `CI` is set.

use std::time::{Duration, Instant};

use gt_testkit::model_server::{when, Api, ModelServer, Reply, Script};
use gt_testkit::real_cli;

use crate::common::{git, TestTown};
use crate::real_support::{
    assert_never_stored, assert_nothing_left, path_with, write_git_identity, SECRET,
};

#[test]
fn aider_slung_through_gt_commits_and_the_deacon_lands_it_on_main() {
    let Some(aider) = real_cli::locate("GT_TEST_AIDER", "aider") else {
        return;
    };
    let t = TestTown::new();
    t.with_rig("app");
    write_git_identity(&t);
    let path = path_with(&aider);

    // Aider's second, non-streamed request asks for the commit message; the
    // turn itself is answered with the whole new file.
    let script = || {
        Script::new()
            .when(
                when::contains("commit message"),
                Reply::text("add proof.txt").with_usage(90, 9, 0),
            )
            .otherwise(Reply::text("proof.txt\n```\nlanded by aider\n```\n").with_usage(800, 60, 0))
    };
    let server = ModelServer::start(script()).unwrap();
    let owned = aider_caller(&path, &server.base_url());
    let caller: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let slung = crate::real_support::sling(&t, &caller, "add a proof file", "app", "aider");
    let (bead, wt, session) = (slung.bead, slung.worktree, slung.session);
    let screen = || crate::real_support::screen(&t, &session);

    // Aider commits on its own; until then a patrol never finishes it.
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut screens: Vec<String> = Vec::new();
    let mut patrols: Vec<Vec<String>> = Vec::new();
    // A patrol also runs the refinery, so the one that finishes the agent
    // may land it at once: wait for the patrol's `deacon.completed`.
    let completed = |p: &Vec<Vec<String>>| p.iter().flatten().any(|k| k == "deacon.completed");
    while !completed(&patrols) {
        let now = screen();
        if !now.trim().is_empty() && screens.last() != Some(&now) {
            screens.push(now.clone());
        }
        assert!(
            Instant::now() < deadline,
            "aider was not finished in 180s\nscreen:\n{now}\npatrols: {patrols:?}\n\
             status: {}\nrequests: {:#?}",
            git(&wt, &["status", "--porcelain", "--ignored"]),
            server
                .requests()
                .iter()
                .map(|r| (
                    r.path.clone(),
                    r.text().chars().take(300).collect::<String>()
                ))
                .collect::<Vec<_>>()
        );
        // Until aider has committed and sits at its prompt, a patrol leaves it.
        let status = t.bead_status(&bead);
        assert!(
            status == "hooked" || status == "in_progress",
            "{status} before the deacon finished it"
        );
        patrols.push(t.patrol());
        std::thread::sleep(Duration::from_millis(500));
    }
    let status = t.bead_status(&bead);
    assert!(
        status != "hooked" && status != "in_progress",
        "still {status} after gt done"
    );
    // Recording fixtures: `GT_TEST_SCREENS_DIR=DIR` keeps every screen seen.
    if let Ok(dir) = std::env::var("GT_TEST_SCREENS_DIR") {
        for (i, s) in screens.iter().enumerate() {
            std::fs::write(format!("{dir}/aider-{i}.txt"), s).unwrap();
        }
    }

    let finished = patrols
        .iter()
        .flatten()
        .filter(|k| *k == "deacon.completed")
        .count();
    assert_eq!(finished, 1, "{patrols:?}");
    let turns = server.requests_for(Api::Chat);
    // The typed instruction reached the model, with the caller's key.
    assert!(
        turns.iter().any(|r| r.wants_stream()
            && r.contains(&bead)
            && r.contains("add a proof file")
            && r.contains("gt finishes the bead")),
        "the instruction never reached the model"
    );
    assert!(turns
        .iter()
        .any(|r| r.header("authorization") == Some(&format!("Bearer {SECRET}"))));
    // The trail says gt finished it, and why.
    let trail = t.ok(&["trail", "-n", "50"]);
    assert!(
        trail.contains("back at its prompt") && trail.contains(&bead),
        "{trail}"
    );

    // Costs: aider counts the tokens itself (it does not ask the API for
    // usage while streaming) and writes them in its chat history
    // (`> Tokens: N sent, M received.`): gt records exactly those.
    let history = std::fs::read_to_string(wt.join(".aider.chat.history.md")).unwrap();
    let mut counted = (0i64, 0i64);
    for l in history.lines() {
        if let Some(rest) = l.trim_start_matches('>').trim().strip_prefix("Tokens: ") {
            let num = |w: &str| w.trim().replace(',', "").parse::<i64>().unwrap();
            let mut parts = rest.split(", ");
            let sent = parts.next().unwrap().trim_end_matches(" sent");
            let recv = parts.next().unwrap().split(' ').next().unwrap();
            counted.0 += num(sent);
            counted.1 += num(recv);
        }
    }
    assert!(counted.0 > 0 && counted.1 > 0, "{history}");
    t.wait_for(30, "aider's counts in gt costs", |t| {
        let _ = t.run(&["deacon", "patrol", "--once"]);
        let (have, _) = crate::real_support::recorded_usage(t);
        have == [counted.0, counted.1, 0]
    });
    let v = t.json(&["costs", "--by", "bead"]);
    assert_eq!(v["rows"][0]["key"], bead.as_str(), "{v}");

    // Landed by the patrol's own refinery run, or by this one.
    t.ok(&["refinery", "run", "--once"]);
    let landed = git(&t.repo("app"), &["show", "main:proof.txt"]);
    assert_eq!(landed, "landed by aider\n");

    assert_nothing_left(&t);
    assert_never_stored(&t, SECRET);
}

/// What an aider user exports to reach the scripted server (aider reads an
/// `AIDER_*` variable for every option).
fn aider_caller(path: &str, base: &str) -> Vec<(&'static str, String)> {
    vec![
        ("PATH", path.to_string()),
        ("OPENAI_API_BASE", format!("{base}/v1")),
        ("OPENAI_API_KEY", SECRET.to_string()),
        ("AIDER_MODEL", "openai/scripted-model".into()),
        ("AIDER_EDIT_FORMAT", "whole".into()),
        ("AIDER_SHOW_MODEL_WARNINGS", "false".into()),
        ("AIDER_SHOW_RELEASE_NOTES", "false".into()),
    ]
}

/// `gt nudge` reaches the real aider verbatim: back at its `>` prompt after
/// its first reply, the nudge is typed as its next chat message.
#[test]
fn a_nudge_reaches_the_real_aider_verbatim() {
    let Some(aider) = real_cli::locate("GT_TEST_AIDER", "aider") else {
        return;
    };
    let t = TestTown::new();
    t.with_rig("app");
    write_git_identity(&t);
    let server = ModelServer::start(crate::real_support::nudge_script()).unwrap();
    let owned = aider_caller(&path_with(&aider), &server.base_url());
    let caller: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let s = crate::real_support::sling(&t, &caller, "wait for a nudge", "app", "aider");
    crate::real_support::assert_nudge_verbatim(&t, &server, &s.agent, &s.session);
    assert_nothing_left(&t);
}

/// A crash with the real Aider: killed at its prompt after a first turn,
/// the deacon ends the session; `gt resume` starts aider with
/// `--restore-chat-history`, so the model's next request carries the earlier
/// chat (its first reply), and the resumed aider commits and is finished by
/// the deacon.
#[test]
fn aider_crash_is_resumed_with_its_chat_history() {
    let Some(aider) = real_cli::locate("GT_TEST_AIDER", "aider") else {
        return;
    };
    const FIRST: &str = "FIRST-REPLY-7c: I will wait for more detail.";
    let t = TestTown::new();
    t.with_rig("app");
    write_git_identity(&t);
    t.ok(&["config", "set", "deacon.restart_backoff", "1h"]);
    let path = path_with(&aider);
    let script = Script::new()
        .when(
            when::contains("commit message"),
            Reply::text("add after.txt"),
        )
        // The resumed session: the earlier chat is in the request.
        .when(
            when::contains("FIRST-REPLY-7c"),
            Reply::text("after.txt\n```\nafter the crash\n```\n"),
        )
        .otherwise(Reply::text(FIRST));
    let server = ModelServer::start(script).unwrap();
    let owned = aider_caller(&path, &server.base_url());
    let caller: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let s = crate::real_support::sling(&t, &caller, "work that crashes", "app", "aider");
    t.wait_for(120, "aider's first reply", |t| {
        crate::real_support::screen(t, &s.session).contains("FIRST-REPLY-7c")
    });
    crate::real_support::crash(&t, &s.worktree, &s.bead, "aider");
    let before = server.requests().len();
    t.ok_env(&caller, &["--json", "resume", &s.bead]);
    t.wait_for(180, "the resumed aider to be finished", |t| {
        t.patrol().iter().any(|k| k == "deacon.completed")
            || !matches!(t.bead_status(&s.bead).as_str(), "hooked" | "in_progress")
    });
    assert!(
        server.requests()[before..]
            .iter()
            .any(|r| r.contains("FIRST-REPLY-7c") && r.contains("work that crashes")),
        "the resumed aider did not carry its chat history"
    );
    t.ok(&["refinery", "run", "--once"]);
    assert_eq!(
        git(&t.repo("app"), &["show", "main:after.txt"]),
        "after the crash\n"
    );
    assert_nothing_left(&t);
}

/// The model API failing, then recovering: while aider retries (litellm's
/// `Retrying in 0.2 seconds...`, doubling) `gt agents` shows `error` from
/// its screen; once the API answers, aider writes and commits the file and
/// returns to its `>` prompt, the retries above it are history, and the
/// deacon finishes it as usual.
#[test]
fn aider_api_failure_shows_error_then_it_recovers_and_finishes() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let Some(aider) = real_cli::locate("GT_TEST_AIDER", "aider") else {
        return;
    };
    let t = TestTown::new();
    t.with_rig("app");
    write_git_identity(&t);
    // The first five attempts of the turn fail (0.2 + 0.5 + 1 + 2 + 4 s of
    // retries); the sixth gets the whole new file.
    let failures = AtomicUsize::new(0);
    let script = Script::new()
        .when(
            Box::new(move |r| {
                r.wants_stream()
                    && r.contains("recover after failures")
                    && failures.fetch_add(1, Ordering::SeqCst) < 5
            }),
            Reply::error(500),
        )
        .when(
            when::contains("commit message"),
            Reply::text("add proof.txt"),
        )
        .otherwise(Reply::text("proof.txt\n```\nrecovered\n```\n"));
    let server = ModelServer::start(script).unwrap();
    let owned = aider_caller(&path_with(&aider), &server.base_url());
    let caller: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let s = crate::real_support::sling(&t, &caller, "recover after failures", "app", "aider");
    t.wait_for(30, "state error while aider retries", |t| {
        let a = t.agent_row(&s.agent);
        a["state"] == "error" && a["state_source"] == "screen"
    });
    // Recovered: committed, back at its prompt, finished by a patrol.
    let deadline = Instant::now() + Duration::from_secs(120);
    while !matches!(t.bead_status(&s.bead).as_str(), "merging" | "closed") {
        assert!(
            Instant::now() < deadline,
            "aider was not finished after the API recovered\nscreen:\n{}",
            crate::real_support::screen(&t, &s.session)
        );
        let _ = t.patrol();
        std::thread::sleep(Duration::from_millis(500));
    }
    let failed = server
        .requests()
        .iter()
        .filter(|r| r.wants_stream() && r.contains("recover after failures"))
        .count();
    assert!(failed >= 6, "{failed} attempt(s)");
    t.ok(&["refinery", "run", "--once"]);
    assert_eq!(
        git(&t.repo("app"), &["show", "main:proof.txt"]),
        "recovered\n"
    );
    assert_nothing_left(&t);
}
