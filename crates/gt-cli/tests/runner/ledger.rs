//! The ledger: the town, the CLI skeleton, the store and beads, through the
//! real binary (issue 2); concurrency, schema versions and snapshots of
//! human-readable output.

use crate::common::{clean_cmd, regex_escape, TestTown};
use serde_json::Value;

#[test]
fn version_and_help() {
    let t = TestTown::new();
    let v = t.ok(&["--version"]);
    assert!(v.starts_with("gt "), "{v}");
    let h = t.ok(&["--help"]);
    for word in [
        "init",
        "bead",
        "trail",
        "status",
        "config",
        "--town",
        "--json",
        "--quiet",
        "--no-color",
    ] {
        assert!(h.contains(word), "--help lacks {word}");
    }
    let hb = t.ok(&["help", "bead"]);
    assert!(hb.contains("create") && hb.contains("ready"), "{hb}");
    // Usage errors are exit 2.
    t.fails(&["bead", "frobnicate"], 2);
}

#[test]
fn init_layout_and_refusals() {
    let t = TestTown::new();
    assert!(t.root.join("gt.toml").is_file());
    assert!(t.root.join(".gt/town.db").is_file());
    assert!(t.root.join(".gt/logs").is_dir());
    // Re-running on an existing town refuses and changes nothing.
    let before = std::fs::read(t.root.join("gt.toml")).unwrap();
    let err = t.refuses(&["init", t.root.to_str().unwrap()]);
    assert!(err.contains("already a Gas Town"), "{err}");
    assert_eq!(before, std::fs::read(t.root.join("gt.toml")).unwrap());

    // A file, and a non-empty non-town directory, are refused...
    let file = t.dir.path().join("afile");
    std::fs::write(&file, "x").unwrap();
    let out = clean_cmd(&t.home).arg("init").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let busy = t.dir.path().join("busy");
    std::fs::create_dir(&busy).unwrap();
    std::fs::write(busy.join("keep.txt"), "mine").unwrap();
    let out = clean_cmd(&t.home).arg("init").arg(&busy).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(!busy.join("gt.toml").exists());
    // ...unless --force, which keeps what was there.
    let out = clean_cmd(&t.home)
        .args(["init", "--force"])
        .arg(&busy)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        std::fs::read_to_string(busy.join("keep.txt")).unwrap(),
        "mine"
    );
    // The alias.
    let other = t.dir.path().join("other");
    let out = clean_cmd(&t.home)
        .arg("install")
        .arg(&other)
        .output()
        .unwrap();
    assert!(out.status.success());
}

#[test]
fn town_discovery_order() {
    let t = TestTown::new();
    let sub = t.root.join("deep/er");
    std::fs::create_dir_all(&sub).unwrap();
    // Walking up from a subdirectory.
    let out = clean_cmd(&t.home)
        .current_dir(&sub)
        .args(["--json", "status"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["town"]["name"], "test");
    // Outside a town.
    let out = clean_cmd(&t.home).arg("status").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err, "error: not inside a Gas Town\nhint: run gt init\n");
    // GT_TOWN, then --town wins over it.
    let out = clean_cmd(&t.home)
        .env("GT_TOWN", &t.root)
        .arg("status")
        .output()
        .unwrap();
    assert!(out.status.success());
    let nowhere = t.dir.path().join("nowhere");
    let out = clean_cmd(&t.home)
        .env("GT_TOWN", &t.root)
        .arg("--town")
        .arg(&nowhere)
        .arg("status")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn config_get_set_list() {
    let t = TestTown::new();
    assert_eq!(t.ok(&["config", "get", "town.name"]).trim(), "test");
    t.ok(&["config", "set", "town.prefix", "ab"]);
    assert_eq!(t.ok(&["config", "get", "town.prefix"]).trim(), "ab");
    let id = t.create("after prefix change", &[]);
    assert!(id.starts_with("ab-"), "{id}");
    let list = t.json(&["config", "list"]);
    assert_eq!(list["town.prefix"], "ab");
    t.refuses(&["config", "set", "town.nope", "1"]);
    t.refuses(&["config", "set", "town.prefix", "A B"]);
    t.refuses(&["config", "get", "nope"]);
    let trail = t.json(&["trail", "--kind", "config"]);
    assert_eq!(trail.as_array().unwrap().len(), 1);
}

#[test]
fn bead_lifecycle_and_events() {
    let t = TestTown::new();
    let id = t.create(
        "Write the parser",
        &[
            "-d",
            "details here",
            "-p",
            "1",
            "-t",
            "feature",
            "-l",
            "core",
            "-l",
            "parser",
        ],
    );
    assert!(id.starts_with("hq-"));
    let b = t.json(&["bead", "show", &id]);
    assert_eq!(b["title"], "Write the parser");
    assert_eq!(b["description"], "details here");
    assert_eq!(b["priority"], 1);
    assert_eq!(b["type"], "feature");
    assert_eq!(b["status"], "open");
    assert_eq!(b["labels"], serde_json::json!(["core", "parser"]));
    assert!(b["dependencies"].as_array().unwrap().is_empty());
    assert!(b["comments"].as_array().unwrap().is_empty());
    assert_eq!(b["created_by"], "tester");

    // `gt show` is the same; partial ids resolve.
    let short = &id[..id.len() - 1];
    assert_eq!(t.json(&["show", short])["id"], id.as_str());

    t.ok(&[
        "bead",
        "update",
        &id,
        "--title",
        "Write the lexer",
        "--add-label",
        "x",
        "--remove-label",
        "core",
        "--priority",
        "0",
    ]);
    let b = t.json(&["show", &id]);
    assert_eq!(b["title"], "Write the lexer");
    assert_eq!(b["priority"], 0);
    assert_eq!(b["labels"], serde_json::json!(["parser", "x"]));

    t.ok(&["bead", "comment", &id, "looks good"]);
    t.ok(&["bead", "label", "add", &id, "y"]);
    t.ok(&["bead", "label", "remove", &id, "x"]);
    let b = t.json(&["show", &id]);
    assert_eq!(b["comments"][0]["text"], "looks good");
    assert_eq!(b["comments"][0]["author"], "tester");
    assert_eq!(b["labels"], serde_json::json!(["parser", "y"]));

    // Claim: atomic, once.
    let c = t.json(&["bead", "update", &id, "--claim"]);
    assert_eq!(c["assignee"], "tester");
    assert_eq!(c["status"], "in_progress");
    let out = t
        .cmd()
        .env("GT_ACTOR", "other")
        .args(["bead", "update", &id, "--claim"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));

    let c = t.json(&["close", &id, "--reason", "done"]);
    assert_eq!(c["status"], "closed");
    assert_eq!(c["close_reason"], "done");
    assert!(c["closed_at"].is_string());
    t.refuses(&["close", &id]);
    // Closed beads are hidden unless --all.
    assert!(t.json(&["bead", "list"]).as_array().unwrap().is_empty());
    assert_eq!(
        t.json(&["bead", "list", "--all"]).as_array().unwrap().len(),
        1
    );
    let r = t.json(&["bead", "reopen", &id]);
    assert_eq!(r["status"], "open");
    assert!(r["closed_at"].is_null());

    let kinds = t.kinds(&[]);
    assert_eq!(
        kinds,
        [
            "town.created",
            "host.joined",
            "bead.created",
            "bead.updated",
            "bead.commented",
            "bead.updated",
            "bead.updated",
            "bead.claimed",
            "bead.closed",
            "bead.reopened"
        ]
    );
    let ev = &t.json(&["trail", "-n", "1"])[0];
    for k in ["id", "time", "kind", "actor", "rig", "bead", "summary"] {
        assert!(ev.get(k).is_some(), "event lacks {k}");
    }
    assert_eq!(ev["actor"], "tester");
    assert_eq!(ev["bead"], id.as_str());
}

#[test]
fn actor_comes_from_env() {
    let t = TestTown::new();
    let out = t
        .cmd()
        .env_remove("GT_ACTOR")
        .env("GT_AGENT", "rig1/nux")
        .args(["--json", "bead", "create", "x"])
        .output()
        .unwrap();
    let b: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(b["created_by"], "rig1/nux");
    let out = t
        .cmd()
        .env_remove("GT_ACTOR")
        .args(["--json", "bead", "create", "y"])
        .output()
        .unwrap();
    let b: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(b["created_by"], "human");
}

#[test]
fn list_filters() {
    let t = TestTown::new();
    let a = t.create("a bug", &["-t", "bug", "-p", "0", "-l", "ui"]);
    let b = t.create("a task", &["-p", "3", "--assignee", "bob"]);
    let c = t.create("deferred", &[]);
    t.ok(&["bead", "update", &c, "--status", "deferred"]);
    let ids = |v: Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|b| b["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        ids(t.json(&["bead", "list", "--type", "bug"])),
        vec![a.clone()]
    );
    assert_eq!(
        ids(t.json(&["bead", "list", "--label", "ui"])),
        vec![a.clone()]
    );
    assert_eq!(
        ids(t.json(&["bead", "list", "--assignee", "bob"])),
        vec![b.clone()]
    );
    assert_eq!(
        ids(t.json(&["bead", "list", "--priority", "3"])),
        vec![b.clone()]
    );
    assert_eq!(
        ids(t.json(&["bead", "list", "--status", "deferred"])),
        vec![c.clone()]
    );
    assert_eq!(
        ids(t.json(&["bead", "list", "--limit", "1"])),
        vec![a.clone()]
    );
    assert_eq!(
        ids(t.json(&["bead", "list", "--status", "open,deferred"])).len(),
        3
    );
    // Quiet prints ids only.
    assert_eq!(t.ok(&["-q", "bead", "list", "--type", "bug"]).trim(), a);
}

#[test]
fn ready_blocked_and_dependencies() {
    let t = TestTown::new();
    let epic = t.create("epic", &["-t", "epic", "-p", "1"]);
    let child = t.create("child", &["--parent", &epic, "-p", "0"]);
    let blocker = t.create("blocker", &["-p", "3"]);
    let plain = t.create("plain", &[]);
    let ready = |t: &TestTown| -> Vec<String> {
        t.json(&["ready"])
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["id"].as_str().unwrap().to_string())
            .collect()
    };
    // Priority order, then age.
    assert_eq!(
        ready(&t),
        vec![child.clone(), epic.clone(), plain.clone(), blocker.clone()]
    );
    // The epic is blocked: so is its child (inherited).
    t.ok(&["bead", "dep", "add", &epic, &blocker]);
    assert_eq!(ready(&t), vec![plain.clone(), blocker.clone()]);
    let blocked = t.json(&["bead", "blocked"]);
    let b: Vec<(String, Value, Value)> = blocked
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["id"].as_str().unwrap().to_string(),
                b["blocked_by"].clone(),
                b["blocked_parent"].clone(),
            )
        })
        .collect();
    assert_eq!(b.len(), 2);
    assert_eq!(b[0].0, child);
    assert_eq!(b[0].2, epic.as_str());
    assert_eq!(b[1].0, epic);
    assert_eq!(b[1].1, serde_json::json!([blocker]));
    // Closing the blocker frees both.
    t.ok(&["close", &blocker]);
    assert_eq!(ready(&t), vec![child.clone(), epic.clone(), plain.clone()]);
    // A deferred parent blocks its children.
    t.ok(&["bead", "update", &epic, "--status", "deferred"]);
    assert_eq!(ready(&t), vec![plain.clone()]);
    // related and discovered-from never block.
    t.ok(&["bead", "update", &epic, "--status", "open"]);
    t.ok(&["bead", "dep", "add", &plain, &epic, "--type", "related"]);
    t.ok(&[
        "bead",
        "dep",
        "add",
        &plain,
        &child,
        "--type",
        "discovered-from",
    ]);
    assert!(ready(&t).contains(&plain));
    // Remove and tree.
    t.ok(&["bead", "dep", "remove", &plain, &epic]);
    let tree = t.json(&["bead", "dep", "tree", &child]);
    assert_eq!(tree["children"][0]["id"], epic.as_str());
    assert_eq!(tree["children"][0]["children"][0]["id"], blocker.as_str());
    let rev = t.json(&["bead", "dep", "tree", &epic, "--reverse"]);
    assert_eq!(rev["children"][0]["id"], child.as_str());
    // --deps on create.
    let d = t.create(
        "with deps",
        &["--deps", &format!("blocks:{plain},related:{epic}")],
    );
    let shown = t.json(&["show", &d]);
    assert_eq!(shown["dependencies"].as_array().unwrap().len(), 2);
    assert_eq!(shown["blocked_by"], serde_json::json!([plain]));
    assert!(!ready(&t).contains(&d));
}

#[test]
fn bad_input_is_refused_and_writes_nothing() {
    let t = TestTown::new();
    let a = t.create("a", &[]);
    let b = t.create("b", &[]);
    t.ok(&["bead", "dep", "add", &a, &b]);
    let c = t.create("c", &[]);
    t.ok(&["bead", "dep", "add", &b, &c, "--type", "parent-child"]);
    let long = "x".repeat(501);
    let err = t.refuses(&["bead", "create", ""]);
    assert!(err.contains("title"), "{err}");
    t.refuses(&["bead", "create", &long]);
    t.refuses(&["bead", "create", "ok", "-p", "9"]);
    t.refuses(&["bead", "create", "ok", "-t", "saga"]);
    t.refuses(&["bead", "list", "--status", "limbo"]);
    t.refuses(&["bead", "update", &a, "--status", "limbo"]);
    t.refuses(&["bead", "update", &a, "--priority", "9"]);
    t.refuses(&["bead", "update", &a]);
    t.refuses(&["bead", "create", "ok", "--parent", "hq-nope"]);
    t.refuses(&["bead", "create", "ok", "--deps", "blocks:hq-nope"]);
    let err = t.refuses(&["show", "hq-zzzzzz"]);
    assert!(err.contains("not found"), "{err}");
    let err = t.refuses(&["show", "'; DROP TABLE beads; --"]);
    assert!(err.contains("not a bead id"), "{err}");
    // Ambiguous: the bare prefix matches all three.
    let err = t.refuses(&["show", "hq-"]);
    assert!(
        err.contains("ambiguous") && err.contains(&a) && err.contains(&b),
        "{err}"
    );
    let err = t.refuses(&["bead", "dep", "add", &c, &a]);
    assert!(err.contains("cycle"), "{err}");
    let err = t.refuses(&["bead", "dep", "add", &a, &a]);
    assert!(err.contains("itself"), "{err}");
    t.refuses(&["bead", "dep", "add", &a, "hq-nope"]);
    t.refuses(&["bead", "dep", "add", &a, &b]); // already there
    t.refuses(&["bead", "dep", "add", &a, &c, "--type", "owns"]);
    t.refuses(&["bead", "comment", &a, ""]);
    // A JSON error object on stdout with --json.
    let out = t.run(&["--json", "show", "hq-zzzzzz"]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["kind"], "not_found");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("hq-zzzzzz"));
}

#[test]
fn hostile_text_is_stored_verbatim_and_rendered_inert() {
    let t = TestTown::new();
    let title = "$(touch pwned); `touch pwned2` #{pane_id} 'q' \"d\" \\ ünïcødé";
    let id = t.create(title, &["-d", "line1\n\u{1b}[31mred\u{1b}[0m"]);
    let b = t.json(&["show", &id]);
    assert_eq!(b["title"], title);
    assert_eq!(b["description"], "line1\n\u{1b}[31mred\u{1b}[0m");
    assert!(!t.root.join("pwned").exists() && !t.home.join("pwned").exists());
    // Human output never carries the raw escape byte to the terminal.
    let human = t.ok(&["show", &id]);
    assert!(!human.contains('\u{1b}'), "{human}");
    assert!(human.contains("\\u{1b}[31mred"), "{human}");
    // Control characters are refused in titles.
    t.refuses(&["bead", "create", "bell\u{7}"]);
}

#[test]
fn read_only_town_is_refused_cleanly() {
    let t = TestTown::new();
    t.create("before", &[]);
    let before = t.fingerprint();
    let gt = crate::common::gt_bin();
    // A read-only bind mount of the town in a private mount namespace: truly
    // read-only even for root, and nothing to clean up afterwards.
    let script = format!(
        "mount --bind '{root}' '{root}' && mount -o remount,ro,bind '{root}' && exec '{gt}' bead create after",
        root = t.root.display(),
        gt = gt.display()
    );
    let probe = std::process::Command::new("unshare")
        .args(["-rm", "true"])
        .status();
    let out = if probe.is_ok_and(|s| s.success()) {
        std::process::Command::new("unshare")
            .args(["-rm", "sh", "-c", &script])
            .env_clear()
            .env("PATH", crate::common::system_path())
            .env("HOME", &t.home)
            .env("GT_ACTOR", "tester")
            .env("GT_TOWN", &t.root)
            .output()
            .unwrap()
    } else {
        // No user namespaces: fall back to permissions (effective unless root).
        eprintln!("unshare unavailable; using chmod");
        set_writable(&t.root, false);
        let out = t.run(&["bead", "create", "after"]);
        set_writable(&t.root, true);
        out
    };
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: ") && err.lines().count() <= 2,
        "{err}"
    );
    assert!(err.contains("read-only"), "{err}");
    assert_eq!(before, t.fingerprint());
}

fn set_writable(root: &std::path::Path, writable: bool) {
    use std::os::unix::fs::PermissionsExt;
    for p in [
        root.to_path_buf(),
        root.join(".gt"),
        root.join(".gt/town.db"),
    ] {
        let mode = if writable { 0o755 } else { 0o555 };
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
}

// Concurrency, schema versions and snapshots of human-readable output.

#[test]
fn eight_processes_create_forty_beads_each() {
    let t = TestTown::new();
    let children: Vec<_> = (0..8)
        .map(|p| {
            // Each worker is a shell loop of 40 separate `gt` processes.
            let script = format!(
                "for i in $(seq 1 40); do \"$GT\" -q bead create \"worker {p} bead $i\" || exit 1; done"
            );
            std::process::Command::new("sh")
                .args(["-c", &script])
                .env_clear()
                .env("PATH", crate::common::system_path())
                .env("HOME", &t.home)
                .env("GT", crate::common::gt_bin())
                .env("GT_TOWN", &t.root)
                .env("GT_ACTOR", format!("worker{p}"))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "worker failed: {stderr}");
        assert!(stderr.is_empty(), "a worker printed an error: {stderr}");
        assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 40);
    }
    let all = t.json(&["bead", "list", "--all"]);
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 320);
    let mut titles: Vec<&str> = all.iter().map(|b| b["title"].as_str().unwrap()).collect();
    titles.sort();
    titles.dedup();
    assert_eq!(titles.len(), 320, "every bead is distinct");
    let events = t.json(&["trail", "--kind", "bead.created", "-n", "1000"]);
    assert_eq!(events.as_array().unwrap().len(), 320, "one event per bead");
}

#[test]
fn database_from_a_newer_gt_is_refused_untouched() {
    let t = TestTown::new();
    let db = t.root.join(".gt/town.db");
    gt_lib::store::sqlite::set_user_version_for_tests(&db, 999).unwrap();
    let before = std::fs::read(&db).unwrap();
    let err = t.fails(&["bead", "list"], 3);
    assert!(err.contains("schema version 999"), "{err}");
    assert!(err.contains("hint: upgrade gt"), "{err}");
    assert_eq!(before, std::fs::read(&db).unwrap(), "database was modified");
}

#[test]
fn snapshots_of_human_output() {
    let t = TestTown::new();
    let epic = t.create(
        "Ship the parser",
        &[
            "-t",
            "epic",
            "-p",
            "1",
            "-l",
            "core",
            "-d",
            "All of it.\nIn two lines.",
        ],
    );
    let lex = t.create("Lexer", &["--parent", &epic, "-p", "0"]);
    let tok = t.create("Token table", &["-p", "3", "-t", "chore"]);
    t.ok(&["bead", "dep", "add", &lex, &tok]);
    t.ok(&["bead", "comment", &lex, "start with identifiers"]);
    let mut settings = insta::Settings::clone_current();
    for (id, name) in [(&epic, "[EPIC]"), (&lex, "[LEXER]"), (&tok, "[TOKENS]")] {
        settings.add_filter(&regex_escape(id), name);
    }
    settings.add_filter(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+Z)?", "[TIME]");
    settings.add_filter(&regex_escape(&t.root.display().to_string()), "[TOWN]");
    settings.bind(|| {
        insta::assert_snapshot!("show", t.ok(&["show", &lex]));
        insta::assert_snapshot!("list", t.ok(&["bead", "list"]));
        insta::assert_snapshot!("ready", t.ok(&["ready"]));
        insta::assert_snapshot!("blocked", t.ok(&["bead", "blocked"]));
        insta::assert_snapshot!("tree", t.ok(&["bead", "dep", "tree", &lex]));
        insta::assert_snapshot!("trail", t.ok(&["trail"]));
        insta::assert_snapshot!("status", t.ok(&["status"]));
    });
}

#[test]
fn bead_list_has_a_default_limit_and_all_streams_everything() {
    let t = TestTown::new();
    // 60 beads in one import, 12 of them closed.
    let lines: Vec<String> = (0..60)
        .map(|i| {
            let status = if i % 5 == 0 { "closed" } else { "open" };
            format!(
                r#"{{"id":"hq-l{i:03}","title":"bead {i}","status":"{status}","priority":2,"issue_type":"task","created_at":"2026-01-01T00:00:{:02}Z","updated_at":"2026-01-01T00:00:00Z"}}"#,
                i % 60
            )
        })
        .collect();
    let file = t.dir.path().join("l.jsonl");
    std::fs::write(&file, lines.join("\n")).unwrap();
    t.ok(&["bead", "import", file.to_str().unwrap()]);
    let out = t.run(&["--json", "bead", "list"]);
    assert!(out.status.success());
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        shown.as_array().unwrap().len(),
        48,
        "the 48 open beads fit under the default 50"
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = t.run(&["bead", "list", "--closed"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 50);
    let note = String::from_utf8_lossy(&out.stderr);
    assert!(
        note.contains("showing the first 50; 10 more") && note.contains("--all"),
        "{note}"
    );
    let out = t.run(&["--json", "bead", "list", "--limit", "5", "--status", "open"]);
    let five: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(five.as_array().unwrap().len(), 5);
    assert!(String::from_utf8_lossy(&out.stderr).contains("43 more"));
    // A filter the counts cannot answer: said without a number.
    let out = t.run(&["bead", "list", "--limit", "3", "--priority", "2"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("more beads match"));
    // --all: every bead, closed included, as one JSON array; no note.
    let out = t.run(&["--json", "bead", "list", "--all"]);
    let all: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(all.as_array().unwrap().len(), 60);
    assert!(out.stderr.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&t.run(&["-q", "bead", "list", "--all"]).stdout)
            .lines()
            .count(),
        60
    );
    t.fails(&["bead", "list", "--all", "--limit", "3"], 2);
    // Empty and full stores alike: an empty array is still an array.
    let empty = TestTown::new();
    assert_eq!(
        empty.json(&["bead", "list", "--all"]),
        serde_json::json!([])
    );
}
