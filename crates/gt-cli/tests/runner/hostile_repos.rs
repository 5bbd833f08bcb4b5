//! Issue 10 §2 and §8: a hostile repository or agent cannot run code in
//! gt's own git processes, cannot make gt write through a link, cannot
//! keep a tampered rig config; `gt rig add` refuses dangerous transports and
//! cleans up after itself; a rig follows its upstream.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::{bare_clone, doctor_check, git, TestTown};

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

/// `cmd` with a cleared environment and the test PATH, run from the
/// town root as `tester`.
fn in_town(mut cmd: std::process::Command, t: &TestTown) -> std::process::Command {
    cmd.env_clear()
        .env("HOME", &t.home)
        .env("PATH", crate::common::system_path())
        .env("GT_ACTOR", "tester")
        .env("NO_COLOR", "1")
        .current_dir(&t.root);
    cmd
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
    let s = t.sling("h", "evil", "standin-hang");
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
    let s2 = t.sling("h", "innocent", "standin-hang");
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

    t.crash_and_save("r");
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
        crate::common::gt_bin().display()
    );
    let out = in_town(std::process::Command::new("sh"), &t)
        .args(["-c", &script])
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

fn count(kinds: &[String], kind: &str) -> usize {
    kinds.iter().filter(|k| *k == kind).count()
}

/// Item 2: the rig repository's config is gt's own. A change is reverted by
/// the next patrol (an event and a `config_tampered` problem), and also
/// right before a sling cuts a branch and before the refinery works.
#[test]
fn tampered_rig_config_is_reverted_recorded_and_shown() {
    let t = TestTown::new();
    t.with_rig("g");
    let cfg = t.repo("g").join("config");
    let original = std::fs::read(&cfg).unwrap();
    let file = cfg.to_str().unwrap().to_string();
    let tamper = |key: &str, value: &str| {
        raw_git(t.dir.path(), &["config", "--file", &file, key, value]);
    };
    // Nothing changed: a patrol reverts nothing, and gt status is healthy.
    assert_eq!(count(&t.patrol(), "rig.config_tampered"), 0);
    assert!(t.json(&["status"])["problems"]
        .as_array()
        .unwrap()
        .is_empty());

    // 1. The deacon patrol.
    tamper("core.hooksPath", "/tmp/evil");
    tamper("filter.evil.smudge", "touch /tmp/pwned");
    let wt_cfg = t.repo("g").join("worktrees");
    std::fs::create_dir_all(wt_cfg.join("x")).unwrap();
    std::fs::write(
        wt_cfg.join("x/config.worktree"),
        "[core]\n\tfsmonitor = /tmp/evil\n",
    )
    .unwrap();
    let status = t.json(&["status"]);
    let probs = status["problems"].as_array().unwrap();
    assert!(
        probs
            .iter()
            .any(|p| p["kind"] == "config_tampered" && p["rig"] == "g"),
        "a difference not yet reverted is a problem: {status}"
    );
    assert_eq!(count(&t.patrol(), "rig.config_tampered"), 1);
    assert_eq!(std::fs::read(&cfg).unwrap(), original, "config put back");
    assert!(!wt_cfg.join("x/config.worktree").exists());
    let trail = t.json(&["trail", "--kind", "rig.config_tampered"]);
    let e = &trail.as_array().unwrap()[0];
    assert_eq!(e["rig"], "g");
    let changed: Vec<&str> = e["payload"]["changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert_eq!(changed, ["core.hookspath", "filter.evil.smudge"], "{e}");
    // The revert stays a problem in gt status (and its JSON).
    let status = t.json(&["status"]);
    let p = status["problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["kind"] == "config_tampered")
        .unwrap_or_else(|| panic!("no config_tampered problem: {status}"))
        .clone();
    assert_eq!(p["rig"], "g");
    assert!(
        p["detail"].as_str().unwrap().contains("core.hookspath"),
        "{p}"
    );
    assert_eq!(status["healthy"], false);
    // A second patrol finds nothing more to revert.
    assert_eq!(count(&t.patrol(), "rig.config_tampered"), 0);

    // 2. Right before a sling cuts a branch.
    tamper("core.fsmonitor", "/tmp/evil");
    t.sling("g", "after tamper", "standin-hang");
    assert_eq!(std::fs::read(&cfg).unwrap(), original);
    assert_eq!(t.kinds(&["--kind", "rig.config_tampered"]).len(), 2);

    // 3. Right before the refinery works on the rig.
    tamper("include.path", "/tmp/evil.cfg");
    t.ok(&["refinery", "run", "--once", "--rig", "g"]);
    assert_eq!(std::fs::read(&cfg).unwrap(), original);
    assert_eq!(t.kinds(&["--kind", "rig.config_tampered"]).len(), 3);

    // 4. gt doctor names the drift (exit 1) and --fix puts the config back.
    tamper("core.sshCommand", "touch /tmp/pwned-ssh");
    let out = t.run(&["--json", "doctor"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let check = doctor_check(&report, "rig-config");
    assert_eq!(check["status"], "fail", "{check}");
    assert!(
        check["detail"]
            .as_str()
            .unwrap()
            .contains("core.sshcommand"),
        "{check}"
    );
    assert_ne!(
        std::fs::read(&cfg).unwrap(),
        original,
        "doctor alone changes nothing"
    );
    let out = t.run(&["--json", "doctor", "--fix"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let check = doctor_check(&report, "rig-config");
    assert_eq!(check["fixed"], true, "{check}");
    assert_eq!(std::fs::read(&cfg).unwrap(), original);
    assert_eq!(t.kinds(&["--kind", "rig.config_tampered"]).len(), 4);

    // A config replaced by a link is put back as a file.
    let elsewhere = t.dir.path().join("elsewhere.cfg");
    std::fs::write(&elsewhere, "[core]\n\tbare = true\n").unwrap();
    std::fs::remove_file(&cfg).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &cfg).unwrap();
    assert_eq!(count(&t.patrol(), "rig.config_tampered"), 1);
    assert!(cfg.symlink_metadata().unwrap().file_type().is_file());
    assert_eq!(std::fs::read(&cfg).unwrap(), original);
    assert_eq!(
        std::fs::read_to_string(&elsewhere).unwrap(),
        "[core]\n\tbare = true\n"
    );
}

/// A git:// server that accepts connections and never answers: a clone
/// from it hangs until gt gives up. Sends on `accepted` for each connection.
fn silent_server() -> (String, std::sync::mpsc::Receiver<()>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in l.incoming().flatten() {
            held.push(c);
            let _ = tx.send(());
        }
    });
    (format!("git://127.0.0.1:{port}/never.git"), rx)
}

fn rig_dirs(t: &TestTown) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(&t.root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != ".gt" && n != "gt.toml")
        .collect();
    v.sort();
    v
}

/// Item 4: `gt rig add` refuses `ext::`/`fd::` (and any `<transport>::`)
/// at once, with one line and nothing left; gt's own git never uses them
/// even when the repository config allows them; a clone that hangs ends at
/// `rig.clone_timeout`; nothing is left, and the name stays usable.
#[test]
fn rig_add_refuses_dangerous_transports_and_times_out() {
    let t = TestTown::new();
    let marker = t.dir.path().join("pwned");
    let before = rig_dirs(&t);
    for url in [
        format!("ext::sh -c touch% {}", marker.display()),
        "fd::0".to_string(),
        "fd::3,4".to_string(),
        "evil::whatever".to_string(),
    ] {
        let start = Instant::now();
        let err = t.refuses(&["rig", "add", "x", &url]);
        assert!(start.elapsed() < Duration::from_secs(10), "{url}: slow");
        assert!(err.contains("transport"), "{url}: {err}");
        assert_eq!(rig_dirs(&t), before, "{url} left something");
    }
    assert!(!marker.exists());
    assert!(t.json(&["rig", "list"]).as_array().unwrap().is_empty());

    // The policy is in the rig's config for the agents' git, and gt's own
    // fetch refuses `ext::` even when an agent allows it there.
    let src = crate::common::source_repo(t.dir.path(), "src-p");
    t.ok(&["rig", "add", "p", src.to_str().unwrap()]);
    let cfg = t.repo("p").join("config");
    let file = cfg.to_str().unwrap();
    assert_eq!(
        raw_git(
            t.dir.path(),
            &["config", "--file", file, "protocol.ext.allow"]
        )
        .trim(),
        "never"
    );
    raw_git(
        t.dir.path(),
        &["config", "--file", file, "protocol.ext.allow", "always"],
    );
    raw_git(
        t.dir.path(),
        &["config", "--file", file, "protocol.allow", "always"],
    );
    let evil = format!("ext::sh -c touch% {}", marker.display());
    raw_git(
        t.dir.path(),
        &["config", "--file", file, "remote.origin.url", &evil],
    );
    let out = t.run(&["rig", "fetch", "p"]);
    assert!(!out.status.success(), "{out:?}");
    assert!(!marker.exists(), "ext:: ran inside gt");
    assert!(t.kinds(&["--kind", "rig.fetch_failed"]).len() == 1);

    // A clone that never gets an answer ends at rig.clone_timeout.
    t.refuses(&["config", "set", "rig.clone_timeout", "0s"]);
    t.refuses(&["config", "set", "rig.fetch_interval", "soon"]);
    t.ok(&["config", "set", "rig.clone_timeout", "2s"]);
    assert_eq!(t.ok(&["config", "get", "rig.clone_timeout"]).trim(), "2s");
    let (url, accepted) = silent_server();
    let before = rig_dirs(&t);
    let start = Instant::now();
    let err = t.refuses(&["rig", "add", "slow", &url]);
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "{:?}",
        start.elapsed()
    );
    assert!(accepted.try_recv().is_ok(), "git never connected");
    assert!(err.contains("rig.clone_timeout"), "{err}");
    assert_eq!(rig_dirs(&t), before);
    // The name is free.
    t.ok(&["rig", "add", "slow", src.to_str().unwrap()]);
}

/// Item 4: SIGTERM (and SIGINT) during a slow clone leave nothing behind,
/// and the name can be used right away.
/// `gt rig add <name> <url>` started in the background (stdout discarded).
fn spawn_rig_add(
    t: &TestTown,
    name: &str,
    url: &str,
    stderr: std::process::Stdio,
) -> std::process::Child {
    in_town(std::process::Command::new(crate::common::gt_bin()), t)
        .args(["rig", "add", name, url])
        .stdout(std::process::Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap()
}

#[test]
fn rig_add_interrupted_leaves_nothing() {
    let t = TestTown::new();
    let src = crate::common::source_repo(t.dir.path(), "src-i");
    let (url, accepted) = silent_server();
    for (sig, name) in [("-TERM", "term"), ("-INT", "int")] {
        let before = rig_dirs(&t);
        let child = spawn_rig_add(&t, name, &url, std::process::Stdio::piped());
        accepted
            .recv_timeout(Duration::from_secs(20))
            .expect("git connected to the server");
        assert!(t.root.join(name).exists(), "the add is under way");
        let start = Instant::now();
        let st = std::process::Command::new("kill")
            .args([sig, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
        let out = child.wait_with_output().unwrap();
        assert!(start.elapsed() < Duration::from_secs(10));
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with("error: ") && err.contains("interrupted"),
            "{err}"
        );
        assert_eq!(rig_dirs(&t), before, "{sig} left something");
        t.ok(&["rig", "add", name, src.to_str().unwrap()]);
    }
    // SIGKILL: gt cannot clean up, but the next add of the name ends the
    // clone it left running, removes its folder, and succeeds.
    let child = spawn_rig_add(&t, "killed", &url, std::process::Stdio::null());
    accepted
        .recv_timeout(Duration::from_secs(20))
        .expect("git connected to the server");
    std::process::Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status()
        .unwrap();
    let _ = child.wait_with_output();
    assert!(
        t.root.join("killed").exists(),
        "a SIGKILL leaves the folder"
    );
    t.ok(&["rig", "add", "killed", src.to_str().unwrap()]);
    // A folder that holds anything else is never taken for a leftover.
    std::fs::create_dir_all(t.root.join("mine")).unwrap();
    std::fs::write(t.root.join("mine/.gt-adding"), "").unwrap();
    std::fs::write(t.root.join("mine/notes.txt"), "keep\n").unwrap();
    t.refuses(&["rig", "add", "mine", src.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(t.root.join("mine/notes.txt")).unwrap(),
        "keep\n"
    );
    // No git of the interrupted clones is left running.
    wait_until(10, "the clones to end", || {
        let ps = std::process::Command::new("ps")
            .args(["-eo", "args"])
            .output()
            .unwrap();
        !String::from_utf8_lossy(&ps.stdout).contains(&url)
    });
}

/// An upstream: a bare repository `up.git` and a normal clone `work` that
/// pushes to it; returns (bare, work).
fn upstream(t: &TestTown) -> (PathBuf, PathBuf) {
    let seed = crate::common::source_repo(t.dir.path(), "seed");
    let bare = bare_clone(&seed, &t.dir.path().join("up.git"));
    let work = t.dir.path().join("work");
    git(
        t.dir.path(),
        &[
            "clone",
            "-q",
            bare.to_str().unwrap(),
            work.to_str().unwrap(),
        ],
    );
    (bare, work)
}

fn upstream_commit(work: &Path, file: &str) -> String {
    std::fs::write(work.join(file), format!("{file}\n")).unwrap();
    git(work, &["add", "-A"]);
    git(work, &["commit", "-q", "-m", &format!("upstream {file}")]);
    git(work, &["push", "-q", "origin", "HEAD:main"]);
    git(work, &["rev-parse", "HEAD"]).trim().to_string()
}

/// Item 6: a sling branches from the upstream's new tip (fetched first,
/// rate-limited by rig.fetch_interval); `gt rig fetch` reports; an
/// unreachable upstream still slings (a warning event).
#[test]
fn sling_follows_the_upstream() {
    let t = TestTown::new();
    t.with_rig("other"); // the stand-in agents
    let (bare, work) = upstream(&t);
    t.ok(&["rig", "add", "u", bare.to_str().unwrap()]);
    let c1 = upstream_commit(&work, "one.txt");
    let s = t.sling("u", "first", "standin-hang");
    let branch = s["branch"].as_str().unwrap();
    git(&t.repo("u"), &["merge-base", "--is-ancestor", &c1, branch]);
    assert_eq!(git(&t.repo("u"), &["rev-parse", "main"]).trim(), c1);
    assert_eq!(t.kinds(&["--kind", "rig.fetched", "--rig", "u"]).len(), 1);
    // Within rig.fetch_interval: no second fetch.
    let c2 = upstream_commit(&work, "two.txt");
    let s = t.sling("u", "second", "standin-hang");
    assert_eq!(t.kinds(&["--kind", "rig.fetched", "--rig", "u"]).len(), 1);
    let b2 = s["branch"].as_str().unwrap().to_string();
    assert_eq!(
        git(&t.repo("u"), &["rev-parse", &b2]).trim(),
        c1,
        "rate-limited: cut from the last fetched tip"
    );
    // gt rig fetch, any time.
    let r = t.json(&["rig", "fetch", "u"]);
    assert_eq!(r[0]["outcome"], "fast_forwarded", "{r}");
    assert_eq!(r[0]["after"], c2.as_str());
    let r = t.json(&["rig", "fetch", "u"]);
    assert_eq!(r[0]["outcome"], "up_to_date", "{r}");
    let out = t.ok(&["rig", "fetch"]);
    assert!(out.contains("up to date"), "{out}");
    // Past the interval, a sling fetches again.
    t.ok(&["config", "set", "rig.fetch_interval", "1s"]);
    let c3 = upstream_commit(&work, "three.txt");
    std::thread::sleep(Duration::from_millis(1100));
    let s = t.sling("u", "third", "standin-hang");
    let b3 = s["branch"].as_str().unwrap().to_string();
    assert_eq!(git(&t.repo("u"), &["rev-parse", &b3]).trim(), c3);

    // The upstream goes away: slings go on from the local main.
    std::fs::rename(&bare, t.dir.path().join("gone.git")).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    let s = t.sling("u", "fourth", "standin-hang");
    let b4 = s["branch"].as_str().unwrap().to_string();
    assert_eq!(git(&t.repo("u"), &["rev-parse", &b4]).trim(), c3);
    assert_eq!(
        t.kinds(&["--kind", "rig.fetch_failed", "--rig", "u"]).len(),
        1
    );
    let err = t.fails(&["rig", "fetch", "u"], 3);
    assert!(
        err.starts_with("error: ") && err.contains("cannot fetch"),
        "{err}"
    );
    t.refuses(&["rig", "fetch", "nope"]);
}

/// Item 6: with push on, a request queued while the upstream got commits
/// lands on top of them and is pushed; and when someone pushes between the
/// refinery's fetch and its push (here: the gate does), the rejected push
/// is followed by a fetch and a new landing on the new tip — the request
/// never fails for that.
#[test]
fn refinery_lands_on_the_moving_upstream_and_pushes() {
    let t = TestTown::new();
    t.with_rig("other");
    let (bare, work) = upstream(&t);
    t.ok(&["rig", "add", "p", bare.to_str().unwrap()]);
    t.ok(&["rig", "config", "p", "push", "true"]);
    let s = t.sling("p", "queued work", "standin");
    let bead = s["bead"].as_str().unwrap().to_string();
    t.wait_for(60, "merging", |t| t.bead_status(&bead) == "merging");
    let c1 = upstream_commit(&work, "meanwhile.txt");
    let r = t.json(&["refinery", "run", "--once", "--rig", "p"]);
    assert_eq!(r["rigs"][0]["merged"].as_array().unwrap().len(), 1, "{r}");
    let local = git(&t.repo("p"), &["rev-parse", "main"]);
    assert_eq!(git(&bare, &["rev-parse", "main"]), local, "pushed");
    git(&bare, &["merge-base", "--is-ancestor", &c1, "main"]);
    let files = git(&bare, &["ls-tree", "-r", "--name-only", "main"]);
    assert!(
        files.contains("meanwhile.txt") && files.contains(&format!("standin/{bead}.md")),
        "{files}"
    );

    // Someone pushes while the gate runs: the push is rejected, the
    // refinery follows the upstream and lands again.
    let flag = t.dir.path().join("raced");
    let race = t.dir.path().join("race.sh");
    std::fs::write(
        &race,
        format!(
            "#!/bin/sh\nif [ ! -e '{flag}' ]; then touch '{flag}'; cd '{work}' && git pull -q --ff-only origin main && echo r > race.txt && git add -A && git -c user.name=R -c user.email=r@example.invalid commit -q -m race && git push -q origin HEAD:main; fi\nexit 0\n",
            flag = flag.display(),
            work = work.display()
        ),
    )
    .unwrap();
    t.ok(&[
        "rig",
        "config",
        "p",
        "gates.race",
        &format!("sh {}", race.display()),
    ]);
    let s = t.sling("p", "raced work", "standin");
    let bead = s["bead"].as_str().unwrap().to_string();
    t.wait_for(60, "merging", |t| t.bead_status(&bead) == "merging");
    let r = t.json(&["refinery", "run", "--once", "--rig", "p"]);
    assert!(flag.exists(), "the gate raced");
    assert_eq!(r["rigs"][0]["merged"].as_array().unwrap().len(), 1, "{r}");
    assert!(r["rigs"][0]["failed"].as_array().unwrap().is_empty(), "{r}");
    let files = git(&bare, &["ls-tree", "-r", "--name-only", "main"]);
    assert!(
        files.contains("race.txt") && files.contains(&format!("standin/{bead}.md")),
        "{files}"
    );
    assert_eq!(
        git(&bare, &["rev-parse", "main"]),
        git(&t.repo("p"), &["rev-parse", "main"])
    );
    assert_eq!(t.bead_status(&bead), "closed");
}

/// Item 1: an agent that points its worktree's git metadata at a repository
/// of its own (a `.git` file, or the `commondir` of its worktree folder in
/// the rig repository) whose config defines a clean filter its committed
/// `.gitattributes` uses: gt's git (here `gt down --all` saving work) never
/// runs it — gt refuses to run git there.
#[test]
fn redirected_worktree_metadata_is_refused() {
    let t = TestTown::new();
    t.with_rig("w");
    let marker = t.dir.path().join("ran");
    // The agent's own repository, with a filter that runs code.
    let evil = t.dir.path().join("evil");
    std::fs::create_dir_all(&evil).unwrap();
    raw_git(&evil, &["init", "-q"]);
    let script = t.dir.path().join("filter.sh");
    write_exe(
        &script,
        &format!("#!/bin/sh\necho filter >> '{}'\ncat\n", marker.display()),
    );
    raw_git(
        &evil,
        &["config", "filter.x.clean", script.to_str().unwrap()],
    );
    raw_git(&evil, &["config", "core.bare", "false"]);

    let a = t.sling("w", "redirect dotgit", "standin-hang");
    let b = t.sling("w", "redirect commondir", "standin-hang");
    for s in [&a, &b] {
        let bead = s["bead"].as_str().unwrap().to_string();
        t.wait_for(20, "the agent", |t| t.session_is(&bead, "running"));
        let wt = PathBuf::from(s["worktree"].as_str().unwrap());
        std::fs::write(wt.join(".gitattributes"), "* filter=x\n").unwrap();
        std::fs::write(wt.join("work.txt"), "work\n").unwrap();
    }
    // a: the .git file leads to the agent's repository.
    let wa = PathBuf::from(a["worktree"].as_str().unwrap());
    std::fs::write(
        wa.join(".git"),
        format!("gitdir: {}\n", evil.join(".git").display()),
    )
    .unwrap();
    // b: its worktree folder's commondir leads there.
    let wb = PathBuf::from(b["worktree"].as_str().unwrap());
    let dotgit = std::fs::read_to_string(wb.join(".git")).unwrap();
    let admin = PathBuf::from(dotgit.trim().strip_prefix("gitdir: ").unwrap());
    std::fs::write(
        admin.join("commondir"),
        format!("{}\n", evil.join(".git").display()),
    )
    .unwrap();

    let mut errors = Vec::new();
    for wt in [&wa, &wb] {
        let out = t
            .cmd()
            .current_dir(wt)
            .args(["done", "--wip"])
            .output()
            .unwrap();
        errors.push((
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        ));
    }
    assert_eq!(marker_text(&marker), "", "the agent's filter ran inside gt");
    for (ok, err) in errors {
        assert!(!ok && err.contains("gt runs no git there"), "{err}");
    }
    // (A patrol stops at the first worktree whose git fails, today: it
    // reports the refusal rather than running the filter.)
    let out = t.run(&["deacon", "patrol", "--once"]);
    assert!(
        out.status.success()
            || String::from_utf8_lossy(&out.stderr).contains("gt runs no git there"),
        "{out:?}"
    );
    let _ = t.run(&["down", "--all"]);
    assert_eq!(marker_text(&marker), "", "the agent's filter ran inside gt");
}
