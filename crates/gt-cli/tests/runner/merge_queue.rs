//! Issue 7 end to end: the refinery lands merge requests from real stand-in
//! agents (real tmux, real git) on the rig's default branch; convoys; the
//! merge queue CLI; crash safety under kill -9.

use std::time::Duration;

use crate::common::{bare_clone, git, gt_bin, lines_json, TestTown};
use serde_json::Value;

/// Slings tasks (one polecat each) and returns the bead ids.
fn sling(t: &TestTown, rig: &str, agent: &str, tasks: &[&str]) -> Vec<String> {
    let mut args = vec!["--json", "sling"];
    args.extend(tasks);
    args.extend([rig, "--agent", agent]);
    lines_json(&t.ok(&args))
        .iter()
        .map(|s| s["bead"].as_str().unwrap().to_string())
        .collect()
}

fn wait_merging(t: &TestTown, beads: &[String]) {
    t.wait_for(90, "beads merging", |t| {
        beads.iter().all(|b| t.bead_status(b) == "merging")
    });
}

fn mq(t: &TestTown, rig: &str) -> Vec<Value> {
    t.json(&["mq", "list", "--rig", rig])
        .as_array()
        .unwrap()
        .clone()
}

fn mr_of<'a>(mrs: &'a [Value], bead: &str) -> Vec<&'a Value> {
    mrs.iter().filter(|m| m["bead"] == bead).collect()
}

fn refinery_once(t: &TestTown, rig: &str) -> Value {
    let r = t.json(&["refinery", "run", "--once", "--rig", rig]);
    assert_eq!(r["rigs"][0]["rig"], rig, "{r}");
    r
}

fn main_files(t: &TestTown, rig: &str) -> String {
    git(&t.repo(rig), &["ls-tree", "-r", "--name-only", "main"])
}

#[test]
fn refinery_lands_five_polecats_and_the_convoy() {
    let t = TestTown::new();
    t.with_rig("demo");
    let beads = sling(
        &t,
        "demo",
        "standin",
        &[
            "task one",
            "task two",
            "task three",
            "task four",
            "task five",
        ],
    );
    let mut args = vec!["--json", "convoy", "create", "five"];
    args.extend(beads.iter().map(String::as_str));
    let c = serde_json::from_str::<Value>(&t.ok(&args)).unwrap();
    assert_eq!(c["total"], 5);
    assert_eq!(c["status"], "open");
    wait_merging(&t, &beads);
    let before = git(&t.repo("demo"), &["rev-parse", "main"]);

    let r = refinery_once(&t, "demo");
    assert_eq!(r["rigs"][0]["merged"].as_array().unwrap().len(), 5, "{r}");
    // The sling of five made its own convoy too; both land.
    let landed: Vec<&str> = r["convoys_landed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(landed.contains(&"five"), "{r}");

    let repo = t.repo("demo");
    let files = main_files(&t, "demo");
    let mrs = mq(&t, "demo");
    for b in &beads {
        assert!(files.contains(&format!("standin/{b}.md")), "{b}: {files}");
        assert_eq!(t.bead_status(b), "closed");
        let shown = t.json(&["show", b]);
        assert!(
            shown["close_reason"]
                .as_str()
                .unwrap()
                .starts_with("merged: "),
            "{shown}"
        );
        let m = mr_of(&mrs, b)[0];
        assert_eq!(m["status"], "merged");
        let commit = m["merged_commit"].as_str().unwrap();
        git(&repo, &["merge-base", "--is-ancestor", commit, "main"]);
        // The polecat branch is gone.
        let branches = git(&repo, &["branch", "--list", m["branch"].as_str().unwrap()]);
        assert!(branches.trim().is_empty(), "{branches}");
    }
    // Linear history: 5 commits on top of the old tip.
    let n = git(
        &repo,
        &["rev-list", "--count", &format!("{}..main", before.trim())],
    );
    assert_eq!(n.trim(), "5");
    let c = t.json(&["convoy", "show", "five"]);
    assert_eq!(c["status"], "landed");
    assert_eq!(c["progress"], "5/5");
    assert!(c["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["merge"] == "merged" && i["status"] == "closed"));
    let kinds = t.kinds(&[]);
    assert_eq!(kinds.iter().filter(|k| *k == "merge.landed").count(), 5);
    // Two convoys: the one the sling made and "five"; each lands once.
    assert_eq!(kinds.iter().filter(|k| *k == "convoy.landed").count(), 2);
    assert_eq!(kinds.iter().filter(|k| *k == "convoy.created").count(), 2);

    // Idempotent: nothing more to do, nothing written.
    let r = refinery_once(&t, "demo");
    assert!(r["rigs"][0]["merged"].as_array().unwrap().is_empty());
    assert_eq!(
        git(&repo, &["rev-parse", "main"]),
        git(&repo, &["rev-parse", "main"])
    );
    // Polecat worktrees were never used by the refinery; the refinery has its own.
    assert!(t.root.join("demo/refinery/.git").exists());
}

#[test]
fn refinery_conflict_is_reslung_and_lands_after_rebase() {
    let t = TestTown::new();
    t.with_rig("r");
    let beads = sling(&t, "r", "standin-conflict", &["first edit", "second edit"]);
    wait_merging(&t, &beads);
    let r = refinery_once(&t, "r");
    assert_eq!(r["rigs"][0]["merged"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(
        r["rigs"][0]["conflicts"].as_array().unwrap().len(),
        1,
        "{r}"
    );
    let mrs = mq(&t, "r");
    let (won, lost) = if mr_of(&mrs, &beads[0])[0]["status"] == "merged" {
        (&beads[0], &beads[1])
    } else {
        (&beads[1], &beads[0])
    };
    let m = mr_of(&mrs, lost)[0];
    assert_eq!(m["status"], "conflict");
    assert_eq!(m["conflict_files"][0], "standin/shared.txt");
    assert_eq!(r["rigs"][0]["reslung"][0], lost.as_str(), "{r}");
    let shown = t.json(&["show", lost]);
    let comments = shown["comments"].to_string();
    assert!(comments.contains("gt rebase"), "{shown}");
    let mr_id = m["id"].as_i64().unwrap().to_string();
    let detail = t.json(&["mq", "show", &mr_id]);
    assert!(detail["failure"].as_str().unwrap().contains("shared.txt"));

    // The stand-in, slung back to the same polecat, rebases and finishes.
    t.wait_for(90, "re-slung bead merging", |t| {
        t.bead_status(lost) == "merging"
    });
    let r = refinery_once(&t, "r");
    assert_eq!(r["rigs"][0]["merged"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(t.bead_status(lost), "closed");
    assert_eq!(t.bead_status(won), "closed");
    let shared = git(&t.repo("r"), &["show", "main:standin/shared.txt"]);
    assert_eq!(shared.lines().next(), Some(lost.as_str()));
}

#[test]
fn refinery_batch_bisects_a_failing_gate() {
    let t = TestTown::new();
    t.with_rig("b");
    t.with_failing_standin();
    t.ok(&["rig", "config", "b", "gates.nofail", "test ! -e FAIL.txt"]);
    t.ok(&["rig", "config", "b", "merge.on_failure", "resling"]);
    let mut beads = sling(&t, "b", "standin", &["good one"]);
    beads.extend(sling(&t, "b", "standin-bad", &["bad one"]));
    beads.extend(sling(&t, "b", "standin", &["good two", "good three"]));
    wait_merging(&t, &beads);
    let r = refinery_once(&t, "b");
    let rr = &r["rigs"][0];
    assert_eq!(rr["merged"].as_array().unwrap().len(), 3, "{r}");
    assert_eq!(rr["failed"].as_array().unwrap().len(), 1, "{r}");
    // Whole batch, then bisection (2 runs), then the rest once.
    assert_eq!(rr["gate_runs"], 4, "{r}");
    assert_eq!(rr["reslung"][0], beads[1].as_str(), "{r}");
    let mrs = mq(&t, "b");
    let bad = mr_of(&mrs, &beads[1])[0];
    assert_eq!(bad["status"], "failed");
    assert!(bad["failure"].as_str().unwrap().contains("gate 'nofail'"));
    for b in [&beads[0], &beads[2], &beads[3]] {
        assert_eq!(t.bead_status(b), "closed");
    }
    assert!(!main_files(&t, "b").contains("FAIL.txt"));
    // Slung back to the same polecat with the failure in its briefing.
    let shown = t.json(&["show", &beads[1]]);
    assert!(shown["comments"].to_string().contains("nofail"), "{shown}");
    t.wait_for(60, "culprit queued again", |t| {
        t.bead_status(&beads[1]) == "merging"
    });
    let again = mq(&t, "b");
    assert_eq!(mr_of(&again, &beads[1]).len(), 2);
    assert_eq!(mr_of(&again, &beads[1])[1]["polecat"], bad["polecat"]);
    // It fails again; with on_failure leave it stays open for a human.
    t.ok(&["rig", "config", "b", "merge.on_failure", "leave"]);
    let r = refinery_once(&t, "b");
    assert_eq!(r["rigs"][0]["failed"].as_array().unwrap().len(), 1, "{r}");
    assert!(r["rigs"][0]["reslung"].as_array().unwrap().is_empty());
    assert_eq!(t.bead_status(&beads[1]), "open");
}

#[test]
fn refinery_survives_kill_9_and_never_leaves_main_unverified() {
    let t = TestTown::new();
    t.with_rig("k");
    // A gate that takes a moment widens the window for kills mid-merge.
    t.ok(&["rig", "config", "k", "gates.pause", "sleep 0.15"]);
    t.ok(&["rig", "config", "k", "merge.batch", "2"]);
    let beads = sling(
        &t,
        "k",
        "standin",
        &["k one", "k two", "k three", "k four", "k five", "k six"],
    );
    wait_merging(&t, &beads);
    let repo = t.repo("k");
    let initial = git(&repo, &["rev-parse", "main"]).trim().to_string();
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    for round in 0..12 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = 20 + (seed >> 33) % 500;
        let mut child = std::process::Command::new(gt_bin())
            .args(["refinery", "run", "--once", "--rig", "k"])
            .current_dir(&t.root)
            .env_clear()
            .env("PATH", crate::common::system_path())
            .env("HOME", &t.home)
            .env("GT_ACTOR", "tester")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        // Let orphaned git children of the killed run finish.
        std::thread::sleep(Duration::from_millis(300));
        check_main(&t, &initial, round);
    }
    // A run to completion finishes the queue.
    let r = refinery_once(&t, "k");
    check_main(&t, &initial, 99);
    let mrs = mq(&t, "k");
    assert!(mrs.iter().all(|m| m["status"] == "merged"), "{mrs:?}\n{r}");
    let files = main_files(&t, "k");
    for b in &beads {
        assert_eq!(t.bead_status(b), "closed");
        assert!(files.contains(&format!("standin/{b}.md")));
    }
    let n = git(&repo, &["rev-list", "--count", &format!("{initial}..main")]);
    assert_eq!(n.trim(), "6", "each request exactly once");
}

/// Every commit on main beyond the initial one is the recorded landing
/// commit of a request that is landing or merged, and the repository is sound.
fn check_main(t: &TestTown, initial: &str, round: usize) {
    let repo = t.repo("k");
    git(&repo, &["fsck", "--no-dangling", "--connectivity-only"]);
    let commits = git(&repo, &["rev-list", &format!("{initial}..main")]);
    let store = t.store();
    let entries = gt_lib::store::merge::MergeStore::merge_entries(&store, Some("k"), &[]).unwrap();
    for c in commits.lines() {
        let e = entries.iter().find(|e| {
            e.landing_commit.as_deref() == Some(c) || e.merged_commit.as_deref() == Some(c)
        });
        let e = e.unwrap_or_else(|| panic!("round {round}: {c} on main is no recorded landing"));
        assert!(
            matches!(e.mr.status.as_str(), "landing" | "merged"),
            "round {round}: {c} belongs to a {} request",
            e.mr.status
        );
    }
}

#[test]
fn refinery_cli_validates_config_and_queue_commands() {
    let t = TestTown::new();
    t.with_rig("c");
    t.refuses(&["rig", "config", "c", "merge.bogus", "1"]);
    t.refuses(&["rig", "config", "c", "merge.strategy", "octopus"]);
    t.refuses(&["rig", "config", "c", "merge.batch", "0"]);
    t.refuses(&["rig", "config", "c", "push", "maybe"]);
    t.refuses(&["rig", "config", "c", "gates.t", "sh -c 'oops"]);
    t.refuses(&["rig", "config", "nope", "push", "true"]);
    t.ok(&["rig", "config", "c", "merge.strategy", "squash"]);
    t.ok(&["rig", "config", "c", "merge.batch", "3"]);
    let v = t.json(&["rig", "config", "c", "merge.batch"]);
    assert_eq!(v["value"], 3);
    let all = t.json(&["rig", "config", "c"]);
    assert_eq!(all["merge.strategy"], "squash");
    t.ok(&["rig", "config", "c", "merge.batch", "--unset"]);
    assert_eq!(
        t.json(&["rig", "config", "c", "merge.batch"])["value"],
        Value::Null
    );
    t.refuses(&["mq", "show", "abc"]);
    t.fails(&["mq", "show", "42"], 1);
    t.fails(&["mq", "retry", "42"], 1);
    assert_eq!(t.json(&["mq", "list"]), serde_json::json!([]));
    let r = t.json(&["refinery", "run", "--once"]);
    assert_eq!(r["rigs"], serde_json::json!([]));
    // Hostile convoy names are refused; ids cannot be names.
    t.refuses(&["convoy", "create", "evil\u{1b}[2Jname"]);
    t.refuses(&["convoy", "create", "42"]);
    let c = t.json(&["convoy", "create", "plain name"]);
    assert_eq!(c["total"], 0);
    t.refuses(&["convoy", "create", "plain name"]);
    assert_eq!(t.json(&["convoy", "list"])[0]["name"], "plain name");
    t.refuses(&["convoy", "add", "nope", "x-1"]);
}

#[test]
fn refinery_squash_strategy_and_rebase_command() {
    let t = TestTown::new();
    t.with_rig("s");
    t.ok(&["rig", "config", "s", "merge.strategy", "squash"]);
    let beads = sling(&t, "s", "standin", &["squash me", "and me"]);
    wait_merging(&t, &beads);
    let r = refinery_once(&t, "s");
    assert_eq!(r["rigs"][0]["merged"].as_array().unwrap().len(), 2, "{r}");
    let log = git(&t.repo("s"), &["log", "--format=%s", "-n", "2", "main"]);
    for b in &beads {
        assert!(log.contains(b.as_str()), "{log}");
    }
    // gt rebase outside a polecat is refused.
    t.refuses(&["rebase"]);
}

#[test]
fn refinery_pushes_upstream_and_records_merged_only_after_the_push() {
    let t = TestTown::new();
    // A bare upstream the user can push to.
    let work = crate::common::source_repo(t.dir.path(), "upstream-work");
    let bare = bare_clone(&work, &t.dir.path().join("upstream.git"));
    t.ok(&["rig", "add", "p", bare.to_str().unwrap()]);
    t.with_rig("other"); // registers the stand-in agents
    t.ok(&["rig", "config", "p", "push", "true"]);
    let beads = sling(&t, "p", "standin", &["pushed work"]);
    wait_merging(&t, &beads);
    let r = refinery_once(&t, "p");
    assert_eq!(r["rigs"][0]["merged"].as_array().unwrap().len(), 1, "{r}");
    let local = git(&t.repo("p"), &["rev-parse", "main"]);
    let remote = git(&bare, &["rev-parse", "main"]);
    assert_eq!(local, remote);

    // A rejected push: not merged, and the local target is put back.
    let hook = bare.join("hooks/pre-receive");
    std::fs::write(&hook, "#!/bin/sh\necho 'rejected by policy' >&2\nexit 1\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let beads = sling(&t, "p", "standin", &["refused work"]);
    wait_merging(&t, &beads);
    let r = refinery_once(&t, "p");
    assert_eq!(r["rigs"][0]["failed"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(git(&t.repo("p"), &["rev-parse", "main"]), local);
    let m = mr_of(&mq(&t, "p"), &beads[0])[0].clone();
    assert_eq!(m["status"], "failed");
    assert!(m["failure"].as_str().unwrap().contains("push"), "{m}");
    assert_eq!(t.bead_status(&beads[0]), "open");
}
