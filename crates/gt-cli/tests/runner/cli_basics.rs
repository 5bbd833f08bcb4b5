//! Damaged state, bad input, and what new users hit (issue #10 §6, §7).

use std::path::Path;

use crate::common::{clean_cmd, doctor_check, TestTown};

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts one `error:` line and one `hint:` line on stderr.
fn one_error_with_hint(stderr: &str) {
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(lines[1].starts_with("hint: "), "{stderr}");
}

fn db_files(root: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root.join(".gt"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("town.db"))
        .collect();
    v.sort();
    v
}

// §6.1 ---------------------------------------------------------------------

#[test]
fn a_zero_byte_database_is_refused_not_recreated() {
    let t = TestTown::new();
    t.create("remember me", &[]);
    let db = t.root.join(".gt/town.db");
    for f in db_files(&t.root) {
        std::fs::remove_file(t.root.join(".gt").join(f)).unwrap();
    }
    std::fs::write(&db, b"").unwrap();
    for args in [
        &["bead", "list"][..],
        &["status"],
        &["bead", "create", "x"],
        &["up"],
    ] {
        let err = t.fails(args, 3);
        one_error_with_hint(&err);
        assert!(err.contains("empty"), "{err}");
        assert!(err.contains("gt init"), "{err}");
    }
    // Nothing was created in its place.
    assert_eq!(std::fs::metadata(&db).unwrap().len(), 0);
    assert_eq!(db_files(&t.root), vec!["town.db".to_string()]);
    // --json: the error object names the kind.
    let out = t.run(&["--json", "bead", "list"]);
    assert_eq!(out.status.code(), Some(3));
    let v: serde_json::Value = serde_json::from_str(&stdout_of(&out)).unwrap();
    assert_eq!(v["error"]["kind"], "damaged_database");
}

#[test]
fn a_missing_database_is_refused_with_a_hint() {
    let t = TestTown::new();
    for f in db_files(&t.root) {
        std::fs::remove_file(t.root.join(".gt").join(f)).unwrap();
    }
    let err = t.fails(&["bead", "list"], 3);
    one_error_with_hint(&err);
    assert!(err.contains("missing"), "{err}");
    assert!(db_files(&t.root).is_empty(), "a database was created");
    // gt init still refuses an existing town rather than starting it over.
    let out = clean_cmd(&t.home)
        .arg("init")
        .arg(&t.root)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
}

#[test]
fn a_malformed_database_is_an_environment_error() {
    let t = TestTown::new();
    for i in 0..40 {
        t.create(&format!("bead {i} {}", "x".repeat(200)), &[]);
    }
    // The last connection to close folds the WAL into the main file.
    assert_eq!(db_files(&t.root), vec!["town.db".to_string()]);
    let db = t.root.join(".gt/town.db");
    let mut bytes = std::fs::read(&db).unwrap();
    assert!(bytes.len() > 8192);
    for b in bytes[4096..].iter_mut() {
        *b = 0xA5;
    }
    std::fs::write(&db, &bytes).unwrap();
    let out = t.run(&["bead", "list"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    one_error_with_hint(&stderr_of(&out));
}

// §7.5 ---------------------------------------------------------------------

#[test]
fn mail_check_inject_exits_zero_without_mail() {
    let t = TestTown::new();
    let out = t.run(&["mail", "check", "--inject"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
    // Plain check keeps 0/1 for scripts.
    t.fails(&["mail", "check"], 1);
    t.ok(&["mail", "send", "human", "-s", "hello", "-m", "body"]);
    let out = t.ok(&["mail", "check", "--inject"]);
    assert!(out.contains("hello"), "{out}");
    let out = t.run(&["mail", "check", "--inject"]);
    assert_eq!(out.status.code(), Some(0));
}

// §6.4 ---------------------------------------------------------------------

/// No raw escape, C1 or bidirectional control reaches the terminal.
fn assert_inert(text: &str) {
    for c in text.chars() {
        let bad = c == '\u{1b}'
            || ('\u{80}'..='\u{9f}').contains(&c)
            || ('\u{202A}'..='\u{202E}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c);
        assert!(!bad, "raw {:?} in output:\n{}", c, text.escape_debug());
    }
}

#[test]
fn bidi_controls_in_titles_are_shown_escaped() {
    let t = TestTown::new();
    let title = "invoice\u{202E}fdp.exe \u{2066}x\u{2069}";
    let id = t.create(title, &[]);
    for args in [&["bead", "list"][..], &["show", &id], &["trail"]] {
        let out = t.ok(args);
        assert_inert(&out);
        assert!(out.contains("\\u{202e}"), "{args:?}: {out}");
    }
    // Stored verbatim: --json carries the real characters.
    let v = t.json(&["show", &id]);
    assert_eq!(v["title"], title);
}

#[test]
fn usage_errors_escape_the_arguments_they_echo() {
    let t = TestTown::new();
    for arg in [
        "\u{1b}]0;pwned\u{7}x",
        "sub\u{9b}31m\u{202E}",
        "--flag\u{1b}[2J\u{85}",
    ] {
        let out = t.run(&["bead", arg]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
        let err = stderr_of(&out);
        assert!(err.starts_with("error: "), "{err}");
        assert_inert(&err);
        assert!(!err.contains('\u{7}'), "{}", err.escape_debug());
    }
    let err = stderr_of(&t.run(&["bead", "sub\u{9b}\u{202E}"]));
    assert!(
        err.contains("\\u{9b}") && err.contains("\\u{202e}"),
        "{err}"
    );
    // Help and version still print normally, exit 0.
    let out = t.run(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout_of(&out).starts_with("Gas Town: run many AI coding agents"));
    assert!(!stdout_of(&out).contains("thin CLI"));
    let out = t.run(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout_of(&out).starts_with("gt "));
}

// §7.6 ---------------------------------------------------------------------

#[test]
fn completions_for_every_shell() {
    let t = TestTown::new();
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef gt"),
        ("fish", "complete -c gt"),
        ("elvish", "edit:completion:arg-completer[gt]"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let out = t.ok(&["completions", shell]);
        assert!(out.contains(marker), "{shell}: no {marker:?}");
        // Subcommands are in there.
        assert!(out.contains("sling") && out.contains("mail"), "{shell}");
    }
    let out = t.run(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn man_page_renders_and_writes_pages() {
    let t = TestTown::new();
    let page = t.ok(&["man"]);
    assert!(page.contains(".TH gt 1"), "{page}");
    assert!(page.contains(".SH NAME") && page.contains("Gas Town"));
    assert!(page.contains("sling"));
    let dir = t.dir.path().join("man1");
    std::fs::create_dir(&dir).unwrap();
    let v = t.json(&["man", "--dir", dir.to_str().unwrap()]);
    let pages: Vec<&str> = v["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        pages.contains(&"gt.1") && pages.contains(&"gt-bead.1"),
        "{pages:?}"
    );
    assert!(pages.contains(&"gt-bead-create.1"), "{pages:?}");
    // The hidden stand-in agent has no page.
    assert!(!pages.iter().any(|p| p.contains("standin")), "{pages:?}");
    assert!(dir.join("gt-mail.1").is_file());
    let err = t.refuses(&["man", "--dir", "/nonexistent/man"]);
    assert!(err.contains("not a directory"), "{err}");
}

#[test]
fn version_text_and_json() {
    let t = TestTown::new();
    let text = t.ok(&["version"]);
    assert!(
        text.starts_with(&format!("gt {}", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    let v = t.json(&["version"]);
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert!(v["schema_version"].as_i64().unwrap() >= 1);
    // Works outside a town too.
    let out = clean_cmd(&t.home).args(["version"]).output().unwrap();
    assert!(out.status.success());
}

// §6.2 ---------------------------------------------------------------------

fn dep(id: &str, on: &str, ty: &str) -> String {
    format!(r#"{{"issue_id":"{id}","depends_on_id":"{on}","type":"{ty}"}}"#)
}

fn issue(id: &str, deps: &[String]) -> String {
    format!(
        r#"{{"id":"{id}","title":"t {id}","dependencies":[{}]}}"#,
        deps.join(",")
    )
}

#[test]
fn import_refuses_dependency_cycles_with_line_numbers() {
    let t = TestTown::new();
    let file = t.dir.path().join("cycle.jsonl");
    let text = [
        issue("bd-1", &[dep("bd-1", "bd-2", "blocks")]),
        String::new(),
        issue("bd-2", &[dep("bd-2", "bd-3", "parent-child")]),
        issue("bd-3", &[dep("bd-3", "bd-1", "blocks")]),
        issue("bd-4", &[dep("bd-4", "bd-1", "related")]),
    ]
    .join("\n");
    std::fs::write(&file, text).unwrap();
    let err = t.refuses(&["bead", "import", file.to_str().unwrap()]);
    assert!(err.contains("dependency cycle"), "{err}");
    for (id, line) in [("bd-1", 1), ("bd-2", 3), ("bd-3", 4)] {
        assert!(err.contains(&format!("{id} (line {line})")), "{err}");
    }
    assert!(t
        .json(&["bead", "list", "--all"])
        .as_array()
        .unwrap()
        .is_empty());

    // `related` edges are not structural: a related loop imports fine.
    let ok = t.dir.path().join("related.jsonl");
    let text = [
        issue("bd-5", &[dep("bd-5", "bd-6", "related")]),
        issue("bd-6", &[dep("bd-6", "bd-5", "related")]),
    ]
    .join("\n");
    std::fs::write(&ok, text).unwrap();
    t.ok(&["bead", "import", ok.to_str().unwrap()]);

    // A cycle through an edge already in the ledger.
    let a = t.create("a", &[]);
    let b = t.create("b", &[]);
    t.ok(&["bead", "dep", "add", &a, &b]);
    let file = t.dir.path().join("ledger.jsonl");
    std::fs::write(&file, issue(&b, &[dep(&b, &a, "blocks")])).unwrap();
    let err = t.refuses(&["bead", "import", file.to_str().unwrap()]);
    assert!(err.contains(&format!("{b} (line 1)")), "{err}");
    assert!(err.contains(&format!("{a} (in the ledger)")), "{err}");
}

// §6.3 ---------------------------------------------------------------------

#[test]
fn bad_durations_are_refused_by_set_and_in_gt_toml() {
    let t = TestTown::new();
    for (key, bad) in [
        ("deacon.interval", "0s"),
        ("deacon.interval", "1ms"),
        ("deacon.interval", "2h"),
        ("deacon.restart_backoff", "500ms"),
        ("deacon.stall_after", "0m"),
        ("deacon.orphan_grace", "60d"),
        ("deacon.max_restarts", "101"),
        ("scheduler.max_polecats", "0"),
    ] {
        let err = t.refuses(&["config", "set", key, bad]);
        assert!(err.contains(key), "{err}");
    }
    t.ok(&["config", "set", "deacon.interval", "1s"]);

    let toml = t.root.join("gt.toml");
    let good = std::fs::read_to_string(&toml).unwrap();
    for (section, line, key) in [
        ("deacon", "interval = \"0s\"", "deacon.interval"),
        ("deacon", "stall_after = \"1ms\"", "deacon.stall_after"),
        (
            "deacon",
            "escalate_after = \"soon\"",
            "deacon.escalate_after",
        ),
        ("deacon", "max_restarts = 5000", "deacon.max_restarts"),
        ("scheduler", "max_polecats = 0", "scheduler.max_polecats"),
    ] {
        let text = format!("[town]\nname = \"test\"\nprefix = \"hq\"\n\n[{section}]\n{line}\n");
        std::fs::write(&toml, &text).unwrap();
        for args in [
            &["status"][..],
            &["bead", "list"],
            &["deacon", "patrol", "--once"],
        ] {
            let err = t.fails(args, 3);
            let lines: Vec<&str> = err.lines().collect();
            assert_eq!(lines.len(), 1, "{err}");
            assert!(lines[0].starts_with("error: "), "{err}");
            assert!(
                err.contains("gt.toml") && err.contains(key),
                "{line}: {err}"
            );
        }
    }
    std::fs::write(&toml, &good).unwrap();
    t.ok(&["status"]);
}

// §7.8 ---------------------------------------------------------------------

fn doctor_json(t: &TestTown, extra: &[&str], path: Option<&str>) -> (i32, serde_json::Value) {
    let mut c = t.cmd();
    if let Some(p) = path {
        c.env("PATH", p);
    }
    let out = c.arg("--json").arg("doctor").args(extra).output().unwrap();
    let v: serde_json::Value = serde_json::from_str(&stdout_of(&out))
        .unwrap_or_else(|e| panic!("{e}: {}", stdout_of(&out)));
    (out.status.code().unwrap(), v)
}

/// Ends a spawned process when dropped, also when the test fails.
struct Reap(std::process::Child);
impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn doctor_on_a_healthy_town() {
    let t = TestTown::new();
    let (code, v) = doctor_json(&t, &[], None);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["ok"], true);
    for c in v["checks"].as_array().unwrap() {
        assert!(c["name"].is_string() && c["detail"].is_string(), "{c}");
        assert!(
            ["ok", "warn"].contains(&c["status"].as_str().unwrap()),
            "{c}"
        );
        if c["status"] != "ok" {
            assert!(c["hint"].is_string(), "{c}");
        }
    }
    for name in [
        "tmux",
        "git",
        "database",
        "tmux-socket",
        "orphan-processes",
        "runtimes",
    ] {
        doctor_check(&v, name);
    }
    assert!(doctor_check(&v, "database")["detail"]
        .as_str()
        .unwrap()
        .contains("quick_check ok"));
    // A runtime on PATH is found.
    let bin = t.dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    for tool in ["tmux", "git"] {
        let real = gt_lib::workspace::find_program(
            tool,
            Some(std::ffi::OsStr::new(&crate::common::system_path())),
        )
        .unwrap();
        std::os::unix::fs::symlink(real, bin.join(tool)).unwrap();
    }
    let claude = bin.join("claude");
    std::fs::write(&claude, "#!/bin/sh\nexit 0\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&claude, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (code, v) = doctor_json(&t, &[], Some(bin.to_str().unwrap()));
    assert_eq!(code, 0, "{v}");
    let r = doctor_check(&v, "runtimes");
    assert_eq!(r["status"], "ok", "{r}");
    assert!(r["detail"].as_str().unwrap().contains("claude"), "{r}");
    // Human output: one line per check, and a summary.
    let text = t.ok(&["doctor"]);
    assert!(
        text.lines()
            .any(|l| l.starts_with("ok") && l.contains("database")),
        "{text}"
    );
    assert!(text.contains("0 failed"), "{text}");
}

#[test]
fn doctor_fails_on_a_damaged_database_and_missing_tmux() {
    let t = TestTown::new();
    std::fs::write(t.root.join(".gt/town.db"), b"").unwrap();
    for f in db_files(&t.root) {
        if f != "town.db" {
            std::fs::remove_file(t.root.join(".gt").join(f)).unwrap();
        }
    }
    let (code, v) = doctor_json(&t, &["--fix"], None);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["ok"], false);
    let db = doctor_check(&v, "database");
    assert_eq!(db["status"], "fail");
    assert!(db["detail"].as_str().unwrap().contains("empty"), "{db}");
    assert!(db["hint"].is_string());
    // --fix never touches a database.
    assert_eq!(
        std::fs::metadata(t.root.join(".gt/town.db")).unwrap().len(),
        0
    );

    let t = TestTown::new();
    let empty = t.dir.path().join("empty-bin");
    std::fs::create_dir(&empty).unwrap();
    let (code, v) = doctor_json(&t, &[], Some(empty.to_str().unwrap()));
    assert_eq!(code, 1, "{v}");
    assert_eq!(doctor_check(&v, "tmux")["status"], "fail");
    assert_eq!(doctor_check(&v, "git")["status"], "fail");
}

#[test]
fn doctor_finds_stale_sockets_and_orphans_and_fixes_only_what_loses_nothing() {
    let t = TestTown::new();
    // A socket file with no tmux server behind it.
    let socket = gt_lib::tmux::socket_name_for(&t.root);
    let uid = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/self").unwrap().uid()
    };
    let dir = Path::new("/tmp").join(format!("tmux-{uid}"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(&socket);
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    // A process of an agent whose session is gone.
    let child = std::process::Command::new("sleep")
        .arg("60")
        .env("GT_TOWN", &t.root)
        .env("GT_SESSION", "gt-app-P-gone")
        .spawn()
        .unwrap();
    let reap = Reap(child);
    let pid = reap.0.id();

    let (code, v) = doctor_json(&t, &[], None);
    assert_eq!(code, 0, "warnings do not fail: {v}");
    let s = doctor_check(&v, "tmux-socket");
    assert_eq!(s["status"], "warn", "{s}");
    assert!(s["hint"].as_str().unwrap().contains("--fix"));
    let o = doctor_check(&v, "orphan-processes");
    assert_eq!(o["status"], "warn", "{o}");
    assert!(
        o["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("{pid} (gt-app-P-gone)")),
        "{o}"
    );

    // gt's tmux layer also drops a dead socket whenever it looks at the
    // server (the orphan check above did): make it stale again for --fix.
    if !path.exists() {
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    }
    let (_, v) = doctor_json(&t, &["--fix"], None);
    let s = doctor_check(&v, "tmux-socket");
    assert_eq!(s["fixed"], true, "{s}");
    assert!(!path.exists(), "the stale socket is still there");
    // The process is left alone: ending it could lose work.
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    assert_eq!(doctor_check(&v, "orphan-processes")["status"], "warn");
    let (_, v) = doctor_json(&t, &[], None);
    assert_eq!(doctor_check(&v, "tmux-socket")["status"], "ok");

    // Missing state folders: --fix makes them again.
    std::fs::remove_dir(t.root.join(".gt/logs")).unwrap();
    let (_, v) = doctor_json(&t, &[], None);
    assert_eq!(doctor_check(&v, "state-dirs")["status"], "warn", "{v}");
    let (_, v) = doctor_json(&t, &["--fix"], None);
    assert_eq!(doctor_check(&v, "state-dirs")["fixed"], true, "{v}");
    assert!(t.root.join(".gt/logs").is_dir());
}

#[test]
fn doctor_outside_a_town_checks_the_machine() {
    let t = TestTown::new();
    let out = clean_cmd(&t.home)
        .args(["--json", "doctor"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stdout_of(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout_of(&out)).unwrap();
    assert_eq!(doctor_check(&v, "town")["status"], "warn");
    assert_eq!(doctor_check(&v, "tmux")["status"], "ok");
}

// §7.7 ---------------------------------------------------------------------

#[test]
fn agent_set_warns_when_the_command_is_not_on_path() {
    let t = TestTown::new();
    let out = t.run(&[
        "config",
        "agent",
        "set",
        "ghost",
        "no-such-agent-xyz --flag",
    ]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(
        err.starts_with("warning: no-such-agent-xyz is not on PATH"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    // It is saved all the same.
    assert!(t.ok(&["config", "agent", "list"]).contains("ghost"));
    // Making it the default warns too.
    let out = t.run(&["config", "default-agent", "ghost"]);
    assert!(out.status.success());
    assert!(
        stderr_of(&out).starts_with("warning: no-such-agent-xyz is not on PATH"),
        "{}",
        stderr_of(&out)
    );
    // A command that is on PATH: no warning.
    let out = t.run(&["config", "agent", "set", "shelly", "sh -c true"]);
    assert!(out.status.success());
    assert!(out.stderr.is_empty(), "{}", stderr_of(&out));
}

#[test]
fn attach_without_a_terminal_is_one_error_line() {
    let t = TestTown::new();
    t.with_rig("r");
    let s = t.sling("r", "wait", "standin-hang");
    let agent = s["agent"].as_str().unwrap().to_string();
    let err = t.refuses(&["attach", &agent]);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("needs a terminal"), "{err}");
    assert!(err.contains("gt peek"), "{err}");
}

#[test]
fn rig_config_shows_effective_settings_with_defaults() {
    let t = TestTown::new();
    t.with_rig("r");
    t.ok(&["rig", "config", "r", "merge.batch", "8"]);
    t.ok(&["rig", "config", "r", "gates.test", "true"]);
    let out = t.ok(&["rig", "config", "r"]);
    let line = |k: &str| {
        out.lines()
            .find(|l| l.starts_with(&format!("{k} = ")))
            .unwrap_or_else(|| panic!("no {k}:\n{out}"))
            .to_string()
    };
    assert_eq!(line("merge.batch"), "merge.batch = 8");
    assert_eq!(line("merge.strategy"), "merge.strategy = rebase  (default)");
    assert_eq!(
        line("merge.on_failure"),
        "merge.on_failure = resling  (default)"
    );
    assert_eq!(line("push"), "push = false  (default)");
    assert_eq!(line("gates.timeout"), "gates.timeout = 600  (default)");
    assert_eq!(line("gates.test"), "gates.test = true");
    // --json is still the stored object.
    let v = t.json(&["rig", "config", "r"]);
    assert_eq!(v["merge.batch"], 8);
    assert!(v.get("merge.strategy").is_none(), "{v}");
}

/// `YYYY-MM-DD HH:MM:SS` with nothing after the seconds.
fn has_human_time(line: &str) -> bool {
    line.as_bytes().windows(19).any(|w| {
        let s = std::str::from_utf8(w).unwrap_or("");
        s.len() == 19
            && s.chars().enumerate().all(|(i, c)| match i {
                4 | 7 => c == '-',
                10 => c == ' ',
                13 | 16 => c == ':',
                _ => c.is_ascii_digit(),
            })
    })
}

#[test]
fn one_timestamp_format_for_humans() {
    let t = TestTown::new();
    let id = t.create("timed", &[]);
    t.ok(&["bead", "comment", &id, "a note"]);
    t.ok(&["close", &id, "--reason", "done"]);
    t.ok(&["mail", "send", "human", "-s", "subject", "-m", "body"]);
    let show = t.ok(&["show", &id]);
    let inbox = t.ok(&["mail", "inbox"]);
    let read = t.ok(&["mail", "read", "1"]);
    let trail = t.ok(&["trail"]);
    t.ok(&["deacon", "patrol", "--once"]);
    let deacon = t.ok(&["deacon", "status"]);
    for (what, text) in [
        ("show", &show),
        ("inbox", &inbox),
        ("read", &read),
        ("trail", &trail),
        ("deacon status", &deacon),
    ] {
        assert!(
            !text.contains(".000") && !text.contains("Z "),
            "{what}: {text}"
        );
        assert!(
            !text
                .chars()
                .collect::<Vec<_>>()
                .windows(3)
                .any(|w| w[0].is_ascii_digit() && w[1] == 'T' && w[2].is_ascii_digit()),
            "{what} shows an RFC 3339 time: {text}"
        );
        assert!(text.lines().any(has_human_time), "{what}: {text}");
    }
    for key in ["created:", "closed:"] {
        let l = show.lines().find(|l| l.starts_with(key)).unwrap();
        assert!(has_human_time(l), "{l}");
    }
    assert!(
        read.lines()
            .any(|l| l.starts_with("Date: ") && has_human_time(l)),
        "{read}"
    );
}

#[test]
fn mail_send_says_what_it_did() {
    let t = TestTown::new();
    let out = t.ok(&[
        "mail",
        "send",
        "human",
        "mayor",
        "-s",
        "status report",
        "-m",
        "all fine",
    ]);
    assert_eq!(out.trim(), "Sent mail 1 to human, mayor: status report");
    let out = t.ok(&["mail", "reply", "1", "-m", "thanks"]);
    assert!(
        out.starts_with("Sent mail 2 to human in reply to 1"),
        "{out}"
    );
    // --quiet: the id only.
    assert_eq!(
        t.ok(&["-q", "mail", "send", "human", "-s", "x", "-m", "y"])
            .trim(),
        "3"
    );
}

#[test]
fn mq_list_has_a_header() {
    let t = TestTown::new();
    assert_eq!(t.ok(&["mq", "list"]).trim(), "The merge queue is empty.");
    t.with_rig("r");
    let s = t.sling("r", "land it", "standin");
    let bead = s["bead"].as_str().unwrap().to_string();
    t.wait_for(30, "a merge request", |t| {
        !t.json(&["mq", "list"]).as_array().unwrap().is_empty()
    });
    let out = t.ok(&["mq", "list"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].contains("ID") && lines[0].contains("STATUS") && lines[0].contains("BEAD"),
        "{out}"
    );
    assert!(lines[1].contains(&bead), "{out}");
    // --quiet and --json have no header.
    assert!(!t.ok(&["-q", "mq", "list"]).contains("STATUS"));
}

#[test]
fn placeholder_ids_get_a_hint() {
    let t = TestTown::new();
    for id in ["hq-abc", "hq-def", "ID", "<id>"] {
        let err = t.refuses(&["show", id]);
        one_error_with_hint(&err);
        assert!(err.contains("looks like an example"), "{err}");
    }
    // A real-looking id that does not exist: no hint.
    let err = t.refuses(&["show", "hq-zz9q"]);
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn agent_standin_is_a_hidden_gt_command_with_one_line_errors() {
    // The stand-in lives in its own crate now; `gt agent-standin` still runs it.
    let t = TestTown::new();
    let err = t.refuses(&["agent-standin", "--behavior", "dance"]);
    assert!(err.contains("unknown stand-in behavior 'dance'"), "{err}");
    let out = t
        .cmd()
        .env("GT_STANDIN_BEHAVIOR", "moonwalk")
        .arg("agent-standin")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert!(stderr_of(&out).starts_with("error: unknown stand-in behavior 'moonwalk'"));
    // Outside a polecat it finds no work: said in its pane (stdout), exit 1.
    let out = t.run(&["agent-standin", "--behavior", "finish"]);
    assert_eq!(out.status.code(), Some(1));
    let pane = stdout_of(&out);
    assert!(pane.contains("NOT an AI"), "{pane}");
    assert!(pane.contains("no work"), "{pane}");
    assert!(!t.ok(&["--help"]).contains("agent-standin"));
}

#[test]
fn status_json_shows_the_deacon_as_deacon_status_judges_it() {
    let t = TestTown::new();
    let keys = |v: &serde_json::Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let check = |want: &str| {
        let d = t.json(&["deacon", "status"]);
        let s = t.json(&["status"])["deacon"].clone();
        assert_eq!(keys(&s), ["heartbeat_at", "pid", "state"], "{s}");
        assert_eq!(d["state"], want, "{d}");
        // A running deacon may beat between the two calls.
        let same: &[&str] = if want == "up" {
            &["state", "pid"]
        } else {
            &["state", "heartbeat_at", "pid"]
        };
        for k in same {
            assert_eq!(s[k], d[k], "{k}: {s} vs {d}");
        }
    };
    check("never_started");
    t.ok(&["up"]);
    check("up");
    t.ok(&["down"]);
    check("stopped");
}
