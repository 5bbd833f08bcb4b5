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
        .env("PATH", system_path())
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

/// Kills the town's private tmux server when dropped — also when a test
/// panics — so no test leaves a server or session behind.
impl Drop for TestTown {
    fn drop(&mut self) {
        // A deacon started by the test (`gt up`) stops with it, even on panic.
        let _ = clean_cmd(&self.home)
            .arg("--town")
            .arg(&self.root)
            .arg("down")
            .timeout(std::time::Duration::from_secs(30))
            .output();
        let socket = gt_lib::tmux::socket_name_for(&self.root);
        let _ = std::process::Command::new("tmux")
            .args(["-L", &socket, "kill-server"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        let _ = std::fs::remove_file(
            std::path::Path::new(&format!("/tmp/tmux-{}", current_uid())).join(&socket),
        );
    }
}

fn current_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(0)
}

impl TestTown {
    /// A fresh town named `test` in a temporary directory.
    pub fn new() -> Self {
        Self::new_with(&[])
    }

    /// [`TestTown::new`] with more `gt init` arguments (e.g. `--store URL`).
    pub fn new_with(init_args: &[&str]) -> Self {
        Self::init_in(tempfile::tempdir().expect("tempdir"), init_args)
    }

    /// A town in a directory under the build's target directory instead of
    /// the system's temporary directory, for runtimes that refuse files
    /// under a world-writable directory such as `/tmp` (Gemini CLI's system
    /// settings).
    /// When the checkout itself lies under such a directory, the test
    /// runner's own home directory (a temporary directory in it, removed
    /// after) is used instead.
    pub fn new_in_target() -> Self {
        use std::os::unix::fs::PermissionsExt;
        let private = |p: &std::path::Path| {
            p.ancestors()
                .all(|d| std::fs::metadata(d).map_or(true, |m| m.permissions().mode() & 0o022 == 0))
        };
        let target = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(&target).unwrap();
        let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
        let base = [Some(target), home]
            .into_iter()
            .flatten()
            .find(|b| private(b))
            .expect("no directory without world-writable parents for the town");
        Self::init_in(tempfile::tempdir_in(base).expect("tempdir"), &[])
    }

    fn init_in(dir: tempfile::TempDir, init_args: &[&str]) -> Self {
        let home = dir.path().join("home");
        std::fs::create_dir(&home).unwrap();
        let root = dir.path().join("town");
        let out = clean_cmd(&home)
            .args(["init", "--name", "test"])
            .args(init_args)
            .arg(&root)
            .output()
            .unwrap();
        assert!(out.status.success(), "gt init failed: {out:?}");
        let root = root.canonicalize().unwrap();
        TestTown { dir, root, home }
    }

    /// A further host of the PostgreSQL town at `url`: `gt join URL DIR
    /// --host HOST` in a temporary directory of its own (own HOME and tmux
    /// socket), with more `gt join` arguments.
    pub fn join(url: &str, host: &str, args: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = dir.path().join("home");
        std::fs::create_dir(&home).unwrap();
        let root = dir.path().join("town");
        let out = clean_cmd(&home)
            .args(["join", url])
            .arg(&root)
            .args(["--host", host])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "gt join failed: {out:?}");
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

    /// Runs with extra environment (e.g. `GT_AGENT`, `PATH`), asserts
    /// success and returns stdout.
    pub fn ok_env(&self, env: &[(&str, &str)], args: &[&str]) -> String {
        let mut c = self.cmd();
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.args(args).output().unwrap();
        assert!(
            out.status.success(),
            "gt {args:?} with {env:?} failed ({:?}):\nstdout: {}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// A polecat's worktree.
    pub fn worktree(&self, rig: &str, polecat: &str) -> PathBuf {
        self.root.join(rig).join("polecats").join(polecat)
    }

    /// Whether `gt agents` shows a session of `bead` whose liveness is `live`
    /// (`running`, `exited`, `vanished`, `ended`).
    pub fn session_is(&self, bead: &str, live: &str) -> bool {
        self.json(&["agents"])
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["bead"] == bead && a["live"] == live)
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

    /// [`TestTown::refuses`] with `input` on standard input.
    pub fn refuses_with_stdin(&self, args: &[&str], input: &[u8]) -> String {
        let before = self.fingerprint();
        let out = self
            .cmd()
            .args(args)
            .write_stdin(input.to_vec())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(1), "gt {args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "gt {args:?}: {stderr}");
        assert!(stderr.starts_with("error: "), "{stderr}");
        assert_eq!(before, self.fingerprint(), "gt {args:?} wrote to the town");
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

    pub fn store(&self) -> Box<dyn gt_lib::store::Store + Send> {
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

/// A git repository with one commit on `main`, for `gt rig add`.
pub fn source_repo(parent: &Path, name: &str) -> PathBuf {
    let dir = parent.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    git(&dir, &["init", "-q", "-b", "main"]);
    std::fs::write(dir.join("README.md"), "# sample\n").unwrap();
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-q", "-m", "initial commit"]);
    dir
}

/// `git clone --bare <src> <dest>`; returns `dest`.
pub fn bare_clone(src: &Path, dest: &Path) -> PathBuf {
    let parent = dest.parent().unwrap();
    git(
        parent,
        &[
            "clone",
            "-q",
            "--bare",
            src.to_str().unwrap(),
            dest.to_str().unwrap(),
        ],
    );
    dest.to_path_buf()
}

/// Runs git with a fixed identity and no user or system config; returns stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args([
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.invalid",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

impl TestTown {
    /// Adds rig `name` from a fresh sample repository and the stand-in agents
    /// `standin` (finishes) and `standin-<behavior>` for the other behaviours.
    pub fn with_rig(&self, name: &str) -> PathBuf {
        let src = source_repo(self.dir.path(), &format!("src-{name}"));
        self.ok(&["rig", "add", name, src.to_str().unwrap()]);
        self.with_standins();
        src
    }

    /// The stand-in agents `standin` (finishes) and `standin-<behavior>`
    /// for the other behaviours, in this town's (this host's) settings.
    pub fn with_standins(&self) {
        let gt = gt_bin();
        let gt = gt.to_str().unwrap();
        self.set_agent("standin", &format!("{gt} agent-standin --behavior finish"));
        for b in [
            "crash",
            "hang",
            "exit-without-done",
            "prompt",
            "slow",
            "conflict",
        ] {
            let delay = if b == "crash" || b == "exit-without-done" {
                " --delay-ms 1500"
            } else {
                ""
            };
            self.set_agent(
                &format!("standin-{b}"),
                &format!("{gt} agent-standin --behavior {b}{delay}"),
            );
        }
    }

    /// Polls `check` every 100 ms for up to `secs` seconds.
    pub fn wait_for(&self, secs: u64, what: &str, mut check: impl FnMut(&TestTown) -> bool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        while std::time::Instant::now() < deadline {
            if check(self) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!(
            "timed out after {secs}s waiting for {what}\nagents: {}\ntrail: {}",
            String::from_utf8_lossy(&self.run(&["agents"]).stdout),
            String::from_utf8_lossy(&self.run(&["trail", "-n", "40"]).stdout)
        );
    }

    pub fn bead_status(&self, id: &str) -> String {
        self.json(&["show", id])["status"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub fn repo(&self, rig: &str) -> PathBuf {
        self.root.join(rig).join(".repo.git")
    }
}

/// Parses JSON Lines (`gt sling --json` prints one object per line).
pub fn lines_json(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

impl TestTown {
    /// Event kinds of the trail, oldest first (`--bead`/`--kind` filters as given).
    pub fn kinds(&self, filters: &[&str]) -> Vec<String> {
        let mut args = vec!["trail", "-n", "1000"];
        args.extend_from_slice(filters);
        self.json(&args)
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap().to_string())
            .collect()
    }

    /// Puts an executable `name` running `script` (sh) in a folder of its
    /// own and returns a PATH with that folder first.
    pub fn fake_program(&self, name: &str, script: &str) -> String {
        use std::os::unix::fs::PermissionsExt;
        let bin = self.dir.path().join("fakebin");
        std::fs::create_dir_all(&bin).unwrap();
        let path = bin.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{script}")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        format!("{}:{}", bin.display(), system_path())
    }
}

/// Real agent CLIs that a test must never start, whatever is installed.
pub const REAL_AGENTS: &[&str] = &[
    "claude",
    "codex",
    "gemini",
    "opencode",
    "aider",
    "amp",
    "cursor-agent",
    "goose",
];

/// The system directories a test town's PATH is made of.
const SYSTEM_DIRS: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// The PATH of every test town: one directory of links to the programs of the
/// system directories, less the real agent CLIs ([`REAL_AGENTS`]), so a test
/// never starts an agent that happens to be installed (npm puts them in
/// /usr/bin). Made once per test binary under the target's tmp dir.
pub fn system_path() -> String {
    static PATH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let dirs: Vec<PathBuf> = SYSTEM_DIRS.iter().map(PathBuf::from).collect();
        let bin = filtered_bin(base, &dirs, REAL_AGENTS).expect("cannot make the test PATH");
        bin.display().to_string()
    })
    .clone()
}

/// A directory under `base` with a link to each program in `dirs` (the first
/// of a name wins, as on a PATH) except those named in `deny`. Built in a
/// private directory and renamed into place, so test binaries running at
/// once never see a half-made one.
pub fn filtered_bin(base: &Path, dirs: &[PathBuf], deny: &[&str]) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let mut programs: Vec<(String, PathBuf)> = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut names: Vec<(String, PathBuf)> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let path = e.path();
                let meta = std::fs::metadata(&path).ok()?;
                (meta.is_file() && meta.permissions().mode() & 0o111 != 0).then_some((name, path))
            })
            .collect();
        names.sort();
        for (name, path) in names {
            if !deny.contains(&name.as_str()) && !programs.iter().any(|(n, _)| *n == name) {
                programs.push((name, path));
            }
        }
    }
    // The directory's name says what it holds: a changed system gets a new one.
    let mut listing = String::new();
    for (n, p) in &programs {
        listing.push_str(&format!("{n}={}\n", p.display()));
    }
    let digest = listing.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    });
    let dest = base.join(format!("test-path-{digest:016x}"));
    if dest.is_dir() {
        return Ok(dest);
    }
    std::fs::create_dir_all(base)?;
    let tmp = tempfile::Builder::new()
        .prefix(".test-path-")
        .tempdir_in(base)?;
    for (name, path) in &programs {
        std::os::unix::fs::symlink(path, tmp.path().join(name))?;
    }
    let tmp = tmp.keep();
    match std::fs::rename(&tmp, &dest) {
        Ok(()) => Ok(dest),
        // Another test binary made it first: use theirs.
        Err(_) if dest.is_dir() => {
            let _ = std::fs::remove_dir_all(&tmp);
            Ok(dest)
        }
        Err(e) => Err(e),
    }
}

impl TestTown {
    /// The row of `agent` in `gt --json agents`.
    pub fn agent_row(&self, agent: &str) -> Value {
        self.json(&["agents"])
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["agent"] == agent)
            .cloned()
            .unwrap_or_else(|| panic!("{agent} is not in gt agents"))
    }

    /// `gt sling <what> <rig> --agent <agent>`; returns the first JSON line
    /// (the slung bead, its polecat and session).
    pub fn sling(&self, rig: &str, what: &str, agent: &str) -> Value {
        lines_json(&self.ok(&["--json", "sling", what, rig, "--agent", agent])).remove(0)
    }
}

/// The `kind` of every action in a patrol report, in order.
pub fn action_kinds(report: &Value) -> Vec<String> {
    report["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap().to_string())
        .collect()
}

impl TestTown {
    /// Runs one `gt deacon patrol --once`; returns its action kinds.
    pub fn patrol(&self) -> Vec<String> {
        action_kinds(&self.json(&["deacon", "patrol", "--once"]))
    }

    /// Subjects of the commits on `branch` past `main` in the rig's repository.
    pub fn subjects_past_main(&self, rig: &str, branch: &str) -> String {
        git(
            &self.repo(rig),
            &["log", "--format=%s", &format!("main..{branch}")],
        )
    }

    /// Names of the files that commit `rev` of the rig's repository touches.
    pub fn files_of(&self, rig: &str, rev: &str) -> String {
        git(&self.repo(rig), &["show", "--name-only", "--format=", rev])
    }

    /// `gt config agent set <name> <command>`: a custom agent of a test.
    pub fn set_agent(&self, name: &str, command: &str) {
        self.ok(&["config", "agent", "set", name, command]);
    }
}

impl TestTown {
    /// With a 1 s restart backoff, slings a crashing stand-in to `rig`, waits
    /// for the crash and runs one patrol, which must save the uncommitted
    /// work in a marked WIP commit on the branch. Returns the sling's JSON
    /// and the patrol's action kinds.
    pub fn crash_and_save(&self, rig: &str) -> (Value, Vec<String>) {
        self.ok(&["config", "set", "deacon.restart_backoff", "1s"]);
        let s = self.sling(rig, "crash me", "standin-crash");
        let bead = s["bead"].as_str().unwrap().to_string();
        let branch = s["branch"].as_str().unwrap().to_string();
        self.wait_for(20, "the crash", |t| t.session_is(&bead, "exited"));
        let kinds = self.patrol();
        assert!(
            kinds.contains(&"deacon.saved_work".to_string()),
            "{kinds:?}"
        );
        let log = self.subjects_past_main(rig, &branch);
        assert!(log.starts_with("WIP: saved by the deacon"), "{log}");
        let files = self.files_of(rig, &branch);
        assert!(files.contains(&format!("standin/{bead}.md")), "{files}");
        (s, kinds)
    }
}

/// The check `name` of a `gt --json doctor` report.
pub fn doctor_check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {report}"))
}

/// `s` as a regular expression matching itself (for insta filters).
pub fn regex_escape(s: &str) -> String {
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

impl TestTown {
    /// `gt ARGS` kept running (a dashboard, a feed): the cleared environment
    /// of [`clean_cmd`], stdout piped, stderr dropped. The caller kills it.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        std::process::Command::new(gt_bin())
            .env_clear()
            .env("HOME", &self.home)
            .env("PATH", system_path())
            .env("GT_ACTOR", "tester")
            .env("NO_COLOR", "1")
            .env("LANG", "C.UTF-8")
            .current_dir(&self.root)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("gt starts")
    }

    /// The stand-in agent `standin-bad`: finishes with a file FAIL.txt
    /// committed (a gate `test ! -e FAIL.txt` fails it).
    pub fn with_failing_standin(&self) {
        let gt = gt_bin();
        self.set_agent(
            "standin-bad",
            &format!(
                "{} agent-standin --behavior finish --file FAIL.txt",
                gt.display()
            ),
        );
    }
}
