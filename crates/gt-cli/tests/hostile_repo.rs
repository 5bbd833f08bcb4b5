//! Issue 10 §2 and §8: a hostile repository or agent cannot run code in
//! gt's own git processes, cannot make gt write through a link, cannot
//! keep a tampered rig config; `gt rig add` refuses dangerous transports and
//! cleans up after itself; a rig follows its upstream.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{git, lines_json, TestTown};
use serde_json::Value;

/// Git for test setup with every hook and fsmonitor off, so the planted
/// hooks never run in the test's own git calls (only gt could run them).
fn raw_git(dir: &Path, args: &[&str]) -> String {
    let mut all = vec![
        "-c",
        "core.hooksPath=/dev/null",
        "-c",
        "core.fsmonitor=false",
    ];
    all.extend_from_slice(args);
    git(dir, &all)
}

fn write_exe(path: &Path, script: &str) {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(path, script).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Every hook git knows of, each appending its name to `marker`.
const HOOKS: &[&str] = &[
    "applypatch-msg",
    "pre-applypatch",
    "post-applypatch",
    "pre-commit",
    "pre-merge-commit",
    "prepare-commit-msg",
    "commit-msg",
    "post-commit",
    "pre-rebase",
    "post-checkout",
    "post-merge",
    "pre-push",
    "pre-receive",
    "update",
    "proc-receive",
    "post-receive",
    "post-update",
    "reference-transaction",
    "push-to-checkout",
    "pre-auto-gc",
    "post-rewrite",
    "sendemail-validate",
    "fsmonitor-watchman",
    "post-index-change",
];

fn plant_hooks(dir: &Path, marker: &Path, exit: i32) {
    for h in HOOKS {
        write_exe(
            &dir.join(h),
            &format!(
                "#!/bin/sh\necho \"{h} $PWD\" >> '{}'\nexit {exit}\n",
                marker.display()
            ),
        );
    }
}

fn sling(t: &TestTown, rig: &str, what: &str, agent: &str) -> Value {
    lines_json(&t.ok(&["--json", "sling", what, rig, "--agent", agent])).remove(0)
}

fn marker_text(marker: &Path) -> String {
    std::fs::read_to_string(marker).unwrap_or_default()
}

/// Item 1: an agent commits hooks and points the shared repository config
/// at them (hooksPath, fsmonitor, an ssh command, a pager, an editor, a
/// credential helper, ...) and fills the repository's own hooks folder:
/// nothing of it runs in `gt done`, the refinery (rebase, reset --hard,
/// update-ref, checkout) or a later sling of another agent.
#[test]
fn hostile_hooks_and_config_never_run_in_gt() {
    let t = TestTown::new();
    t.with_rig("h");
    let marker = t.dir.path().join("ran");
    let s = sling(&t, "h", "evil", "standin-hang");
    let bead = s["bead"].as_str().unwrap().to_string();
    let wt = PathBuf::from(s["worktree"].as_str().unwrap());
    t.wait_for(20, "the agent to run", |t| t.session_is(&bead, "running"));

    // The agent: hooks committed in its worktree ...
    plant_hooks(&wt.join(".evil-hooks"), &marker, 1);
    let evil = wt.join("evil.sh");
    write_exe(
        &evil,
        &format!(
            "#!/bin/sh\necho \"config $0 $*\" >> '{}'\nexit 1\n",
            marker.display()
        ),
    );
    std::fs::write(wt.join("work.txt"), "work\n").unwrap();
    raw_git(&wt, &["add", "-A"]);
    raw_git(&wt, &["commit", "-q", "-m", "work with hooks"]);
    // ... in the repository's own hooks folder ...
    plant_hooks(&t.repo("h").join("hooks"), &marker, 1);
    // ... and the shared config pointing at them.
    let cfg = t.repo("h").join("config");
    let hooks = wt.join(".evil-hooks");
    let evil = evil.to_str().unwrap();
    for (k, v) in [
        ("core.hooksPath", hooks.to_str().unwrap()),
        ("core.fsmonitor", evil),
        ("core.sshCommand", evil),
        ("core.pager", evil),
        ("core.editor", evil),
        ("sequence.editor", evil),
        ("core.askPass", evil),
        ("credential.helper", &format!("!{evil}")),
        ("gpg.program", evil),
        ("commit.gpgSign", "true"),
        ("protocol.ext.allow", "always"),
    ] {
        raw_git(
            t.dir.path(),
            &["config", "--file", cfg.to_str().unwrap(), k, v],
        );
    }

    // gt done from the agent's worktree, then the refinery lands it.
    let out = t.cmd().current_dir(&wt).args(["done"]).output().unwrap();
    assert!(out.status.success(), "gt done: {out:?}");
    let r = t.json(&["refinery", "run", "--once", "--rig", "h"]);
    assert_eq!(r["rigs"][0]["merged"].as_array().unwrap().len(), 1, "{r}");
    assert!(
        git(&t.repo("h"), &["ls-tree", "-r", "--name-only", "main"]).contains("work.txt"),
        "the work landed"
    );
    // A later sling of another agent (worktree add, checkout of its new
    // branch); the agent does no git of its own, so whatever runs is gt's.
    let s2 = sling(&t, "h", "innocent", "standin-hang");
    let bead2 = s2["bead"].as_str().unwrap().to_string();
    t.wait_for(20, "the second agent", |t| t.session_is(&bead2, "running"));
    std::fs::write(
        PathBuf::from(s2["worktree"].as_str().unwrap()).join("left.txt"),
        "x",
    )
    .unwrap();
    t.ok(&["down", "--all"]);
    // A patrol saves and checks worktrees too.
    t.ok(&["deacon", "patrol", "--once"]);

    assert_eq!(marker_text(&marker), "", "hostile code ran inside gt");
}

/// Item 3: a repository whose committed hooks reject every commit (husky
/// style: `core.hooksPath=.husky`, plus the repository's hooks folder)
/// still gets a dead agent's work saved by the deacon.
#[test]
fn rejecting_hooks_do_not_stop_the_deacon_saving_work() {
    let t = TestTown::new();
    let src = t.with_rig("r");
    // The project commits husky hooks that reject everything.
    let marker = t.dir.path().join("ran");
    plant_hooks(&src.join(".husky"), &marker, 1);
    raw_git(&src, &["add", "-A"]);
    raw_git(&src, &["commit", "-q", "-m", "husky"]);
    t.ok(&["rig", "remove", "r"]);
    t.ok(&["rig", "add", "r", src.to_str().unwrap()]);
    // `npm install` ran by an agent: husky points the shared config at them.
    raw_git(&t.repo("r"), &["config", "core.hooksPath", ".husky"]);
    plant_hooks(&t.repo("r").join("hooks"), &marker, 1);

    t.ok(&["config", "set", "deacon.restart_backoff", "1s"]);
    let s = sling(&t, "r", "crash me", "standin-crash");
    let bead = s["bead"].as_str().unwrap().to_string();
    let branch = s["branch"].as_str().unwrap().to_string();
    t.wait_for(20, "the crash", |t| t.session_is(&bead, "exited"));
    let kinds: Vec<String> = t.json(&["deacon", "patrol", "--once"])["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap().to_string())
        .collect();
    assert!(
        kinds.contains(&"deacon.saved_work".to_string()),
        "{kinds:?}"
    );
    let log = git(
        &t.repo("r"),
        &["log", "--format=%s", &format!("main..{branch}")],
    );
    assert!(log.starts_with("WIP: saved by the deacon"), "{log}");
    let files = git(&t.repo("r"), &["show", "--name-only", "--format=", &branch]);
    assert!(files.contains(&format!("standin/{bead}.md")), "{files}");
    assert_eq!(marker_text(&marker), "", "a hook ran inside gt");
}

/// Item 5: gt never writes through a link. An agent (or anyone) planting the
/// temporary file name gt used (`.<name>.tmp.<pid>`) as a link to a file
/// outside the town does not get that file overwritten; a target that is a
/// link is refused.
#[test]
fn gt_never_writes_through_a_planted_link() {
    let t = TestTown::new();
    let victim = t.dir.path().join("victim.txt");
    std::fs::write(&victim, "precious\n").unwrap();
    // `sh` plants the link for its own pid, then becomes gt (same pid): the
    // old temporary name is exactly the planted one.
    let script = format!(
        "ln -s '{}' \"{}/.gt.toml.tmp.$$\" && exec '{}' config set deacon.interval 45s",
        victim.display(),
        t.root.display(),
        common::gt_bin().display()
    );
    let out = std::process::Command::new("sh")
        .args(["-c", &script])
        .env_clear()
        .env("HOME", &t.home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GT_ACTOR", "tester")
        .env("NO_COLOR", "1")
        .current_dir(&t.root)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    assert_eq!(t.ok(&["config", "get", "deacon.interval"]).trim(), "45s");

    // gt.toml itself replaced by a link: refused with one line, the file the
    // link names untouched.
    let real = t.dir.path().join("elsewhere.toml");
    std::fs::copy(t.root.join("gt.toml"), &real).unwrap();
    std::fs::remove_file(t.root.join("gt.toml")).unwrap();
    std::os::unix::fs::symlink(&real, t.root.join("gt.toml")).unwrap();
    let before = std::fs::read_to_string(&real).unwrap();
    let err = t.fails(&["config", "set", "deacon.interval", "50s"], 1);
    assert!(
        err.starts_with("error: ") && err.contains("symbolic link"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&real).unwrap(), before);
    assert!(t
        .root
        .join("gt.toml")
        .symlink_metadata()
        .unwrap()
        .file_type()
        .is_symlink());
}

#[allow(dead_code)]
fn wait_until(secs: u64, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}
