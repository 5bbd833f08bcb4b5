//! Issue 10 §4–§5: concurrency and truthful state, end to end through the
//! real `gt` binary in a temporary town with its own tmux socket.

mod common;

use std::collections::BTreeSet;
use std::process::Output;

use common::{lines_json, TestTown};
use serde_json::Value;

/// Runs every `args` list as its own `gt` process, all at once, and returns
/// their outputs in order.
fn parallel(t: &TestTown, runs: &[Vec<String>]) -> Vec<Output> {
    std::thread::scope(|s| {
        let handles: Vec<_> = runs
            .iter()
            .map(|args| {
                s.spawn(move || {
                    let a: Vec<&str> = args.iter().map(String::as_str).collect();
                    t.run(&a)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn sling_args(title: &str, agent: &str) -> Vec<String> {
    ["--json", "sling", title, "r", "--agent", agent]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn array(v: Value) -> Vec<Value> {
    v.as_array().cloned().unwrap_or_default()
}

/// Open sessions whose agent is alive right now.
fn running(t: &TestTown) -> usize {
    array(t.json(&["agents", "--recent", "0"]))
        .iter()
        .filter(|a| a["live"] == "running")
        .count()
}

#[test]
fn parallel_slings_all_succeed_with_distinct_polecats() {
    let t = TestTown::new();
    t.with_rig("r");
    let runs: Vec<Vec<String>> = (0..8)
        .map(|i| sling_args(&format!("parallel task {i}"), "standin-hang"))
        .collect();
    let outs = parallel(&t, &runs);
    let mut polecats = BTreeSet::new();
    let mut beads = BTreeSet::new();
    for o in &outs {
        assert!(o.status.success(), "a parallel sling failed:\n{}", text(o));
        let s = &lines_json(&String::from_utf8_lossy(&o.stdout))[0];
        assert_eq!(s["queued"], false, "{s}");
        polecats.insert(s["polecat"].as_str().unwrap().to_string());
        beads.insert(s["bead"].as_str().unwrap().to_string());
    }
    assert_eq!(polecats.len(), 8, "polecats were shared: {polecats:?}");
    assert_eq!(beads.len(), 8);
    let pcs = array(t.json(&["polecat", "list"]));
    assert_eq!(pcs.len(), 8, "{pcs:?}");
    assert!(pcs.iter().all(|p| p["state"] == "working"), "{pcs:?}");
    // Every bead is held by exactly one live agent; no stray bead was left open.
    let open = array(t.json(&["bead", "list", "--status", "open"]));
    assert!(open.is_empty(), "beads left open: {open:?}");
    t.wait_for(20, "8 running agents", |t| running(t) == 8);
}

#[test]
fn parallel_slings_never_exceed_max_polecats() {
    let t = TestTown::new();
    t.with_rig("r");
    t.ok(&["config", "set", "scheduler.max_polecats", "2"]);
    let runs: Vec<Vec<String>> = (0..6)
        .map(|i| sling_args(&format!("capped task {i}"), "standin-hang"))
        .collect();
    let outs = parallel(&t, &runs);
    let mut started = 0;
    let mut queued = 0;
    for o in &outs {
        assert!(o.status.success(), "a parallel sling failed:\n{}", text(o));
        let s = &lines_json(&String::from_utf8_lossy(&o.stdout))[0];
        if s["queued"] == true {
            queued += 1;
        } else {
            started += 1;
        }
    }
    assert_eq!((started, queued), (2, 4));
    t.wait_for(20, "2 running agents", |t| running(t) == 2);
    // A patrol finds no free place: nothing more starts.
    t.ok(&["deacon", "patrol", "--once"]);
    assert_eq!(running(&t), 2);
    let q = array(t.json(&["bead", "list", "--status", "queued"]));
    assert_eq!(q.len(), 4, "{q:?}");
}

#[test]
fn a_sling_whose_agent_command_is_missing_leaves_nothing_behind() {
    let t = TestTown::new();
    t.with_rig("r");
    t.ok(&[
        "config",
        "agent",
        "set",
        "ghost",
        "definitely-not-installed-agent --go",
    ]);
    let err = t.refuses(&["sling", "new work for a ghost", "r", "--agent", "ghost"]);
    assert!(err.contains("definitely-not-installed-agent"), "{err}");
    assert!(array(t.json(&["bead", "list", "--all"])).is_empty());
    assert!(array(t.json(&["polecat", "list"])).is_empty());
    assert!(!t.root.join("r").join("polecats").join("nux").exists());
}

#[test]
fn a_sling_whose_agent_dies_at_once_leaves_no_bead_polecat_or_worktree() {
    let t = TestTown::new();
    t.with_rig("r");
    t.ok(&[
        "config",
        "agent",
        "set",
        "dies",
        "sh -c 'echo boom; exit 7'",
    ]);
    let err = t.fails(&["sling", "doomed work", "r", "--agent", "dies"], 1);
    assert!(err.contains("exit code 7"), "{err}");
    assert!(array(t.json(&["bead", "list", "--all"])).is_empty());
    assert!(array(t.json(&["polecat", "list"])).is_empty());
    let wt = t.root.join("r").join("polecats").join("nux");
    assert!(!wt.exists(), "{} was left behind", wt.display());
    let branches = common::git(&t.repo("r"), &["branch", "--list", "polecat/*"]);
    assert!(branches.trim().is_empty(), "{branches}");
    assert!(t.kinds(&[]).contains(&"sling.failed".to_string()));
    // An existing bead slung to a dying agent goes back to `open`.
    let id = t.create("kept work", &[]);
    t.fails(&["sling", &id, "r", "--agent", "dies"], 1);
    assert_eq!(t.bead_status(&id), "open");
    assert!(array(t.json(&["polecat", "list"])).is_empty());
}
