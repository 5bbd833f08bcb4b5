//! A temporary town driven through the real `gt` binary with a cleared
//! environment: its own HOME, a deterministic actor, and no inherited GT_*.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

pub fn gt_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_gt"))
}

/// A `gt` command with a cleared environment rooted at `home`.
pub fn clean_cmd(home: &Path) -> Command {
    let mut c = Command::new(gt_bin());
    c.env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GT_ACTOR", "tester")
        .env("NO_COLOR", "1")
        .env("LANG", "C.UTF-8")
        .current_dir(home);
    c
}

pub struct TestTown {
    pub dir: TempDir,
    pub root: PathBuf,
    pub home: PathBuf,
}

impl TestTown {
    /// A fresh town named `test` in a temporary directory.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = dir.path().join("home");
        std::fs::create_dir(&home).unwrap();
        let root = dir.path().join("town");
        let out = clean_cmd(&home)
            .args(["init", "--name", "test"])
            .arg(&root)
            .output()
            .unwrap();
        assert!(out.status.success(), "gt init failed: {out:?}");
        let root = root.canonicalize().unwrap();
        TestTown { dir, root, home }
    }

    /// `gt` run from the town root.
    pub fn cmd(&self) -> Command {
        let mut c = clean_cmd(&self.home);
        c.current_dir(&self.root);
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "gt {args:?} failed ({:?}):\nstdout: {}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs with `--json` and parses stdout.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let text = self.ok(&all);
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("bad JSON from {args:?}: {e}\n{text}"))
    }

    /// Creates a bead and returns its id.
    pub fn create(&self, title: &str, extra: &[&str]) -> String {
        let mut args = vec!["bead", "create", title];
        args.extend_from_slice(extra);
        self.json(&args)["id"].as_str().unwrap().to_string()
    }

    /// Runs, asserts the exit code, and returns stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(
            out.status.code(),
            Some(code),
            "gt {args:?}: expected exit {code}\nstdout: {}\nstderr: {stderr}",
            String::from_utf8_lossy(&out.stdout)
        );
        stderr
    }

    /// Asserts a user error: exit 1, exactly one `error:` line (plus an
    /// optional `hint:`), no panic, and nothing written to the town.
    pub fn refuses(&self, args: &[&str]) -> String {
        let before = self.fingerprint();
        let stderr = self.fails(args, 1);
        let lines: Vec<&str> = stderr.lines().collect();
        assert!(
            !lines.is_empty() && lines.len() <= 2 && lines[0].starts_with("error: "),
            "gt {args:?}: expected a one-line error, got:\n{stderr}"
        );
        if lines.len() == 2 {
            assert!(lines[1].starts_with("hint: "), "{stderr}");
        }
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(before, self.fingerprint(), "gt {args:?} wrote to the town");
        stderr
    }

    pub fn store(&self) -> gt_lib::store::SqliteStore {
        gt_lib::town::Town::open(&self.root)
            .unwrap()
            .store()
            .unwrap()
    }

    /// Everything the town holds, for "nothing was written" checks.
    pub fn fingerprint(&self) -> (String, usize) {
        use gt_lib::store::{BeadStore, EventStore};
        let store = self.store();
        let mut beads = String::new();
        store
            .export_records(&mut |r| {
                beads.push_str(&format!("{:?}\n", r));
                Ok(())
            })
            .unwrap();
        let events = store.events(&Default::default()).unwrap().len();
        let config = std::fs::read_to_string(self.root.join("gt.toml")).unwrap();
        (format!("{beads}{config}"), events)
    }
}
