//! Damaged state, bad input, and what new users hit (issue #10 §6, §7).

mod common;

use std::path::Path;

use common::{clean_cmd, TestTown};

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
    for args in [&["bead", "list"][..], &["status"], &["bead", "create", "x"]] {
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
    let out = clean_cmd(&t.home).arg("init").arg(&t.root).output().unwrap();
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
