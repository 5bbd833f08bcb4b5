//! Unit tests of the stand-in: each behaviour run against a fake `gt`
//! script in a temporary git repository.

use super::*;
use crate::agent::*;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use tempfile::TempDir;

const HOOK_JSON: &str = r#"{"bead":{"id":"hq-abc","title":"Test task","description":""},"branch":"polecat/nux/hq-abc","rig":"r","polecat":"nux"}"#;

struct Fixture {
    _tmp: TempDir,
    repo: PathBuf,
    gt: PathBuf,
    log: PathBuf,
    env: HashMap<String, String>,
}

impl Fixture {
    fn new() -> Fixture {
        let tmp = tempfile::tempdir().expect("tempdir");
        let home = tmp.path().join("home");
        let repo = tmp.path().join("repo");
        std::fs::create_dir_all(&home).expect("home");
        std::fs::create_dir_all(&repo).expect("repo");
        let mut env = HashMap::new();
        env.insert("HOME".to_string(), home.display().to_string());
        env.insert(
            "XDG_CONFIG_HOME".to_string(),
            home.join(".config").display().to_string(),
        );
        env.insert("GIT_CONFIG_NOSYSTEM".to_string(), "1".to_string());
        // Hide any gt session of the developer running the tests.
        for k in ["GT_BEAD", "GT_AGENT", "GT_BRANCH", "GT_TOWN"] {
            env.insert(k.to_string(), String::new());
        }

        let log = tmp.path().join("gt-calls.log");
        let gt = tmp.path().join("fake-gt");
        let script = format!(
            "#!/bin/sh\n\
             printf '%s\\n' \"$*\" >> \"$(dirname \"$0\")/gt-calls.log\"\n\
             case \"$1\" in\n\
             hook)\n\
               if [ -n \"$FAKE_GT_HOOK_FAIL\" ]; then echo 'not a polecat' >&2; exit 1; fi\n\
               printf '%s\\n' '{HOOK_JSON}' ;;\n\
             done)\n\
               if [ -n \"$FAKE_GT_DONE_FAIL\" ]; then echo 'done refused: boom' >&2; exit 2; fi\n\
               echo 'Done: queued for merge' ;;\n\
             esac\n\
             exit 0\n"
        );
        std::fs::write(&gt, script).expect("write fake gt");
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&gt, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }

        let f = Fixture {
            _tmp: tmp,
            repo,
            gt,
            log,
            env,
        };
        f.git(&["-c", "init.defaultBranch=main", "init", "-q"]);
        std::fs::write(f.repo.join("README.md"), "hello\n").expect("readme");
        f.git(&["add", "-A"]);
        f.git(&[
            "-c",
            "user.name=Setup",
            "-c",
            "user.email=setup@example.invalid",
            "commit",
            "-q",
            "-m",
            "initial",
        ]);
        f
    }

    fn opts(&self, behavior: Behavior) -> StandinOptions {
        StandinOptions {
            behavior,
            delay: Duration::from_millis(10),
            start_delay: None,
            file: None,
            text: None,
            gt: self.gt.clone(),
            env: self.env.clone(),
            dir: Some(self.repo.clone()),
            hang_for: None,
        }
    }

    fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .args(args)
            .current_dir(&self.repo)
            .envs(&self.env)
            .stdin(Stdio::null())
            .output()
            .expect("run git");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    fn commits(&self) -> usize {
        self.git(&["rev-list", "--count", "HEAD"])
            .trim()
            .parse()
            .expect("count")
    }

    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn called_done(&self) -> bool {
        self.calls().iter().any(|c| c == "done")
    }

    fn dirty(&self) -> String {
        self.git(&["status", "--porcelain"])
    }
}

fn run_capture(opts: &StandinOptions, input: &str) -> (i32, String) {
    let mut out = Vec::new();
    let mut inp = input.as_bytes();
    let code = run_with_input(opts, &mut inp, &mut out);
    (code, String::from_utf8_lossy(&out).to_string())
}

#[test]
fn standin_behavior_names_round_trip() {
    for b in Behavior::ALL {
        assert_eq!(b.as_str().parse::<Behavior>().unwrap(), b);
        assert_eq!(b.to_string(), b.as_str());
    }
    assert_eq!(
        " Exit_Without_Done ".parse::<Behavior>().unwrap(),
        Behavior::ExitWithoutDone
    );
    let err = "dance".parse::<Behavior>().unwrap_err();
    assert!(err.to_string().contains("dance"), "{err}");
    assert_eq!(Behavior::default(), Behavior::Finish);
}

#[test]
fn standin_file_component_is_safe() {
    assert_eq!(file_component("hq-abc"), "hq-abc");
    assert_eq!(file_component("../../etc"), "_.._.._etc");
    assert_eq!(file_component("a/b c"), "a_b_c");
    assert_eq!(file_component(""), "bead");
}

#[test]
fn standin_finish_commits_and_calls_done() {
    let f = Fixture::new();
    let (code, out) = run_capture(&f.opts(Behavior::Finish), "");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("NOT an AI"), "{out}");
    assert!(out.contains("working on hq-abc"), "{out}");
    assert_eq!(f.commits(), 2);
    assert_eq!(
        f.git(&["log", "-1", "--format=%s"]).trim(),
        "hq-abc: Test task"
    );
    let files = f.git(&["show", "--name-only", "--format=", "HEAD"]);
    assert_eq!(files.trim(), "standin/hq-abc.md");
    let content = std::fs::read_to_string(f.repo.join("standin/hq-abc.md")).unwrap();
    assert!(content.contains("Test task"), "{content}");
    // No identity configured (empty HOME): the fallback one is used.
    assert_eq!(
        f.git(&["log", "-1", "--format=%an <%ae>"]).trim(),
        "gt-standin <standin@gastown.invalid>"
    );
    assert_eq!(
        f.calls(),
        vec!["hook --json".to_string(), "done".to_string()]
    );
    assert!(f.dirty().is_empty());
    assert!(out.contains("Done: queued for merge"), "{out}");
}

#[test]
fn standin_keeps_a_configured_identity() {
    let f = Fixture::new();
    f.git(&["config", "user.name", "Alice"]);
    f.git(&["config", "user.email", "alice@example.invalid"]);
    let (code, out) = run_capture(&f.opts(Behavior::Finish), "");
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        f.git(&["log", "-1", "--format=%an <%ae>"]).trim(),
        "Alice <alice@example.invalid>"
    );
}

#[test]
fn standin_exit_without_done_commits_only() {
    let f = Fixture::new();
    let mut opts = f.opts(Behavior::ExitWithoutDone);
    opts.file = Some("notes/x.txt".into());
    opts.text = Some("hello from the stand-in".into());
    let (code, out) = run_capture(&opts, "");
    assert_eq!(code, 0, "{out}");
    assert_eq!(f.commits(), 2);
    assert_eq!(
        std::fs::read_to_string(f.repo.join("notes/x.txt")).unwrap(),
        "hello from the stand-in\n"
    );
    assert!(!f.called_done(), "{:?}", f.calls());
    assert!(f.dirty().is_empty());
}

#[test]
fn standin_crash_leaves_dirty_worktree() {
    let f = Fixture::new();
    let (code, out) = run_capture(&f.opts(Behavior::Crash), "");
    assert_eq!(code, CRASH_EXIT_CODE, "{out}");
    assert_eq!(f.commits(), 1);
    assert!(f.dirty().contains("standin/"), "{}", f.dirty());
    assert!(!f.called_done());
}

#[test]
fn standin_hang_does_not_return() {
    let f = Fixture::new();
    let mut opts = f.opts(Behavior::Hang);
    opts.hang_for = Some(Duration::from_millis(1500));
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        let mut out = Vec::new();
        let mut inp: &[u8] = b"";
        let code = run_with_input(&opts, &mut inp, &mut out);
        let _ = tx.send((code, String::from_utf8_lossy(&out).to_string()));
    });
    assert!(matches!(
        rx.recv_timeout(Duration::from_millis(300)),
        Err(mpsc::RecvTimeoutError::Timeout)
    ));
    let (code, out) = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("hang ends at its test limit");
    handle.join().expect("thread");
    assert_eq!(code, 0);
    assert!(out.contains(READY_MARKER), "{out}");
    assert_eq!(f.commits(), 1);
    assert!(f.dirty().is_empty());
    assert!(!f.called_done());
}

#[test]
fn standin_prompt_yes_finishes() {
    let f = Fixture::new();
    let (code, out) = run_capture(&f.opts(Behavior::Prompt), "y\n");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(PROMPT_QUESTION), "{out}");
    assert_eq!(f.commits(), 2);
    assert!(f.called_done());
}

#[test]
fn standin_prompt_no_or_eof_stops() {
    for answer in ["n\n", ""] {
        let f = Fixture::new();
        let (code, out) = run_capture(&f.opts(Behavior::Prompt), answer);
        assert_eq!(code, 0, "{out}");
        assert_eq!(f.commits(), 1);
        assert!(f.dirty().is_empty());
        assert!(!f.called_done());
    }
}

#[test]
fn standin_slow_finishes() {
    let f = Fixture::new();
    let (code, out) = run_capture(&f.opts(Behavior::Slow), "");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("thinking for 10 ms"), "{out}");
    assert_eq!(f.commits(), 2);
    assert!(f.called_done());
}

#[test]
fn standin_conflict_rewrites_line_one_of_shared_file() {
    let f = Fixture::new();
    std::fs::create_dir_all(f.repo.join("standin")).unwrap();
    std::fs::write(f.repo.join(SHARED_FILE), "old\nkeep\n").unwrap();
    f.git(&["add", "-A"]);
    f.git(&[
        "-c",
        "user.name=S",
        "-c",
        "user.email=s@x.invalid",
        "commit",
        "-qm",
        "shared",
    ]);
    let (code, out) = run_capture(&f.opts(Behavior::Conflict), "");
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        std::fs::read_to_string(f.repo.join(SHARED_FILE)).unwrap(),
        "hq-abc\nkeep\n"
    );
    assert_eq!(f.commits(), 3);
    assert!(f.called_done());
}

#[test]
fn standin_done_failure_exits_1_with_stderr() {
    let f = Fixture::new();
    let mut opts = f.opts(Behavior::Finish);
    opts.env.insert("FAKE_GT_DONE_FAIL".into(), "1".into());
    let (code, out) = run_capture(&opts, "");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("done refused: boom"), "{out}");
    assert_eq!(f.commits(), 2);
}

#[test]
fn standin_falls_back_to_env_when_hook_fails() {
    let f = Fixture::new();
    let mut opts = f.opts(Behavior::Finish);
    opts.env.insert("FAKE_GT_HOOK_FAIL".into(), "1".into());
    opts.env.insert("GT_BEAD".into(), "hq-env".into());
    let (code, out) = run_capture(&opts, "");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("gt hook unavailable"), "{out}");
    assert_eq!(
        f.git(&["log", "-1", "--format=%s"]).trim(),
        "hq-env: work on hq-env"
    );
    assert!(f.repo.join("standin/hq-env.md").exists());
}

#[test]
fn standin_without_any_work_exits_1() {
    let f = Fixture::new();
    let mut opts = f.opts(Behavior::Finish);
    opts.env.insert("FAKE_GT_HOOK_FAIL".into(), "1".into());
    let (code, out) = run_capture(&opts, "");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no work"), "{out}");
    assert_eq!(f.commits(), 1);
    assert!(!f.called_done());
}

#[test]
fn standin_missing_gt_binary_is_an_error_not_a_panic() {
    let f = Fixture::new();
    let mut opts = f.opts(Behavior::Finish);
    opts.gt = f.repo.join("no-such-gt");
    opts.env.insert("GT_BEAD".into(), "hq-x".into());
    let (code, out) = run_capture(&opts, "");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("cannot run"), "{out}");
}
