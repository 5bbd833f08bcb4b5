//! Issue 4 end to end: mail, nudge, broadcast, escalate, handoff and runtime
//! hooks, through the real `gt` binary, real tmux (a private server per test
//! town, killed when the test ends) and real git.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::TestTown;
use serde_json::Value;

/// A custom agent `catter` whose terminal is non-canonical and whose input
/// goes to `<tmp>/typed-<polecat>` (appended), so a test can compare bytes.
fn with_catter(t: &TestTown) {
    t.set_agent(
        "catter",
        "sh -c 'stty -icanon -echo; echo ready; exec cat >> \"$GT_TOWN/../typed-$GT_POLECAT\"'",
    );
}

fn typed_path(t: &TestTown, polecat: &str) -> PathBuf {
    t.dir.path().join(format!("typed-{polecat}"))
}

fn typed(t: &TestTown, polecat: &str) -> String {
    String::from_utf8_lossy(&std::fs::read(typed_path(t, polecat)).unwrap_or_default()).into_owned()
}

/// Slings a task to `rig/polecat` with the catter agent and waits until it runs.
fn sling_catter(t: &TestTown, agent: &str) {
    t.ok(&[
        "sling",
        &format!("work for {agent}"),
        agent,
        "--agent",
        "catter",
    ]);
    let pc = agent.split('/').nth(1).unwrap().to_string();
    t.wait_for(10, "catter running", |t| {
        typed_path(t, &pc).exists()
            && t.json(&["agents"])
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["agent"] == agent && a["live"] == "running")
    });
}

fn wait_typed(t: &TestTown, polecat: &str, len: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let s = typed(t, polecat);
        if s.len() >= len || Instant::now() > deadline {
            return s;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn mail_between_polecats_and_human() {
    let t = TestTown::new();
    t.with_rig("r");
    t.ok(&["polecat", "add", "r/nux"]);
    t.ok(&["polecat", "add", "r/slit"]);

    // nux → slit.
    let id = t.ok(&[
        "-q",
        "mail",
        "--as",
        "r/nux",
        "send",
        "r/slit",
        "-s",
        "hello",
        "-m",
        "line1\nline2",
    ]);
    let id: i64 = id.trim().parse().unwrap();
    let inbox = t.json(&["mail", "--as", "r/slit", "inbox"]);
    let inbox = inbox.as_array().unwrap();
    assert_eq!(inbox.len(), 1);
    let m = &inbox[0];
    for k in [
        "id", "from", "to", "subject", "body", "priority", "sent_at", "read",
    ] {
        assert!(!m[k].is_null(), "inbox lacks {k}: {m}");
    }
    assert_eq!(m["id"], id);
    assert_eq!(m["from"], "r/nux");
    assert_eq!(m["to"], serde_json::json!(["r/slit"]));
    assert_eq!(m["body"], "line1\nline2");
    assert_eq!(m["priority"], "normal");
    assert_eq!(m["read"], false);
    // The sender's inbox is empty; human's too.
    assert_eq!(
        t.json(&["mail", "--as", "r/nux", "inbox"]),
        serde_json::json!([])
    );
    assert_eq!(t.json(&["mail", "inbox"]), serde_json::json!([]));

    // read marks it read; inbox (unread) is then empty, --all shows it.
    let read = t.json(&["mail", "--as", "r/slit", "read", &id.to_string()]);
    assert_eq!(read["read"], true);
    assert_eq!(
        t.json(&["mail", "--as", "r/slit", "inbox"]),
        serde_json::json!([])
    );
    assert_eq!(
        t.json(&["mail", "--as", "r/slit", "inbox", "--all"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Reply goes back to nux in the same thread.
    let r = t.json(&[
        "mail",
        "--as",
        "r/slit",
        "reply",
        &id.to_string(),
        "-m",
        "got it",
    ]);
    assert_eq!(r["to"], serde_json::json!(["r/nux"]));
    assert_eq!(r["subject"], "Re: hello");
    assert_eq!(r["reply_to"], id);
    let thread = t.json(&["mail", "--as", "r/nux", "thread", &id.to_string()]);
    assert_eq!(thread.as_array().unwrap().len(), 2);

    // To human, with urgent priority; body verbatim from stdin, any text.
    let body = "ctl \u{1b}[31mred\u{7} tab\t nul-free ✓ 日本 $(x) `y` #{pane_id}\n";
    let out = t
        .cmd()
        .env("GT_AGENT", "r/nux")
        .args([
            "--json",
            "mail",
            "send",
            "human",
            "-s",
            "report",
            "--stdin",
            "--priority",
            "urgent",
        ])
        .write_stdin(body)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let human = t.json(&["mail", "inbox"]);
    assert_eq!(human[0]["body"], body);
    assert_eq!(human[0]["from"], "r/nux");
    assert_eq!(human[0]["priority"], "urgent");
    // The human view escapes control characters.
    let shown = t.ok(&["mail", "read", human[0]["id"].to_string().as_str()]);
    assert!(!shown.contains('\u{1b}'), "{shown:?}");

    // `*` reaches every polecat; `r/*` too.
    t.ok(&["mail", "send", "*", "-s", "all hands"]);
    t.ok(&["mail", "send", "r/*", "-s", "rig hands"]);
    for pc in ["r/nux", "r/slit"] {
        let subjects: Vec<String> = t
            .json(&["mail", "--as", pc, "inbox"])
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["subject"].as_str().unwrap().to_string())
            .collect();
        assert!(
            subjects.contains(&"all hands".to_string()),
            "{pc}: {subjects:?}"
        );
        assert!(
            subjects.contains(&"rig hands".to_string()),
            "{pc}: {subjects:?}"
        );
    }
    // mayor, deacon, refinery and witness have mailboxes.
    for to in ["mayor", "deacon", "r/refinery", "r/witness"] {
        t.ok(&["mail", "send", to, "-s", "x"]);
        assert_eq!(
            t.json(&["mail", "--as", to, "inbox"])
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }

    // search and archive.
    let found = t.json(&["mail", "--as", "r/slit", "search", "HELLO"]);
    assert_eq!(found.as_array().unwrap().len(), 2, "{found}");
    t.ok(&["mail", "--as", "r/slit", "archive", &id.to_string()]);
    let all = t.json(&["mail", "--as", "r/slit", "inbox", "--all"]);
    let archived = all
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == id)
        .unwrap();
    assert_eq!(archived["archived"], true);

    // check: one block, marks delivered, exit 0 then 1.
    let out = t.run(&["mail", "--as", "r/nux", "check", "--inject"]);
    assert_eq!(out.status.code(), Some(0));
    let block = String::from_utf8(out.stdout).unwrap();
    assert!(
        block.contains("Subject: Re: hello") && block.contains("got it"),
        "{block}"
    );
    assert!(block.contains("all hands"), "{block}");
    let out = t.run(&["mail", "--as", "r/nux", "check", "--inject"]);
    // Nothing left: --inject still exits 0 (a prompt hook must not fail).
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty() && out.stderr.is_empty());

    // Refused, nothing written: unknown addresses, limits, bad ids.
    let e = t.refuses(&["mail", "send", "r/ghost", "-s", "x"]);
    assert!(e.contains("not found"), "{e}");
    let e = t.refuses(&["mail", "send", "nobody", "-s", "x"]);
    assert!(e.contains("RIG/POLECAT") && e.contains("human"), "{e}");
    t.refuses(&["mail", "send", "zz/*", "-s", "x"]);
    t.refuses(&["mail", "send", "human", "-s", &"s".repeat(201)]);
    t.refuses(&["mail", "--as", "r/ghost", "inbox"]);
    t.refuses(&["mail", "--as", "*", "inbox"]);
    t.refuses(&["mail", "read", "abc"]);
    t.refuses(&["mail", "--as", "r/nux", "read", "999999"]);
    t.refuses(&["mail", "send", "human", "-s", "x", "--priority", "meh"]);
    let before = t.fingerprint();
    let big = "x".repeat(64 * 1024 + 1);
    let out = t
        .cmd()
        .args(["mail", "send", "human", "-s", "big", "--stdin"])
        .write_stdin(big)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("64 KiB"));
    assert_eq!(before, t.fingerprint());
    t.ok(&[
        "mail",
        "send",
        "human",
        "-s",
        &"s".repeat(200),
        "-m",
        &"b".repeat(64 * 1024),
    ]);

    let k = t.kinds(&[]);
    for want in ["mail.sent", "mail.read", "mail.archived"] {
        assert!(k.iter().any(|x| x == want), "no {want} in {k:?}");
    }
}

#[test]
fn nudges_arrive_verbatim_and_run_nothing() {
    let t = TestTown::new();
    t.with_rig("r");
    with_catter(&t);
    sling_catter(&t, "r/nux");
    let pwned = t.dir.path().join("X");
    let p = pwned.to_str().unwrap();
    let long: String = (0..4096)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let texts = vec![
        format!("$(touch {p})"),
        format!("; touch {p}"),
        format!("`touch {p}`"),
        "C-c".to_string(),
        "Enter".to_string(),
        "#{pane_id}".to_string(),
        "'single' \"double\" \\back\\slash\\ ends;".to_string(),
        "-- --help".to_string(),
        "-l".to_string(),
        "héllo ✓ 日本語 🚀".to_string(),
        long,
    ];
    let mut expected = typed(&t, "nux");
    for text in &texts {
        let out = t.ok(&["--json", "nudge", "r/nux", "--", text]);
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["status"], "delivered", "{v}");
        expected.push_str(text);
        expected.push('\n');
    }
    let got = wait_typed(&t, "nux", expected.len());
    assert_eq!(got, expected);
    assert!(!pwned.exists(), "a nudge ran a command");
    // cat is still alive (C-c was not a key).
    let agents = t.json(&["agents"]);
    assert!(agents
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["agent"] == "r/nux" && a["live"] == "running"));

    // Control characters are stripped (newline becomes a space).
    t.ok(&["nudge", "r/nux", "a\u{1b}[2Jb\nc\u{3}d"]);
    expected.push_str("a[2Jb cd\n");
    assert_eq!(wait_typed(&t, "nux", expected.len()), expected);

    // Refused, nothing typed or written.
    let e = t.refuses(&["nudge", "r/nux", &"y".repeat(8 * 1024 + 1)]);
    assert!(e.contains("8 KiB"), "{e}");
    let e = t.refuses(&["nudge", "r/ghost", "hi"]);
    assert!(e.contains("not found"), "{e}");
    t.refuses(&["nudge", "r/nux", "--mode", "later", "hi"]);
    t.refuses(&["nudge", "mayor", "hi"]);
    t.ok(&["polecat", "add", "r/slit"]);
    let e = t.refuses(&["nudge", "r/slit", "hi"]);
    assert!(e.contains("no live session"), "{e}");
    // --or-mail turns it into mail.
    let v = t.json(&["nudge", "--or-mail", "r/slit", "wake up"]);
    assert_eq!(v["status"], "mailed");
    let inbox = t.json(&["mail", "--as", "r/slit", "inbox"]);
    assert_eq!(inbox[0]["body"], "wake up");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(typed(&t, "nux"), expected);
    assert!(t.kinds(&[]).iter().any(|k| k == "nudge.delivered"));
}

#[test]
fn concurrent_nudges_never_interleave() {
    let t = TestTown::new();
    t.with_rig("r");
    with_catter(&t);
    sling_catter(&t, "r/nux");
    let start = typed(&t, "nux");
    // 3000 bytes each: several send-keys chunks per nudge.
    let msgs: Vec<String> = (0..8)
        .map(|i| char::from(b'A' + i as u8).to_string().repeat(3000))
        .collect();
    let handles: Vec<_> = msgs
        .iter()
        .map(|m| {
            let mut c = t.cmd();
            c.args(["nudge", "--mode", "immediate", "r/nux", m]);
            std::thread::spawn(move || c.output().unwrap())
        })
        .collect();
    for h in handles {
        let out = h.join().unwrap();
        assert!(out.status.success(), "{out:?}");
    }
    let want = start.len() + msgs.iter().map(|m| m.len() + 1).sum::<usize>();
    let got = wait_typed(&t, "nux", want);
    let mut lines: Vec<&str> = got[start.len()..].lines().collect();
    assert_eq!(lines.len(), 8, "{got:?}");
    lines.sort();
    let mut want_lines: Vec<&str> = msgs.iter().map(String::as_str).collect();
    want_lines.sort();
    assert_eq!(lines, want_lines, "nudges interleaved");
}

#[test]
fn queued_nudges_and_mail_notices() {
    let t = TestTown::new();
    t.with_rig("r");
    with_catter(&t);
    sling_catter(&t, "r/nux");
    let before = typed(&t, "nux");

    // queue: stored, not typed; `gt mail check` delivers it once.
    let v = t.json(&["nudge", "--mode", "queue", "r/nux", "later please"]);
    assert_eq!(v["status"], "queued");
    let out = t.run(&["mail", "--as", "r/nux", "check", "--inject"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("later please"));
    let out = t.run(&["mail", "--as", "r/nux", "check"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(t.kinds(&[]).iter().any(|k| k == "nudge.queued"));

    // An agent whose hooks report it idle is told about new mail, once.
    t.ok(&["agent-report", "--as", "r/nux", "--state", "idle"]);
    let st = t.json(&["agent-state", "r/nux"]);
    assert_eq!(
        (st["state"].as_str(), st["source"].as_str()),
        (Some("idle"), Some("hook"))
    );
    t.ok(&[
        "mail",
        "send",
        "r/nux",
        "-s",
        "the build is red",
        "-m",
        "fix it",
    ]);
    let mut expected = before.clone();
    expected.push_str("you have mail from human: the build is red — run gt mail inbox\n");
    assert_eq!(wait_typed(&t, "nux", expected.len()), expected);
    // A working agent is not interrupted.
    t.ok(&["agent-report", "--as", "r/nux", "--state", "working"]);
    t.ok(&["mail", "send", "r/nux", "-s", "quiet"]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(typed(&t, "nux"), expected);
    // wait-idle with hooks saying working: queued after the timeout.
    let v = t.json(&["nudge", "--timeout", "1", "r/nux", "when idle"]);
    assert_eq!(v["status"], "queued", "{v}");

    t.refuses(&["agent-report", "--as", "r/nux", "--state", "asleep"]);
    t.refuses(&["agent-report", "--as", "human", "--state", "idle"]);
}

#[test]
fn broadcast_reaches_every_live_agent() {
    let t = TestTown::new();
    t.with_rig("r");
    with_catter(&t);
    sling_catter(&t, "r/nux");
    sling_catter(&t, "r/slit");
    t.ok(&["polecat", "add", "r/toast"]); // not live: skipped
    let b = (typed(&t, "nux"), typed(&t, "slit"));
    let v = t.json(&["broadcast", "--rig", "r", "stand by"]);
    assert_eq!(v.as_array().unwrap().len(), 2, "{v}");
    assert_eq!(
        wait_typed(&t, "nux", b.0.len() + 9),
        format!("{}stand by\n", b.0)
    );
    assert_eq!(
        wait_typed(&t, "slit", b.1.len() + 9),
        format!("{}stand by\n", b.1)
    );
    t.refuses(&["broadcast", "--rig", "nope", "x"]);
}

#[test]
fn escalate_creates_a_bead_and_mails_mayor_and_human() {
    let t = TestTown::new();
    t.with_rig("r");
    with_catter(&t);
    sling_catter(&t, "r/nux");
    let hooked = t.json(&["polecat", "show", "r/nux"])["bead"]
        .as_str()
        .unwrap()
        .to_string();
    let e = t.json(&[
        "escalate",
        "--as",
        "r/nux",
        "-s",
        "critical",
        "tests need a database",
    ]);
    let bead = e["bead"].as_str().unwrap().to_string();
    assert_eq!(e["severity"], "critical");
    assert_eq!(e["source_bead"], hooked.as_str());
    let show = t.json(&["show", &bead]);
    assert_eq!(show["priority"], 0);
    assert!(show["labels"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l == "escalation"));
    assert!(show["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["depends_on"] == hooked.as_str() && d["type"] == "related"));
    for who in ["mayor", "human"] {
        let inbox = t.json(&["mail", "--as", who, "inbox"]);
        assert!(inbox[0]["subject"]
            .as_str()
            .unwrap()
            .contains("ESCALATION (critical)"));
        assert_eq!(inbox[0]["priority"], "urgent");
        assert!(inbox[0]["body"]
            .as_str()
            .unwrap()
            .contains("tests need a database"));
    }
    let list = t.json(&["escalate", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    t.ok(&["escalate", "ack", &bead]);
    assert_eq!(t.json(&["escalate", "list"]), serde_json::json!([]));
    assert_eq!(
        t.json(&["escalate", "list", "--all"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    t.refuses(&["escalate", "ack", &bead]);
    t.refuses(&["escalate", "ack", "nope"]);
    t.refuses(&["escalate", "-s", "low", "x"]);
    let k = t.kinds(&[]);
    assert!(k.iter().any(|k| k == "escalation") && k.iter().any(|k| k == "escalation.acked"));
    // A human escalates too (no hooked bead).
    let e = t.json(&["escalate", "-s", "medium", "disk is full"]);
    assert_eq!(e["from"], "human");
    assert!(e["source_bead"].is_null());
}

#[test]
fn handoff_restarts_the_session_with_the_note() {
    let t = TestTown::new();
    t.with_rig("r");
    with_catter(&t);
    sling_catter(&t, "r/nux");
    let old = t.json(&["agents"])[0]["session_id"].as_i64().unwrap();
    let out = t
        .cmd()
        .env("GT_AGENT", "r/nux")
        .args(["--json", "handoff", "-m", "next: finish the parser"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    t.wait_for(10, "new session running", |t| {
        t.json(&["agents"])
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["agent"] == "r/nux" && a["live"] == "running" && a["session_id"] != old)
    });
    let agents = t.json(&["agents"]);
    let ended = agents
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["session_id"] == old)
        .unwrap();
    assert_eq!(ended["end_reason"], "handoff");
    let prime = t
        .cmd()
        .env("GT_AGENT", "r/nux")
        .args(["prime"])
        .output()
        .unwrap();
    let prime = String::from_utf8(prime.stdout).unwrap();
    assert!(prime.contains("next: finish the parser"), "{prime}");
    assert!(t.kinds(&[]).iter().any(|k| k == "handoff"));
    // Not inside an agent: refused.
    t.refuses(&["handoff"]);
}

#[test]
fn claude_gets_hook_settings_outside_the_repository() {
    let t = TestTown::new();
    t.with_rig("r");
    // A fake `claude` that records its argv and waits.
    let bin = t.dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let fake = bin.join("claude");
    std::fs::write(
        &fake,
        "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$GT_TOWN/../claude-argv\"\nexec sleep 60\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), crate::common::system_path());
    let out = t
        .cmd()
        .env("PATH", &path)
        // As root, claude needs a sandbox (see real_agents.rs).
        .env("IS_SANDBOX", "1")
        .args(["sling", "hooked task", "r/nux", "--agent", "claude"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let argv_file = t.dir.path().join("claude-argv");
    t.wait_for(10, "claude started", |_| argv_file.exists());
    let argv: Vec<String> = std::fs::read_to_string(&argv_file)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let i = argv
        .iter()
        .position(|a| a == "--settings")
        .expect("--settings");
    let settings = PathBuf::from(&argv[i + 1]);
    assert!(i + 2 < argv.len(), "the instruction comes last: {argv:?}");
    assert!(argv.last().unwrap().starts_with("You are r/nux"));
    let wt = t.root.join("r/polecats/nux");
    assert!(!settings.starts_with(&wt), "settings inside the worktree");
    assert!(settings.starts_with(t.root.join(".gt")));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&settings).unwrap()).unwrap();
    check_claude_settings(&v);
    // The repository is untouched.
    assert_eq!(crate::common::git(&wt, &["status", "--porcelain"]), "");
}

/// The generated settings follow Claude Code's hooks schema:
/// `{"hooks": {EVENT: [{"matcher"?: str, "hooks": [{"type": "command",
/// "command": str, "timeout"?: number}]}]}}`.
fn check_claude_settings(v: &Value) {
    let hooks = v["hooks"].as_object().expect("hooks object");
    let events = [
        "SessionStart",
        "SessionEnd",
        "UserPromptSubmit",
        "Stop",
        "StopFailure",
        "Notification",
    ];
    assert_eq!(v["skipDangerousModePermissionPrompt"], true);
    for e in events {
        assert!(hooks.contains_key(e), "missing {e}");
    }
    for (event, groups) in hooks {
        assert!(events.contains(&event.as_str()), "{event}");
        for g in groups.as_array().unwrap() {
            for (k, val) in g.as_object().unwrap() {
                match k.as_str() {
                    "matcher" => assert!(val.is_string()),
                    "hooks" => {
                        for h in val.as_array().unwrap() {
                            assert_eq!(h["type"], "command");
                            assert!(h["command"].as_str().unwrap().contains("gt"));
                            assert!(h["timeout"].is_u64());
                        }
                    }
                    other => panic!("unknown key {other}"),
                }
            }
        }
    }
}

/// Kills `gt mail send` at random moments: each message is then either fully
/// there (body and recipients) or absent, and the store still works.
#[test]
fn killed_mail_sends_leave_whole_messages_or_none() {
    let t = TestTown::new();
    t.with_rig("r");
    t.ok(&["polecat", "add", "r/nux"]);
    t.ok(&["polecat", "add", "r/slit"]);
    let body_for = |i: usize| format!("{i}:").repeat(4000 + i);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    let mut rng = seed | 1;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for i in 0..40usize {
        let mut c = std::process::Command::new(crate::common::gt_bin());
        c.env_clear()
            .env("HOME", &t.home)
            .env("PATH", crate::common::system_path())
            .env("GT_ACTOR", "tester")
            .current_dir(&t.root)
            .args([
                "mail",
                "send",
                "r/*",
                "human",
                "-s",
                &format!("m{i}"),
                "-m",
                &body_for(i),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let mut child = c.spawn().unwrap();
        std::thread::sleep(Duration::from_micros(next() % 25_000));
        let _ = child.kill();
        let _ = child.wait();
    }
    use gt_lib::store::mail::{InboxFilter, MailStore};
    let store = t.store();
    let all = store.inbox("human", InboxFilter::All, None).unwrap();
    let expected_to = vec![
        "r/nux".to_string(),
        "r/slit".to_string(),
        "human".to_string(),
    ];
    for m in &all {
        let i: usize = m.subject[1..].parse().unwrap();
        assert_eq!(m.body, body_for(i), "partial body of {}", m.subject);
        assert_eq!(m.to, expected_to);
        for pc in ["r/nux", "r/slit"] {
            assert!(store.get_mail(m.id, pc).is_ok(), "{pc} lacks {}", m.id);
        }
    }
    for pc in ["r/nux", "r/slit"] {
        assert_eq!(
            store.inbox(pc, InboxFilter::All, None).unwrap().len(),
            all.len()
        );
    }
    let sent = t
        .json(&["trail", "--kind", "mail", "-n", "1000"])
        .as_array()
        .unwrap()
        .len();
    assert_eq!(sent, all.len(), "one mail.sent event per stored message");
    // The town still works.
    t.ok(&["mail", "send", "human", "-s", "after"]);
    let _ = Path::new("");
}

/// `wait-idle` with a runtime that has a ready pattern: the nudge waits while
/// the agent is busy and is typed once the pattern shows on two observations.
#[test]
fn wait_idle_waits_for_the_ready_pattern() {
    let t = TestTown::new();
    t.with_rig("r");
    // A fake `codex` (preset ready pattern "? for shortcuts"): busy (its
    // busy text) for 4 s — the launch watch returns once that has held for
    // 1.5 s — then pushes it out of the classified tail, shows its prompt
    // and records what is typed.
    let path = t.fake_program(
        "codex",
        "stty -icanon -echo\necho 'working... (esc to interrupt)'\nsleep 4\nseq 10\necho '? for shortcuts'\nexec cat >> \"$GT_TOWN/../typed-$GT_POLECAT\"\n",
    );
    t.ok_env(
        &[("PATH", &path)],
        &["sling", "busy first", "r/nux", "--agent", "codex"],
    );
    let start = Instant::now();
    let out = t.ok_env(
        &[("PATH", &path)],
        &[
            "--json",
            "nudge",
            "r/nux",
            "--mode",
            "wait-idle",
            "--",
            "after you are ready",
        ],
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["status"], "delivered", "{v}");
    // It waited for the prompt rather than typing into the busy agent.
    assert!(
        start.elapsed() >= Duration::from_millis(1500),
        "typed too early: {:?}",
        start.elapsed()
    );
    assert!(v["waited_ms"].as_u64().unwrap() >= 1000, "{v}");
    assert_eq!(
        wait_typed(&t, "nux", "after you are ready\n".len()),
        "after you are ready\n"
    );
}
