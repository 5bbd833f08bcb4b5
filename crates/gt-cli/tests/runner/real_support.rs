//! What every real-CLI runner test shares (`real_agents`, `real_codex`,
//! `real_gemini`, `real_opencode`, `real_aider`, `real_nudge`): the secret
//! that must never be stored, the caller's PATH, slinging and waiting,
//! screens, the processes left in a town, and costs against the scripted
//! server's usage.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gt_testkit::model_server::{ModelServer, Script};

use crate::common::{system_path, TestTown};

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

/// The user's git identity, which the agents' commits use.
pub(crate) fn write_git_identity(t: &TestTown) {
    std::fs::write(
        t.home.join(".gitconfig"),
        "[user]\n\tname = Agent User\n\temail = agent@example.com\n",
    )
    .unwrap();
}

/// What `gt --json sling` printed about a slung bead.
pub(crate) struct Slung {
    pub bead: String,
    pub agent: String,
    pub session: String,
    pub worktree: PathBuf,
    /// The dialog the launch watch saw, if any.
    pub waiting_for_input: Option<String>,
}

/// `gt --json sling TITLE RIG --agent AGENT` with the caller's environment.
pub(crate) fn sling(
    t: &TestTown,
    caller: &[(&str, &str)],
    title: &str,
    rig: &str,
    agent: &str,
) -> Slung {
    let out = t.ok_env(caller, &["--json", "sling", title, rig, "--agent", agent]);
    let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    let field = |k: &str| {
        v[k].as_str()
            .unwrap_or_else(|| panic!("no {k} in {v}"))
            .to_string()
    };
    Slung {
        bead: field("bead"),
        agent: field("agent"),
        session: field("session"),
        worktree: PathBuf::from(field("worktree")),
        waiting_for_input: v["waiting_for_input"].as_str().map(str::to_string),
    }
}

/// The pane of tmux session `session` on the town's socket, for failures.
pub(crate) fn screen(t: &TestTown, session: &str) -> String {
    let socket = gt_lib::tmux::socket_name_for(&t.root);
    std::process::Command::new("tmux")
        .args(["-L", &socket, "capture-pane", "-p", "-t", session])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// Waits up to `secs` for every bead to reach `merging` (the agent ran
/// `gt done`), else fails with each screen and the requests the model saw.
pub(crate) fn wait_merging(
    t: &TestTown,
    cli: &str,
    slung: &[&Slung],
    server: &ModelServer,
    secs: u64,
) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !slung.iter().all(|s| t.bead_status(&s.bead) == "merging") {
        if Instant::now() >= deadline {
            let screens: Vec<String> = slung
                .iter()
                .map(|s| {
                    format!(
                        "--- {} ({}):\n{}",
                        s.session,
                        t.bead_status(&s.bead),
                        screen(t, &s.session)
                    )
                })
                .collect();
            let requests: Vec<_> = server
                .requests()
                .iter()
                .map(|r| (r.path.clone(), r.side_kind(), r.last_tool_result()))
                .collect();
            panic!(
                "{cli} did not reach `gt done` in {secs}s\n{}\nrequests: {requests:#?}",
                screens.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(300));
    }
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

/// The one shell command of the end-to-end tests: write `proof.txt` saying
/// `landed by CLI`, commit it and run `gt done` by the absolute path (some
/// CLIs' shells reset PATH), then echo `DONE-OK`.
pub(crate) fn proof_work(cli: &str) -> String {
    let gt = crate::common::gt_bin();
    format!(
        "printf 'landed by {cli}\\n' > proof.txt && git add proof.txt && \
         git commit -q -m 'add proof.txt' && '{}' done && echo DONE-OK",
        gt.display()
    )
}

/// The model of the end-to-end tests: the first real turn runs `work` with
/// the API's shell tool, the turn after `DONE-OK` closes with a text; each
/// reply reports the given usage `(input, output, cache_read)`, so the
/// recorded totals are known.
pub(crate) fn done_script(work: &str, shell: (u64, u64, u64), closing: (u64, u64, u64)) -> Script {
    use gt_testkit::model_server::{when, Reply};
    Script::new()
        .when(
            when::last_tool_result_contains("DONE-OK"),
            Reply::text("Finished.").with_usage(closing.0, closing.1, closing.2),
        )
        .when(
            when::and(when::offers_tools(), when::user_turn()),
            Reply::shell(work).with_usage(shell.0, shell.1, shell.2),
        )
        .otherwise(Reply::text("Nothing more to do.").with_usage(7, 3, 1))
}

/// What a Claude Code user exports to reach the scripted server: its URL
/// and `token`, no updater or telemetry, and `IS_SANDBOX` (gt may run as
/// root here).
pub(crate) fn claude_caller(path: &str, base: &str, token: &str) -> Vec<(&'static str, String)> {
    vec![
        ("PATH", path.to_string()),
        ("ANTHROPIC_BASE_URL", base.to_string()),
        ("ANTHROPIC_AUTH_TOKEN", token.to_string()),
        ("DISABLE_AUTOUPDATER", "1".into()),
        ("DISABLE_TELEMETRY", "1".into()),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1".into()),
        ("IS_SANDBOX", "1".into()),
    ]
}

/// The pids (and command lines) of the processes whose cwd is in `dir`.
pub(crate) fn pids_in(dir: &Path) -> Vec<(u32, String)> {
    processes_in(dir)
        .into_iter()
        .filter_map(|l| {
            let (pid, rest) = l.split_once(' ')?;
            Some((pid.parse().ok()?, rest.to_string()))
        })
        .collect()
}

/// The long command of the crash tests: it writes uncommitted work, then
/// runs until the test kills the agent.
pub(crate) const CRASH_WORK: &str = "printf 'unsaved work\\n' > wip.txt && sleep 600 # CRASH-POINT";

/// The command that finishes the crash tests' bead after the resume.
pub(crate) fn crash_finish() -> String {
    format!(
        "printf 'after the crash\\n' > after.txt && git add -A && \
         git commit -q -m 'finish after resume' && '{}' done && echo DONE-OK",
        crate::common::gt_bin().display()
    )
}

/// The crash tests' model: [`CRASH_WORK`] for the first instruction, the
/// [`crash_finish`] command once `resumed` holds for a request (the resumed
/// session), then a closing text.
pub(crate) fn crash_script(resumed: gt_testkit::model_server::Predicate) -> Script {
    use gt_testkit::model_server::{when, Reply};
    Script::new()
        .when(
            when::last_tool_result_contains("DONE-OK"),
            Reply::text("Finished."),
        )
        .when(
            when::and(resumed, when::user_turn()),
            Reply::shell(&crash_finish()),
        )
        .when(
            when::and(when::offers_tools(), when::user_turn()),
            Reply::shell(CRASH_WORK),
        )
        .otherwise(Reply::text("Nothing more to do."))
}

/// Waits until the agent in `wt` runs [`CRASH_WORK`].
pub(crate) fn wait_crash_point(t: &TestTown, wt: &Path, cli: &str) {
    t.wait_for(120, &format!("{cli} to run its long command"), |_| {
        wt.join("wip.txt").is_file() && pids_in(wt).iter().any(|(_, c)| c.contains("sleep 600"))
    });
}

/// The crash: kills `program` and its command in `wt` (`kill -9`), waits
/// until the pane of `bead` is no longer running, and patrols once (the
/// deacon saves the work and ends the session).
pub(crate) fn crash(t: &TestTown, wt: &Path, bead: &str, program: &str) {
    for (pid, cmd) in pids_in(wt) {
        if cmd.contains(program) || cmd.contains("sleep 600") {
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
            .any(|a| a["bead"] == bead && a["live"] != "running")
    });
    t.ok(&["deacon", "patrol", "--once"]);
}

/// The refinery lands both the saved work and the work after the resume.
pub(crate) fn assert_crash_work_landed(t: &TestTown) {
    let git = |args: &[&str]| crate::common::git(&t.repo("app"), args);
    t.ok(&["refinery", "run", "--once"]);
    assert_eq!(git(&["show", "main:wip.txt"]), "unsaved work\n");
    assert_eq!(git(&["show", "main:after.txt"]), "after the crash\n");
}

/// Shell, quoting and non-ASCII characters that a nudge must deliver as typed.
pub(crate) const NUDGE: &str =
    "NUDGE-7f3: keep $(these) `chars` & 'quotes' \"too\"; ünïcode ✓ 100%";

/// A model that answers the first instruction with a text (the agent then
/// waits at its prompt) and the nudge with another.
pub(crate) fn nudge_script() -> Script {
    use gt_testkit::model_server::{when, Reply};
    Script::new()
        .when(when::contains(NUDGE), Reply::text("Got the nudge."))
        .when(
            when::and(when::offers_tools(), when::user_turn()),
            Reply::text("Waiting for instructions."),
        )
        .otherwise(Reply::text("ok"))
}

/// Waits until `agent` is idle (`gt agent-state`), nudges it with [`NUDGE`]
/// (wait-idle), and waits until the model receives the text verbatim.
pub(crate) fn assert_nudge_verbatim(
    t: &TestTown,
    server: &ModelServer,
    agent: &str,
    session: &str,
) {
    t.wait_for(120, &format!("{agent} idle after its first turn"), |t| {
        t.json(&["agent-state", agent])["state"] == "idle"
    });
    t.ok(&["nudge", agent, "--", NUDGE]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !server.requests().iter().any(|r| r.contains(NUDGE)) {
        assert!(
            Instant::now() < deadline,
            "the nudge never reached the model\nscreen:\n{}",
            screen(t, session)
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The first prompt named gt by its absolute path, and the instructions file
/// gt wrote into the worktree (`file`, e.g. `AGENTS.md`) reached the model.
pub(crate) fn assert_briefed(server: &ModelServer, agent: &str, file: &str) {
    let gt = crate::common::gt_bin();
    let requests = server.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.contains(&format!("{} prime", gt.display()))),
        "the first prompt did not name the absolute gt"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.contains(&format!("Gas Town polecat {agent}"))),
        "gt's {file} never reached the model"
    );
}

/// The costs of the one session are exactly the usage of its conversation's
/// turns (side requests such as titles and routing are not the agent's), and
/// the refinery lands [`proof_work`]'s file on main.
pub(crate) fn assert_costs_and_proof_landed(
    t: &TestTown,
    server: &ModelServer,
    script: &Script,
    cli: &str,
) {
    let v = assert_costs_match_server(t, server, script, &|r| r.side_kind().is_none(), 60);
    assert_eq!(v["rows"][0]["sessions"], 1, "{v}");
    t.ok(&["refinery", "run", "--once"]);
    let landed = crate::common::git(&t.repo("app"), &["show", "main:proof.txt"]);
    assert_eq!(landed, format!("landed by {cli}\n"));
}
