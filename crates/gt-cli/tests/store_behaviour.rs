//! Concurrency, schema versions and snapshots of human-readable output.

mod common;

use common::TestTown;

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
                .env("PATH", common::system_path())
                .env("HOME", &t.home)
                .env("GT", common::gt_bin())
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

fn regex_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}
