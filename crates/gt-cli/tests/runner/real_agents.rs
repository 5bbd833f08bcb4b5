//! The whole loop with a REAL agent CLI (issue 12): a town with a trusted
//! rig, `gt sling "free text" rig --agent claude` with the scripted model
//! server's URL passed through the caller's environment, the real CLI in
//! tmux on the town's socket, the scripted model making it edit a file,
//! commit and run `gt done` by the absolute path the briefing gives, then
//! `gt refinery run --once` landing it on main. The CLI is found from
//! `GT_TEST_CLAUDE` (`.ci/install-agents.sh`); without it the test prints
//! one line and returns, unless `CI` is set (then it fails).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gt_testkit::model_server::{when, ModelServer, Reply, Script};
use gt_testkit::real_cli;

use crate::common::{git, gt_bin, system_path, TestTown};

/// A token that must never be written anywhere in the town.
pub(crate) const SECRET: &str = "sk-scripted-secret-7d1f0c2a9b";

/// PATH with the real CLI's directory first, then the test's system PATH.
pub(crate) fn path_with(cli: &Path) -> String {
    let dir = cli.parent().expect("the CLI has a directory");
    format!("{}:{}", dir.display(), system_path())
}

/// Every process (other than this test's) whose cwd or command line is in
/// `root`.
pub(crate) fn processes_in(root: &Path) -> Vec<String> {
    let me = std::process::id().to_string();
    let root_s = root.to_string_lossy().into_owned();
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for e in dir.flatten() {
        let pid = e.file_name().to_string_lossy().into_owned();
        if !pid.chars().all(|c| c.is_ascii_digit()) || pid == me {
            continue;
        }
        let cwd = std::fs::read_link(e.path().join("cwd")).unwrap_or_default();
        let cmdline = std::fs::read(e.path().join("cmdline"))
            .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
            .unwrap_or_default();
        if cwd.starts_with(root) || cmdline.contains(&root_s) {
            found.push(format!("{pid} cwd={} cmd={cmdline}", cwd.display()));
        }
    }
    found
}

/// Every file under `dir`, recursively.
pub(crate) fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => todo.push(p),
                Ok(t) if t.is_file() => out.push(p),
                _ => {}
            }
        }
    }
    out
}

/// After `gt down --all`: waits up to 15 s until no process of the town is
/// left, else fails with the list.
pub(crate) fn assert_nothing_left(t: &TestTown) {
    t.ok(&["down", "--all"]);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let left = processes_in(&t.root);
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "processes left in the town: {left:#?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `secret` is in no file under the town's `.gt` and not in the trail.
pub(crate) fn assert_never_stored(t: &TestTown, secret: &str) {
    let trail = t.ok(&["--json", "trail", "-n", "500"]);
    assert!(!trail.contains(secret), "the secret is in the trail");
    for f in files_under(&t.root.join(".gt")) {
        let bytes = std::fs::read(&f).unwrap_or_default();
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "the secret is in {}",
            f.display()
        );
    }
}

#[test]
fn claude_slung_through_gt_edits_commits_and_lands_on_main() {
    let Some(claude) = real_cli::locate("GT_TEST_CLAUDE", "claude") else {
        return;
    };
    let t = TestTown::new();
    t.with_rig("app");
    // The user's git identity, which the agent's commit uses.
    std::fs::write(
        t.home.join(".gitconfig"),
        "[user]\n\tname = Agent User\n\temail = agent@example.com\n",
    )
    .unwrap();
    let gt = gt_bin();
    let gt = gt.to_str().unwrap().to_string();
    let path = path_with(&claude);

    // The model: one shell turn that edits, commits and runs `gt done` by
    // the absolute path, then a closing text.
    let work = format!(
        "printf 'landed by claude\\n' > proof.txt && git add proof.txt && \
         git commit -q -m 'add proof.txt' && '{gt}' done && echo DONE-OK"
    );
    // Each reply reports its own usage, so the recorded totals are known.
    let script = || {
        Script::new()
            .when(
                when::last_tool_result_contains("DONE-OK"),
                Reply::text("Finished.").with_usage(500, 60, 7),
            )
            .when(
                when::and(when::offers_tools(), when::user_turn()),
                Reply::shell(&work).with_usage(1200, 300, 40),
            )
            .otherwise(Reply::text("Nothing more to do.").with_usage(11, 3, 2))
    };
    let server = ModelServer::start(script()).unwrap();
    let base = server.base_url();
    let caller: Vec<(&str, &str)> = vec![
        ("PATH", &path),
        ("ANTHROPIC_BASE_URL", &base),
        ("ANTHROPIC_AUTH_TOKEN", SECRET),
        ("DISABLE_AUTOUPDATER", "1"),
        ("DISABLE_TELEMETRY", "1"),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
        ("IS_SANDBOX", "1"),
    ];

    // Trust writes claude's folder trust and onboarding in the caller's HOME.
    t.ok_env(&caller, &["rig", "trust", "app"]);
    let claude_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.home.join(".claude.json")).unwrap())
            .unwrap();
    assert_eq!(claude_json["hasCompletedOnboarding"], true, "{claude_json}");

    let mut args = vec!["--json", "sling", "add a proof file", "app"];
    args.extend(["--agent", "claude"]);
    let out = t.ok_env(&caller, &args);
    let slung: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    let bead = slung["bead"].as_str().unwrap().to_string();
    let wt = PathBuf::from(slung["worktree"].as_str().unwrap());
    // The new worktree was trusted before the agent started.
    let claude_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.home.join(".claude.json")).unwrap())
            .unwrap();
    assert_eq!(
        claude_json["projects"][wt.to_str().unwrap()]["hasTrustDialogAccepted"],
        true,
        "{claude_json}"
    );

    let session = slung["session"].as_str().unwrap().to_string();
    let socket = gt_lib::tmux::socket_name_for(&t.root);
    let screen = || {
        std::process::Command::new("tmux")
            .args(["-L", &socket, "capture-pane", "-p", "-t", &session])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    let deadline = Instant::now() + Duration::from_secs(180);
    while t.bead_status(&bead) != "merging" {
        assert!(
            Instant::now() < deadline,
            "claude did not reach `gt done` in 180s\nscreen:\n{}\nrequests: {:#?}",
            screen(),
            server
                .requests()
                .iter()
                .map(|r| (r.path.clone(), r.last_tool_result()))
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    let requests = server.requests();
    // The first prompt names gt by its absolute path, and the SessionStart
    // hook's `gt prime` briefing reached the model.
    assert!(
        requests.iter().any(|r| r.contains(&format!("{gt} prime"))),
        "the first prompt did not name the absolute gt"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.contains("(Gas Town polecat)") && r.contains(&format!("Your bead: {bead}"))),
        "the SessionStart briefing never reached the model"
    );
    assert!(requests
        .iter()
        .any(|r| r.header("authorization") == Some(&format!("Bearer {SECRET}"))));

    // The refinery lands it on main.
    t.ok(&["refinery", "run", "--once"]);
    let landed = git(&t.repo("app"), &["show", "main:proof.txt"]);
    assert_eq!(landed, "landed by claude\n");

    assert_costs_are_the_servers(&t, &server, &script(), &bead, &screen);

    // After `gt down --all`, nothing of the agent is left.
    assert_nothing_left(&t);

    // The token was passed to the session only: it is in no file of the
    // town (database, logs, hook settings) and not in the trail.
    assert_never_stored(&t, SECRET);
}

/// The usage the scripted server sent, summed over the requests `counts`
/// keeps: `[input, output, cache_read]` and how many requests.
pub(crate) fn server_usage(
    server: &ModelServer,
    script: &Script,
    counts: &dyn Fn(&gt_testkit::model_server::Request) -> bool,
) -> ([i64; 3], usize) {
    let mut want = [0i64; 3];
    let mut turns = 0;
    for r in server.requests().iter().filter(|r| counts(r)) {
        let u = script.reply_for(r).usage;
        // OpenAI and Gemini count the cached part in their input; gt keeps
        // it apart (Anthropic's way), as `cache_read_tokens`.
        let cached_in_input = r.api != Some(gt_testkit::model_server::Api::Anthropic);
        want[0] += u.input as i64
            - if cached_in_input {
                u.cache_read as i64
            } else {
                0
            };
        want[1] += u.output as i64;
        want[2] += u.cache_read as i64;
        turns += 1;
    }
    (want, turns)
}

/// `gt --json costs --by bead`'s totals as `[input, output, cache_read]`.
pub(crate) fn recorded_usage(t: &TestTown) -> ([i64; 3], serde_json::Value) {
    let v = t.json(&["costs", "--by", "bead"]);
    let tot = &v["totals"];
    let n = |k: &str| tot[k].as_i64().unwrap_or(-1);
    (
        [
            n("input_tokens"),
            n("output_tokens"),
            n("cache_read_tokens"),
        ],
        v,
    )
}

/// Waits (up to `secs`, patrolling: the deacon reads the files of recently
/// ended sessions again) until `gt costs` equals exactly the usage the
/// scripted server sent in the requests `counts` keeps (at least one) —
/// with or without the closing turn after `gt done` (the request whose tool
/// result says `DONE-OK`): gt ends the session a second after `gt done`,
/// and a CLI that had not written that turn's usage by then never will.
/// Returns the costs JSON.
pub(crate) fn assert_costs_match_server(
    t: &TestTown,
    server: &ModelServer,
    script: &Script,
    counts: &dyn Fn(&gt_testkit::model_server::Request) -> bool,
    secs: u64,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let closing = |r: &gt_testkit::model_server::Request| {
        r.last_tool_result().is_some_and(|t| t.contains("DONE-OK"))
    };
    loop {
        let _ = t.run(&["deacon", "patrol", "--once"]);
        let (want, turns) = server_usage(server, script, counts);
        let (before_closing, _) = server_usage(server, script, &|r| counts(r) && !closing(r));
        let (have, v) = recorded_usage(t);
        if (have == want || have == before_closing) && turns >= 1 && have != [0, 0, 0] {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "gt costs {have:?} != the server's {want:?} over {turns} requests\n{v}\ntrail:\n{}",
            t.ok(&["trail", "--kind", "session.usage", "-n", "50"])
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// `gt costs` equals exactly the usage the scripted server sent in the
/// agent's main conversation: the replies to every request that is not a
/// side request (titles, summaries), as the script answers them. Claude's
/// transcript holds those replies only. Waits for the session to end (`gt
/// done` ends it a moment later) and for the last `Stop` hook's report.
fn assert_costs_are_the_servers(
    t: &TestTown,
    server: &ModelServer,
    script: &Script,
    bead: &str,
    screen: &dyn Fn() -> String,
) {
    let expected = |requests: &[gt_testkit::model_server::Request]| {
        let mut want = [0i64; 3];
        let mut turns = 0;
        for r in requests.iter().filter(|r| r.side_kind().is_none()) {
            let u = script.reply_for(r).usage;
            want[0] += u.input as i64;
            want[1] += u.output as i64;
            want[2] += u.cache_read as i64;
            turns += 1;
        }
        (want, turns)
    };
    let got = |t: &TestTown| {
        let v = t.json(&["costs", "--by", "bead"]);
        let tot = &v["totals"];
        (
            [
                tot["input_tokens"].as_i64().unwrap(),
                tot["output_tokens"].as_i64().unwrap(),
                tot["cache_read_tokens"].as_i64().unwrap(),
            ],
            v,
        )
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (want, turns) = expected(&server.requests());
        let (have, v) = got(t);
        if have == want && turns >= 2 {
            // The shell turn and the closing text: exactly these numbers.
            assert_eq!(want, [1200 + 500, 300 + 60, 40 + 7], "turns: {turns}");
            assert_eq!(v["by"], "bead");
            assert_eq!(v["rows"][0]["key"], bead);
            assert_eq!(v["rows"][0]["sessions"], 1);
            assert_eq!(v["totals"]["cache_write_tokens"], 0);
            // The cost is Claude's own (its status line's
            // `cost.total_cost_usd`), never computed by gt: in a session
            // this short the status line may not have run before `gt done`
            // ended it (the crash test waits for it), so null or positive.
            assert!(
                v["totals"]["cost_micros"].is_null()
                    || v["totals"]["cost_micros"].as_i64().is_some_and(|c| c > 0),
                "{v}"
            );
            let status = t.json(&["status"]);
            assert_eq!(status["costs"]["input_tokens"], want[0], "{status}");
            assert!(t.ok(&["status"]).contains("Costs: 1 session(s)"));
            return;
        }
        assert!(
            Instant::now() < deadline,
            "gt costs {have:?} != the server's {want:?} over {turns} turns\n{v}\nscreen:\n{}",
            screen()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The pids (and command lines) of the processes whose cwd is in `dir`.
fn pids_in(dir: &Path) -> Vec<(u32, String)> {
    processes_in(dir)
        .into_iter()
        .filter_map(|l| {
            let (pid, rest) = l.split_once(' ')?;
            Some((pid.parse().ok()?, rest.to_string()))
        })
        .collect()
}

/// M4: Claude crashes mid-work (killed while its shell command runs); the
/// deacon saves the uncommitted work and ends the session; `gt resume`
/// starts `claude … --resume <the session_id its SessionStart hook
/// recorded>`, the model's next request carries the earlier conversation,
/// and the agent finishes with `gt done`; the work lands.
#[test]
fn claude_crash_mid_work_is_saved_and_resumed_with_its_conversation() {
    use gt_lib::store::{CostStore, WorkStore};
    let Some(claude) = real_cli::locate("GT_TEST_CLAUDE", "claude") else {
        return;
    };
    let t = TestTown::new();
    t.with_rig("app");
    std::fs::write(
        t.home.join(".gitconfig"),
        "[user]\n\tname = Agent User\n\temail = agent@example.com\n",
    )
    .unwrap();
    // The deacon records deaths but leaves the restart to `gt resume` here.
    t.ok(&["config", "set", "deacon.restart_backoff", "1h"]);
    let gt = gt_bin().to_str().unwrap().to_string();
    let path = path_with(&claude);
    let finish = format!(
        "printf 'after the crash\\n' > after.txt && git add -A && \
         git commit -q -m 'finish after resume' && '{gt}' done && echo DONE-OK"
    );
    let script = || {
        Script::new()
            .when(
                when::last_tool_result_contains("DONE-OK"),
                Reply::text("Finished.").with_usage(300, 30, 3),
            )
            // The earlier conversation is in the request: the resumed session.
            .when(
                when::and(when::contains("CRASH-POINT"), when::user_turn()),
                Reply::shell(&finish).with_usage(2000, 200, 20),
            )
            .when(
                when::and(when::offers_tools(), when::user_turn()),
                Reply::shell("printf 'unsaved work\\n' > wip.txt && sleep 600 # CRASH-POINT")
                    .with_usage(1000, 100, 10),
            )
            .otherwise(Reply::text("Nothing more to do.").with_usage(5, 5, 5))
    };
    let server = ModelServer::start(script()).unwrap();
    let base = server.base_url();
    let caller: Vec<(&str, &str)> = vec![
        ("PATH", &path),
        ("ANTHROPIC_BASE_URL", &base),
        ("ANTHROPIC_AUTH_TOKEN", "scripted"),
        ("DISABLE_AUTOUPDATER", "1"),
        ("DISABLE_TELEMETRY", "1"),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
        ("IS_SANDBOX", "1"),
    ];
    t.ok_env(&caller, &["rig", "trust", "app"]);
    let out = t.ok_env(
        &caller,
        &[
            "--json",
            "sling",
            "work that crashes",
            "app",
            "--agent",
            "claude",
        ],
    );
    let slung: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    let bead = slung["bead"].as_str().unwrap().to_string();
    let wt = PathBuf::from(slung["worktree"].as_str().unwrap());
    let first = slung["session_id"]
        .as_i64()
        .expect("session_id in sling --json");

    // Mid-work: the file is written, the long command runs.
    t.wait_for(120, "claude to run its long command", |_| {
        wt.join("wip.txt").is_file() && pids_in(&wt).iter().any(|(_, c)| c.contains("sleep 600"))
    });
    let conversation = t
        .store()
        .agent_session_id(first)
        .unwrap()
        .expect("the SessionStart hook recorded claude's session_id");
    // Claude's status line reported the session's cost meanwhile.
    t.wait_for(30, "the status line's cost", |t| {
        t.store()
            .session_usage(first)
            .unwrap()
            .is_some_and(|u| u.usage.cost_micros.is_some_and(|c| c > 0))
    });
    // The crash: claude and its command die.
    for (pid, cmd) in pids_in(&wt) {
        if cmd.contains("claude") || cmd.contains("sleep 600") {
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status();
        }
    }
    t.wait_for(30, "the pane to be dead", |t| {
        t.json(&["agents"])
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["bead"] == bead.as_str() && a["live"] != "running")
    });
    t.ok(&["deacon", "patrol", "--once"]);
    let ended = t.store().get_session(first).unwrap();
    // Exited (a dead pane) or vanished (tmux dropped the session): a crash.
    assert!(
        matches!(ended.end_reason.as_deref(), Some("exited" | "vanished")),
        "{ended:?}"
    );
    // The dead agent's uncommitted work was saved on its branch.
    let saved = git(&wt, &["show", &format!("{}:wip.txt", ended.branch)]);
    assert_eq!(saved, "unsaved work\n");

    let out = t.ok_env(&caller, &["--json", "resume", &bead]);
    let resumed: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_ne!(resumed["session_id"].as_i64(), Some(first));
    // The new claude runs with --resume and the recorded id.
    t.wait_for(30, "the resumed claude", |_| {
        pids_in(&wt)
            .iter()
            .any(|(_, c)| c.contains("claude") && c.contains(&format!("--resume {conversation}")))
    });
    let deadline = Instant::now() + Duration::from_secs(180);
    while t.bead_status(&bead) != "merging" {
        assert!(
            Instant::now() < deadline,
            "the resumed claude did not reach gt done; requests: {:#?}",
            server
                .requests()
                .iter()
                .map(|r| (r.path.clone(), r.last_tool_result()))
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    // The resumed request carried the earlier conversation: the first
    // instruction and the command that was running when it died.
    let requests = server.requests();
    assert!(requests.iter().any(|r| !r.last_is_tool_result()
        && r.contains("CRASH-POINT")
        && r.contains("work that crashes")));
    // Both sessions' usage together is the conversation's, counted once
    // (the resumed session continues the same transcript).
    let script = script();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut want = [0i64; 3];
        for r in server.requests().iter().filter(|r| r.side_kind().is_none()) {
            let u = script.reply_for(r).usage;
            want[0] += u.input as i64;
            want[1] += u.output as i64;
            want[2] += u.cache_read as i64;
        }
        let v = t.json(&["costs", "--by", "bead"]);
        let tot = &v["totals"];
        let have = [
            tot["input_tokens"].as_i64().unwrap(),
            tot["output_tokens"].as_i64().unwrap(),
            tot["cache_read_tokens"].as_i64().unwrap(),
        ];
        if have == want {
            assert_eq!(tot["sessions"], 2, "{v}");
            assert!(
                tot["cost_micros"].as_i64().is_some_and(|c| c > 0),
                "{v}\n{}",
                t.ok(&["--json", "trail", "--kind", "session.usage", "-n", "50"])
            );
            assert!(want[0] >= 1000 + 2000, "{want:?}");
            break;
        }
        if Instant::now() >= deadline {
            let st = t.store();
            for sess in st.list_sessions(&Default::default()).unwrap() {
                eprintln!(
                    "DIAG session {} agent id {:?} usage {:?}",
                    sess.id,
                    st.agent_session_id(sess.id).unwrap(),
                    st.session_usage(sess.id).unwrap().map(|u| u.usage)
                );
            }
            for f in files_under(&t.home.join(".claude/projects")) {
                let text = std::fs::read_to_string(&f).unwrap_or_default();
                for l in text.lines() {
                    let j: serde_json::Value = serde_json::from_str(l).unwrap_or_default();
                    if j["type"] == "assistant" {
                        eprintln!(
                            "DIAG {} sid={} req={} in={}",
                            f.file_name().unwrap().to_string_lossy(),
                            j["sessionId"],
                            j["requestRef"],
                            j["message"]["usage"]["input_tokens"]
                        );
                    }
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "costs {have:?} != the server's {want:?}: {v}\n{}",
            t.ok(&["trail", "--kind", "session.usage", "-n", "50"])
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    t.ok(&["refinery", "run", "--once"]);
    assert_eq!(
        git(&t.repo("app"), &["show", "main:wip.txt"]),
        "unsaved work\n"
    );
    assert_eq!(
        git(&t.repo("app"), &["show", "main:after.txt"]),
        "after the crash\n"
    );
    assert_nothing_left(&t);
}

/// The real OpenCode slung through gt: it edits, commits and runs `gt done`
/// by the absolute path; gt reads its usage from OpenCode's own database
/// (read-only) — exactly the scripted server's usage of the turns OpenCode
/// finished (the title request is not a message and does not count), with
/// the cost OpenCode computed from the configured price.
#[test]
fn opencode_slung_through_gt_records_its_costs() {
    let Some(opencode) = real_cli::locate("GT_TEST_OPENCODE", "opencode") else {
        return;
    };
    let t = TestTown::new();
    t.with_rig("app");
    std::fs::write(
        t.home.join(".gitconfig"),
        "[user]\n\tname = Agent User\n\temail = agent@example.com\n",
    )
    .unwrap();
    let gt = gt_bin().to_str().unwrap().to_string();
    // The work, then `gt done` in a turn of its own: OpenCode writes a
    // turn's usage when the turn's tool has returned, and `gt done` ends the
    // session a moment after it returns.
    let work = "printf 'landed by opencode\\n' > proof.txt && git add proof.txt && \
                git commit -q -m 'add proof.txt' && echo COMMITTED";
    let script = Script::new()
        .when(
            when::last_tool_result_contains("DONE-OK"),
            Reply::text("Finished.").with_usage(400, 40, 4),
        )
        .when(
            when::last_tool_result_contains("COMMITTED"),
            Reply::shell(&format!("'{gt}' done && echo DONE-OK")).with_usage(300, 30, 3),
        )
        .when(
            when::and(when::offers_tools(), when::user_turn()),
            Reply::shell(work).with_usage(1000, 100, 10),
        )
        .otherwise(Reply::text("Nothing more to do.").with_usage(7, 8, 9));
    let server = ModelServer::start(script).unwrap();
    let config = t.home.join(".config/opencode");
    std::fs::create_dir_all(&config).unwrap();
    let provider = serde_json::json!({
        "provider": { "scripted": {
            "npm": "@ai-sdk/openai-compatible", "name": "Scripted",
            "options": { "baseURL": format!("{}/v1", server.base_url()), "apiKey": "scripted-token" },
            // Dollars per million tokens.
            "models": { "scripted-model": { "name": "Scripted model",
                "cost": { "input": 3, "output": 15, "cache_read": 0.3, "cache_write": 3.75 } } },
        } },
        "model": "scripted/scripted-model",
        "permission": { "bash": "allow", "edit": "allow" },
    });
    std::fs::write(config.join("opencode.json"), provider.to_string()).unwrap();
    let path = path_with(&opencode);
    let caller: Vec<(&str, &str)> = vec![
        ("PATH", &path),
        ("OPENCODE_DISABLE_MODELS_FETCH", "1"),
        ("OPENCODE_DISABLE_AUTOUPDATE", "1"),
        ("OPENCODE_DISABLE_LSP_DOWNLOAD", "1"),
        ("OPENCODE_DISABLE_DEFAULT_PLUGINS", "1"),
    ];
    let out = t.ok_env(
        &caller,
        &[
            "--json",
            "sling",
            "add a proof file",
            "app",
            "--agent",
            "opencode",
        ],
    );
    let slung: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    let bead = slung["bead"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(180);
    while t.bead_status(&bead) != "merging" {
        assert!(
            Instant::now() < deadline,
            "opencode did not reach gt done; requests: {:#?}",
            server
                .requests()
                .iter()
                .map(|r| (r.path.clone(), r.side_kind(), r.last_tool_result()))
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    // `gt done` runs inside the shell turn, before OpenCode writes that
    // turn's usage; the deacon reads recently ended sessions again. Wait for
    // the closing turn (or the session's end) and patrol.
    t.wait_for(30, "the session to end", |t| {
        t.json(&["agents"])
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["live"] != "running")
    });
    t.ok(&["deacon", "patrol", "--once"]);
    let v = t.json(&["costs", "--by", "bead"]);
    let tot = &v["totals"];
    assert_eq!(v["rows"][0]["key"], bead.as_str(), "{v}");
    // OpenAI-style input includes the cached part; gt records it apart.
    // The work turn always counts; the `gt done` turn when OpenCode wrote it
    // before the session ended; the closing one when it happened.
    let turns = [(1000 - 10, 100, 10), (300 - 3, 30, 3), (400 - 4, 40, 4)];
    let closing = server
        .requests()
        .iter()
        .any(|r| r.last_tool_result().is_some_and(|t| t.contains("DONE-OK")));
    let got = (
        tot["input_tokens"].as_i64().unwrap(),
        tot["output_tokens"].as_i64().unwrap(),
        tot["cache_read_tokens"].as_i64().unwrap(),
    );
    let sums: Vec<(i64, i64, i64)> = (1..=3)
        .map(|n| {
            turns[..n]
                .iter()
                .fold((0, 0, 0), |a, t| (a.0 + t.0, a.1 + t.1, a.2 + t.2))
        })
        .collect();
    assert!(
        got == sums[0] || got == sums[1] || (closing && got == sums[2]),
        "{got:?} is none of {sums:?} (closing turn seen: {closing}): {v}"
    );
    let (input, output, cached) = got;
    // OpenCode's own price arithmetic (dollars per million tokens).
    let cost = tot["cost_micros"].as_i64().expect("a cost");
    let expect = (input * 3 + output * 15) as f64 + cached as f64 * 0.3;
    assert!(
        (cost as f64 - expect).abs() <= 3.0,
        "{cost} vs {expect}: {v}"
    );
    t.ok(&["refinery", "run", "--once"]);
    assert_eq!(
        git(&t.repo("app"), &["show", "main:proof.txt"]),
        "landed by opencode\n"
    );
    assert_nothing_left(&t);
}

/// Claude's `StopFailure` hook reports a failed model API: `gt agents`
/// shows `rate_limited` for a 429 and `error` for a 529, within seconds.
#[test]
fn claude_api_failures_show_in_gt_agents() {
    let Some(claude) = real_cli::locate("GT_TEST_CLAUDE", "claude") else {
        return;
    };
    for (status, rig, want) in [(429, "app", "rate_limited"), (529, "lib", "error")] {
        let t = TestTown::new();
        t.with_rig(rig);
        let path = path_with(&claude);
        let script = Script::new()
            .when(when::offers_tools(), Reply::error(status))
            .otherwise(Reply::text("ok"));
        let server = ModelServer::start(script).unwrap();
        let base = server.base_url();
        let caller: Vec<(&str, &str)> = vec![
            ("PATH", &path),
            ("ANTHROPIC_BASE_URL", &base),
            ("ANTHROPIC_AUTH_TOKEN", "scripted"),
            ("DISABLE_AUTOUPDATER", "1"),
            ("DISABLE_TELEMETRY", "1"),
            ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
            ("CLAUDE_CODE_MAX_RETRIES", "0"),
            ("IS_SANDBOX", "1"),
        ];
        t.ok_env(&caller, &["rig", "trust", rig]);
        let out = t.ok_env(
            &caller,
            &["--json", "sling", "fail please", rig, "--agent", "claude"],
        );
        let slung: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
        let bead = slung["bead"].as_str().unwrap().to_string();
        t.wait_for(90, &format!("state {want} after HTTP {status}"), |t| {
            t.json(&["agents"])
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["bead"] == bead && a["state"] == want && a["state_source"] == "hook")
        });
        assert!(server.requests().iter().any(|r| r.offers_tools()));
    }
}

/// The town's `runtime.env` and the proxies reach every session (a custom
/// agent here), a preset's own prefixes only its own runtime, and no value
/// is written to the database, the logs or the trail.
#[test]
fn caller_variables_reach_the_session_and_are_never_stored() {
    let t = TestTown::new();
    t.with_rig("app");
    let dump = t.dir.path().join("env.txt");
    t.set_agent(
        "dumper",
        &format!("sh -c 'env > {}; sleep 60'", dump.display()),
    );
    t.ok(&["config", "set", "runtime.env", "MY_*, EXTRA"]);
    assert!(t
        .refuses(&["config", "set", "runtime.env", "BAD-NAME"])
        .contains("runtime.env"));
    let caller = [
        ("MY_TOKEN", SECRET),
        ("EXTRA", "extra-value"),
        ("HTTPS_PROXY", "http://proxy.example:3128"),
        ("ANTHROPIC_AUTH_TOKEN", "not-for-a-custom-agent"),
        ("UNRELATED", "unrelated-value"),
    ];
    t.ok_env(
        &caller,
        &["sling", "show the env", "app", "--agent", "dumper"],
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let text = loop {
        let text = std::fs::read_to_string(&dump).unwrap_or_default();
        if text.contains("GT_BIN=") {
            break text;
        }
        assert!(Instant::now() < deadline, "the agent never wrote its env");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        text.lines().any(|l| l == format!("MY_TOKEN={SECRET}")),
        "{text}"
    );
    assert!(text.lines().any(|l| l == "EXTRA=extra-value"), "{text}");
    assert!(text
        .lines()
        .any(|l| l == "HTTPS_PROXY=http://proxy.example:3128"));
    assert!(text
        .lines()
        .any(|l| l == format!("GT_BIN={}", gt_bin().display())));
    assert!(!text.contains("not-for-a-custom-agent"), "{text}");
    assert!(!text.contains("unrelated-value"), "{text}");
    assert_never_stored(&t, SECRET);
}

/// As root, claude needs `IS_SANDBOX` to skip permissions: without it in
/// what the session would get, sling refuses up front and writes nothing.
#[test]
fn claude_as_root_without_is_sandbox_is_refused_up_front() {
    use std::os::unix::fs::MetadataExt;
    let t = TestTown::new();
    t.with_rig("app");
    let path = t.fake_program("claude", "echo 'bypass permissions on'\nsleep 60\n");
    let root = std::fs::metadata("/proc/self").unwrap().uid() == 0;
    if root {
        let before = t.fingerprint();
        let mut c = t.cmd();
        c.env("PATH", &path);
        let out = c
            .args(["sling", "needs a sandbox", "app", "--agent", "claude"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains("IS_SANDBOX"), "{err}");
        assert_eq!(t.fingerprint(), before, "a refused sling wrote something");
    }
    // With IS_SANDBOX (or not as root) the same sling starts the agent.
    let out = t.ok_env(
        &[("PATH", &path), ("IS_SANDBOX", "1")],
        &[
            "--json",
            "sling",
            "in a sandbox",
            "app",
            "--agent",
            "claude",
        ],
    );
    assert!(out.contains("\"runtime\":\"claude\""), "{out}");
}
