//! The whole loop with the REAL Codex CLI (issue 12): a trusted rig,
//! `gt sling "free text" rig --agent codex` with the provider set up the
//! way a user would (`~/.codex/config.toml`, a custom Responses provider
//! pointing at the scripted model server, its key in the caller's
//! environment), the Codex TUI in tmux on the town's socket, the scripted
//! model making it write, commit and run `gt done` with its own
//! `exec_command` tool — a login shell that resets PATH, so `gt` is reached
//! by its absolute path or `$GT_BIN` (M13) — then `gt refinery run --once`
//! landing it on main. Two codex polecats slung together each run as
//! themselves (M1). The CLI comes from `GT_TEST_CODEX`; without it the test
//! prints one line and returns, unless `CI` is set (then it fails).

use std::path::Path;
use std::time::{Duration, Instant};

use gt_testkit::model_server::{when, ModelServer, Reply, Script};
use gt_testkit::real_cli;

use crate::common::{git, TestTown};
use crate::real_support::{
    assert_briefed, assert_costs_and_proof_landed, assert_crash_work_landed, assert_never_stored,
    assert_nothing_left, crash, crash_script, done_script, path_with, proof_work, screen, sling,
    wait_crash_point, wait_merging, write_git_identity, SECRET,
};

/// `~/.codex/config.toml` as a user sets up a custom provider: the scripted
/// server's Responses API, its key read from `OPENAI_API_KEY`.
fn write_codex_config(home: &Path, base_url: &str) {
    std::fs::create_dir_all(home.join(".codex")).unwrap();
    std::fs::write(
        home.join(".codex/config.toml"),
        format!(
            "# the user's own settings\n\
             model_provider = \"scripted\"\n\
             model = \"scripted-model\"\n\
             check_for_update_on_startup = false\n\n\
             [model_providers.scripted]\n\
             name = \"scripted\"\n\
             base_url = \"{base_url}/v1\"\n\
             env_key = \"OPENAI_API_KEY\"\n\
             wire_api = \"responses\"\n"
        ),
    )
    .unwrap();
}

/// Whether `config.toml` says `trust_level = "trusted"` for `dir`.
fn codex_trusts(home: &Path, dir: &Path) -> bool {
    let text = std::fs::read_to_string(home.join(".codex/config.toml")).unwrap_or_default();
    let header = format!("[projects.\"{}\"]", dir.display());
    let Some(at) = text.find(&header) else {
        return false;
    };
    let rest = &text[at + header.len()..];
    let table = rest.split("\n[").next().unwrap_or("");
    table
        .lines()
        .any(|l| l.replace(' ', "") == "trust_level=\"trusted\"")
}

/// Codex and the caller's environment for it: PATH with the CLI, the key.
fn codex_caller(codex: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("PATH", path_with(codex)),
        ("OPENAI_API_KEY", SECRET.to_string()),
    ]
}

#[test]
fn codex_slung_through_gt_edits_commits_and_lands_on_main() {
    let Some(codex) = real_cli::locate("GT_TEST_CODEX", "codex") else {
        return;
    };
    let t = TestTown::new();
    t.with_rig("app");
    write_git_identity(&t);

    // One exec_command turn: edit, commit and `gt done` by the absolute
    // path (codex's login shell has reset PATH), then a closing text.
    let work = proof_work("codex");
    let script = || done_script(&work, (1500, 250, 30), (400, 50, 5));
    let server = ModelServer::start(script()).unwrap();
    write_codex_config(&t.home, &server.base_url());
    let owned = codex_caller(&codex);
    let caller: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();

    t.ok_env(&caller, &["rig", "trust", "app"]);
    let s = sling(&t, &caller, "add a proof file", "app", "codex");
    // The new worktree was trusted before codex started, and the user's own
    // settings are kept.
    assert!(codex_trusts(&t.home, &s.worktree), "worktree not trusted");
    let config = std::fs::read_to_string(t.home.join(".codex/config.toml")).unwrap();
    assert!(config.contains("# the user's own settings"), "{config}");
    assert!(config.contains("[model_providers.scripted]"), "{config}");

    wait_merging(&t, "codex", &[&s], &server, 180);

    assert_briefed(&server, &s.agent, "AGENTS.md");
    let requests = server.requests();
    assert!(requests
        .iter()
        .any(|r| r.header("authorization") == Some(&format!("Bearer {SECRET}"))));

    assert_costs_and_proof_landed(&t, &server, &script(), "codex");
    // AGENTS.md stayed out of the commit.
    let files = git(&t.repo("app"), &["ls-tree", "--name-only", "main"]);
    assert!(!files.lines().any(|f| f == "AGENTS.md"), "{files}");

    assert_nothing_left(&t);
    assert_never_stored(&t, SECRET);
}

/// Two codex polecats slung together each run as themselves: each shell
/// sees its own `GT_AGENT`/`GT_BEAD`, reaches gt through `$GT_BIN`, and
/// both land (M1: a shared codex server ran the second as the first).
#[test]
fn two_codex_polecats_each_run_as_themselves_and_both_land() {
    let Some(codex) = real_cli::locate("GT_TEST_CODEX", "codex") else {
        return;
    };
    let t = TestTown::new();
    t.with_rig("app");
    write_git_identity(&t);
    // Both agents wait for the test's go, so they run at the same time
    // (a sling returns once its agent is up, and the first could otherwise
    // finish before the second starts).
    let work = "until [ -e \"$GT_TOWN/go\" ]; do sleep 0.2; done; \
                printf '%s %s\\n' \"$GT_AGENT\" \"$GT_BEAD\" > \"proof-$GT_BEAD.txt\" && \
                git add . && git commit -q -m \"proof of $GT_BEAD\" && \"$GT_BIN\" done && echo DONE-OK";
    let script = Script::new()
        .when(
            when::last_tool_result_contains("DONE-OK"),
            Reply::text("Finished."),
        )
        .when(
            when::and(when::offers_tools(), when::user_turn()),
            Reply::shell(work),
        )
        .otherwise(Reply::text("Nothing more to do."));
    let server = ModelServer::start(script).unwrap();
    write_codex_config(&t.home, &server.base_url());
    let owned = codex_caller(&codex);
    let caller: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    t.ok_env(&caller, &["rig", "trust", "app"]);

    let a = sling(&t, &caller, "first proof", "app", "codex");
    let b = sling(&t, &caller, "second proof", "app", "codex");
    assert_ne!(a.agent, b.agent);
    std::fs::write(t.root.join("go"), "").unwrap();
    wait_merging(&t, "codex", &[&a, &b], &server, 240);

    // Land both (one merge request per pass at most).
    let deadline = Instant::now() + Duration::from_secs(60);
    while [&a, &b].iter().any(|s| t.bead_status(&s.bead) != "closed") {
        assert!(
            Instant::now() < deadline,
            "not both landed: {} {}",
            t.bead_status(&a.bead),
            t.bead_status(&b.bead)
        );
        t.ok(&["refinery", "run", "--once"]);
    }
    for s in [&a, &b] {
        let landed = git(
            &t.repo("app"),
            &["show", &format!("main:proof-{}.txt", s.bead)],
        );
        assert_eq!(landed, format!("{} {}\n", s.agent, s.bead));
    }

    assert_nothing_left(&t);
    assert_never_stored(&t, SECRET);
}

/// Without `gt rig trust`, gt does not answer codex's "Trust this folder?"
/// for the user: `gt agents` shows the agent waiting for input, and the
/// model never gets the work.
#[test]
fn codex_in_an_untrusted_rig_waits_at_the_trust_dialog() {
    let Some(codex) = real_cli::locate("GT_TEST_CODEX", "codex") else {
        return;
    };
    let t = TestTown::new();
    t.with_rig("app");
    let server = ModelServer::start(Script::new().otherwise(Reply::text("ok"))).unwrap();
    write_codex_config(&t.home, &server.base_url());
    let owned = codex_caller(&codex);
    let caller: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let s = sling(&t, &caller, "needs trust", "app", "codex");
    assert!(!codex_trusts(&t.home, &s.worktree));
    // The launch watch saw the dialog and said so.
    assert_eq!(s.waiting_for_input.as_deref(), Some("folder_trust"));
    t.wait_for(60, "codex waiting at its trust dialog", |t| {
        t.json(&["agents"])
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["bead"] == s.bead.as_str() && a["state"] == "waiting_for_input")
    });
    let screen = screen(&t, &s.session);
    assert!(screen.contains("Trust this folder?"), "{screen}");
    assert!(
        !server.requests().iter().any(|r| r.contains("needs trust")),
        "the work reached the model in an untrusted folder"
    );
    assert_nothing_left(&t);
}

/// The model API failing (HTTP 500): codex retries (`Reconnecting... 1/5`)
/// and `gt agents` shows `error` from its screen within seconds.
#[test]
fn codex_api_failure_shows_error_in_gt_agents() {
    let Some(codex) = real_cli::locate("GT_TEST_CODEX", "codex") else {
        return;
    };
    let t = TestTown::new();
    t.with_rig("app");
    let server = ModelServer::start(Script::new().otherwise(Reply::error(500))).unwrap();
    write_codex_config(&t.home, &server.base_url());
    let owned = codex_caller(&codex);
    let caller: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    t.ok_env(&caller, &["rig", "trust", "app"]);
    let s = sling(&t, &caller, "the api fails", "app", "codex");
    t.wait_for(30, "state error after HTTP 500", |t| {
        t.json(&["agents"]).as_array().unwrap().iter().any(|a| {
            a["bead"] == s.bead.as_str() && a["state"] == "error" && a["state_source"] == "screen"
        })
    });
    assert!(server.requests().iter().any(|r| r.offers_tools()));
    assert_nothing_left(&t);
}

/// A crash mid-work with the real Codex: killed while its shell command
/// runs, the deacon saves the uncommitted work; `gt resume` starts
/// `codex … resume --last` in the same worktree, the model's next request
/// carries the earlier conversation, and the agent finishes with `gt done`.
#[test]
fn codex_crash_mid_work_is_saved_and_resumed_with_resume_last() {
    let Some(codex) = real_cli::locate("GT_TEST_CODEX", "codex") else {
        return;
    };
    let t = TestTown::new();
    t.with_rig("app");
    write_git_identity(&t);
    // The deacon records the death but leaves the restart to `gt resume`.
    t.ok(&["config", "set", "deacon.restart_backoff", "1h"]);
    // The earlier conversation is in the request: the resumed session.
    let script = crash_script(when::contains("CRASH-POINT"));
    let server = ModelServer::start(script).unwrap();
    write_codex_config(&t.home, &server.base_url());
    let owned = codex_caller(&codex);
    let caller: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    t.ok_env(&caller, &["rig", "trust", "app"]);
    let s = sling(&t, &caller, "work that crashes", "app", "codex");
    let wt = s.worktree.clone();
    wait_crash_point(&t, &wt, "codex");
    // The crash: codex and its command die.
    crash(&t, &wt, &s.bead, "codex");
    let branch = git(&wt, &["rev-parse", "--abbrev-ref", "HEAD"]);
    assert_eq!(
        git(&wt, &["show", &format!("{}:wip.txt", branch.trim())]),
        "unsaved work\n",
        "the dead agent's work was not saved"
    );
    let before = server.requests().len();
    t.ok_env(&caller, &["--json", "resume", &s.bead]);
    wait_merging(&t, "codex", &[&s], &server, 180);
    // The resumed request carried the earlier conversation (`resume
    // --last`; a fresh start would have run the long command again).
    assert!(server.requests()[before..]
        .iter()
        .any(|r| r.contains("CRASH-POINT") && r.contains("work that crashes")));
    assert_crash_work_landed(&t);
    assert_nothing_left(&t);
}

/// `gt nudge` reaches the real Codex TUI verbatim: idle at its prompt after
/// its first turn, the nudge's shell, quote and non-ASCII text arrives at
/// the model as typed.
#[test]
fn a_nudge_reaches_the_real_codex_tui_verbatim() {
    let Some(codex) = real_cli::locate("GT_TEST_CODEX", "codex") else {
        return;
    };
    let t = TestTown::new();
    t.with_rig("app");
    let server = ModelServer::start(crate::real_support::nudge_script()).unwrap();
    write_codex_config(&t.home, &server.base_url());
    let owned = codex_caller(&codex);
    let caller: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    t.ok_env(&caller, &["rig", "trust", "app"]);
    let s = sling(&t, &caller, "wait for a nudge", "app", "codex");
    crate::real_support::assert_nudge_verbatim(&t, &server, &s.agent, &s.session);
    assert_nothing_left(&t);
}
