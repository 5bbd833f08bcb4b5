//! Issue 10 §4–§5: concurrency and truthful state, end to end through the
//! real `gt` binary in a temporary town with its own tmux socket.

use std::collections::BTreeSet;
use std::process::Output;

use crate::common::{lines_json, TestTown};
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
    t.set_agent("ghost", "definitely-not-installed-agent --go");
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
    t.set_agent("dies", "sh -c 'echo boom; exit 7'");
    let err = t.fails(&["sling", "doomed work", "r", "--agent", "dies"], 1);
    assert!(err.contains("exit code 7"), "{err}");
    assert!(array(t.json(&["bead", "list", "--all"])).is_empty());
    assert!(array(t.json(&["polecat", "list"])).is_empty());
    let wt = t.root.join("r").join("polecats").join("nux");
    assert!(!wt.exists(), "{} was left behind", wt.display());
    let branches = crate::common::git(&t.repo("r"), &["branch", "--list", "polecat/*"]);
    assert!(branches.trim().is_empty(), "{branches}");
    assert!(t.kinds(&[]).contains(&"sling.failed".to_string()));
    // An existing bead slung to a dying agent goes back to `open`.
    let id = t.create("kept work", &[]);
    t.fails(&["sling", &id, "r", "--agent", "dies"], 1);
    assert_eq!(t.bead_status(&id), "open");
    assert!(array(t.json(&["polecat", "list"])).is_empty());
    // A reused idle polecat keeps its worktree; the new bead and its branch go.
    let a = &t.sling("r", "good", "standin");
    let good = a["bead"].as_str().unwrap().to_string();
    t.wait_for(30, "good done", |t| t.bead_status(&good) == "merging");
    t.fails(&["sling", "doomed again", "r", "--agent", "dies"], 1);
    let beads = array(t.json(&["bead", "list", "--all"]));
    assert_eq!(beads.len(), 2, "{beads:?}");
    let pcs = array(t.json(&["polecat", "list"]));
    assert_eq!(pcs.len(), 1, "{pcs:?}");
    assert_eq!(pcs[0]["state"], "idle");
    assert!(t.worktree("r", "nux").join(".git").exists());
    let branches = crate::common::git(&t.repo("r"), &["branch", "--list", "polecat/*"]);
    assert_eq!(branches.lines().count(), 1, "{branches}");
    assert!(branches.contains(&good), "{branches}");
    // The polecat takes the next work as usual.
    let b = &t.sling("r", "next", "standin-hang");
    assert_eq!(b["polecat"], "nux");
}

fn deacon_states(t: &TestTown) -> (String, String, Value, Value) {
    let d = t.json(&["deacon", "status"]);
    let s = t.json(&["status"]);
    (
        d["state"].as_str().unwrap().to_string(),
        s["deacon"]["state"].as_str().unwrap().to_string(),
        d["pid"].clone(),
        s["deacon"]["pid"].clone(),
    )
}

#[test]
fn four_gt_up_at_once_start_one_deacon_and_all_report_it() {
    let t = TestTown::new();
    let runs: Vec<Vec<String>> = (0..4)
        .map(|_| vec!["--json".to_string(), "up".to_string()])
        .collect();
    let outs = parallel(&t, &runs);
    let mut pids = BTreeSet::new();
    let mut fresh = 0;
    for o in &outs {
        assert!(o.status.success(), "a gt up failed:\n{}", text(o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        let pid = v["pid"].as_u64().unwrap();
        assert_ne!(pid, 0, "{v}");
        pids.insert(pid);
        if v["already_running"] == false {
            fresh += 1;
        }
    }
    assert_eq!(pids.len(), 1, "several deacons reported: {pids:?}");
    assert_eq!(fresh, 1, "exactly one gt up started it");
    let pid = *pids.iter().next().unwrap();
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    let st = t.json(&["deacon", "status"]);
    assert_eq!(st["pid"].as_u64(), Some(pid), "{st}");
    assert_eq!(st["state"], "up", "{st}");
    t.ok(&["down"]);
}

#[test]
fn deacon_up_means_the_same_in_gt_status_and_gt_deacon_status() {
    let t = TestTown::new();
    // A patrol run by hand leaves a fresh heartbeat but no deacon.
    t.ok(&["deacon", "patrol", "--once"]);
    let (d, s, dp, sp) = deacon_states(&t);
    assert_eq!((d.as_str(), s.as_str()), ("never_started", "never_started"));
    assert!(dp.is_null() && sp.is_null());
    assert_eq!(t.json(&["status"])["healthy"], true);

    let pid = t.json(&["up"])["pid"].as_u64().unwrap();
    let (d, s, dp, sp) = deacon_states(&t);
    assert_eq!((d.as_str(), s.as_str()), ("up", "up"));
    assert_eq!((dp.as_u64(), sp.as_u64()), (Some(pid), Some(pid)));

    t.ok(&["down"]);
    let (d, s, _, _) = deacon_states(&t);
    assert_eq!((d.as_str(), s.as_str()), ("stopped", "stopped"));
    assert_eq!(t.json(&["status"])["healthy"], true);

    // A deacon killed outright is down, and the town is not healthy.
    let pid = t.json(&["up"])["pid"].as_u64().unwrap();
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    t.wait_for(10, "the killed deacon to release its lock", |t| {
        deacon_states(t).0 != "up"
    });
    let (d, s, dp, sp) = deacon_states(&t);
    assert_eq!((d.as_str(), s.as_str()), ("down", "down"));
    assert!(dp.is_null() && sp.is_null());
    let st = t.json(&["status"]);
    assert_eq!(st["healthy"], false, "{st}");
    let human = t.ok(&["deacon", "status"]);
    assert!(human.contains("DOWN"), "{human}");
}

/// Agent `quick`: runs `gt done --no-changes` at once and stays alive, so
/// its tmux session is ended by gt (one second after `gt done`), not by the
/// agent exiting.
fn set_quick_agent(t: &TestTown) {
    let gt = crate::common::gt_bin();
    t.set_agent(
        "quick",
        &format!("sh -c '{} done --no-changes && sleep 30'", gt.display()),
    );
}

#[test]
fn a_session_that_just_ran_gt_done_is_not_an_orphan() {
    let t = TestTown::new();
    t.with_rig("r");
    set_quick_agent(&t);
    for i in 0..3 {
        let s = &t.sling("r", &format!("quick task {i}"), "quick");
        let bead = s["bead"].as_str().unwrap().to_string();
        let tmux = s["session"].as_str().unwrap().to_string();
        t.wait_for(20, "gt done", |t| t.bead_status(&bead) == "closed");
        let socket = gt_lib::tmux::socket_name_for(&t.root);
        let alive = std::process::Command::new("tmux")
            .args(["-L", &socket, "has-session", "-t", &format!("={tmux}")])
            .output()
            .unwrap()
            .status
            .success();
        let actions = t.json(&["deacon", "patrol", "--once"])["actions"].clone();
        assert!(
            !actions.to_string().contains("orphan"),
            "finished session {tmux} (alive: {alive}) reported as an orphan: {actions}"
        );
    }
    assert!(!t.kinds(&[]).iter().any(|k| k.starts_with("deacon.orphan")));
}

#[test]
fn agents_stopped_by_down_all_are_stopped_not_zombies_and_gt_up_resumes_them() {
    let t = TestTown::new();
    t.with_rig("r");
    let s = &t.sling("r", "held work", "standin-hang");
    let bead = s["bead"].as_str().unwrap().to_string();
    let agent = s["agent"].as_str().unwrap().to_string();
    t.ok(&["up"]);
    t.ok(&["down", "--all"]);
    let st = t.json(&["status"]);
    assert_eq!(st["healthy"], true, "{st}");
    assert!(st["problems"].as_array().unwrap().is_empty(), "{st}");
    assert_eq!(st["rigs"][0]["polecats"]["stopped"], 1, "{st}");
    assert!(st["rigs"][0]["polecats"].get("zombie").is_none(), "{st}");
    let human = t.ok(&["status"]);
    assert!(!human.contains("zombie"), "{human}");
    assert!(human.contains("stopped"), "{human}");
    let rows = array(t.json(&["agents"]));
    let row = rows.iter().find(|r| r["bead"] == bead.as_str()).unwrap();
    assert_eq!(row["end_reason"], "stopped", "{row}");
    // `gt up` resumes it.
    let up = t.json(&["up"]);
    assert_eq!(up["resumed"][0]["bead"], bead.as_str(), "{up}");
    assert_eq!(up["resumed"][0]["agent"], agent.as_str(), "{up}");
    assert!(t.session_is(&bead, "running"));
    // A second `gt up` finds nothing left to resume.
    let again = t.json(&["up"]);
    assert_eq!(again["already_running"], true);
    assert!(again["resumed"].as_array().unwrap().is_empty(), "{again}");
    t.ok(&["down", "--all"]);
}

/// The real tmux, for a wrapper that stands in for it.
fn real_tmux() -> String {
    let out = std::process::Command::new("sh")
        .args(["-c", "command -v tmux"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn has_tmux_session(t: &TestTown, name: &str) -> bool {
    let socket = gt_lib::tmux::socket_name_for(&t.root);
    std::process::Command::new("tmux")
        .args(["-L", &socket, "has-session", "-t", &format!("={name}")])
        .output()
        .unwrap()
        .status
        .success()
}

#[test]
fn a_sling_killed_after_starting_tmux_is_adopted_by_the_next_patrol() {
    use std::os::unix::process::CommandExt;
    let t = TestTown::new();
    t.with_rig("r");
    // A tmux that hangs right after it started a session: `gt sling` is
    // stuck between starting tmux and recording the start, and is killed
    // there, as a crash or a Ctrl-C would.
    let path = t.fake_program(
        "tmux",
        &format!(
            "{} \"$@\"; rc=$?\ncase \"$*\" in *new-session*) sleep 60;; esac\nexit $rc\n",
            real_tmux()
        ),
    );
    let mut child = std::process::Command::new(crate::common::gt_bin())
        .env_clear()
        .env("HOME", &t.home)
        .env("PATH", &path)
        .env("GT_ACTOR", "tester")
        .env("LANG", "C.UTF-8")
        .current_dir(&t.root)
        .args(["sling", "interrupted work", "r", "--agent", "standin-hang"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let pgid = child.id();
    t.wait_for(20, "the agent's tmux session", |t| {
        has_tmux_session(t, "gt-r-P-nux")
    });
    let _ = std::process::Command::new("kill")
        .args(["-9", "--", &format!("-{pgid}")])
        .status();
    let _ = child.wait();
    let beads = array(t.json(&["bead", "list", "--all"]));
    assert_eq!(beads.len(), 1);
    let bead = beads[0]["id"].as_str().unwrap().to_string();
    assert_eq!(t.bead_status(&bead), "hooked");
    // The next patrol (after the sling's short grace) adopts the live agent.
    std::thread::sleep(std::time::Duration::from_millis(3500));
    let r = t.json(&["deacon", "patrol", "--once"]);
    assert!(r["actions"].to_string().contains("deacon.adopted"), "{r}");
    assert_eq!(t.bead_status(&bead), "in_progress");
    assert!(t.session_is(&bead, "running"));
    let agents = array(t.json(&["agents"]));
    let row = agents.iter().find(|a| a["bead"] == bead.as_str()).unwrap();
    assert_ne!(row["state"], "starting", "{row}");
    // Once only.
    let r = t.json(&["deacon", "patrol", "--once"]);
    assert!(!r["actions"].to_string().contains("adopted"), "{r}");
}

fn socket_file(t: &TestTown) -> std::path::PathBuf {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").unwrap().uid();
    std::path::Path::new(&format!("/tmp/tmux-{uid}")).join(gt_lib::tmux::socket_name_for(&t.root))
}

#[test]
fn the_tmux_socket_file_goes_when_the_last_session_ends() {
    let t = TestTown::new();
    t.with_rig("r");
    // Ended by gt killing the sessions (`gt down --all`).
    t.ok(&["sling", "one", "r", "--agent", "standin-hang"]);
    t.ok(&["sling", "two", "r", "--agent", "standin-hang"]);
    let sock = socket_file(&t);
    assert!(sock.exists(), "{} missing while agents run", sock.display());
    t.ok(&["down", "--all"]);
    assert!(
        !sock.exists(),
        "{} left after the last session",
        sock.display()
    );
    // Ended by `gt done` (tmux kills the session a second later): gone at
    // gt's next look at tmux.
    set_quick_agent(&t);
    let s = &t.sling("r", "three", "quick");
    let bead = s["bead"].as_str().unwrap().to_string();
    t.wait_for(20, "gt done", |t| t.bead_status(&bead) == "closed");
    t.wait_for(10, "the session to end", |t| {
        !has_tmux_session(t, s["session"].as_str().unwrap())
    });
    t.ok(&["agents"]);
    assert!(!sock.exists(), "{} left after gt done", sock.display());
}

#[test]
fn ended_rows_of_gt_agents_show_their_own_end_in_text_and_json_alike() {
    let t = TestTown::new();
    t.with_rig("r");
    let a = &t.sling("r", "first", "standin");
    let first = a["bead"].as_str().unwrap().to_string();
    t.wait_for(30, "first done", |t| t.bead_status(&first) == "merging");
    // The same polecat takes new work: it is `working` again.
    let b = &t.sling("r", "second", "standin-hang");
    assert_eq!(a["polecat"], b["polecat"]);
    let rows = array(t.json(&["agents"]));
    let ended = rows.iter().find(|r| r["bead"] == first.as_str()).unwrap();
    assert_eq!(ended["live"], "ended", "{ended}");
    assert_eq!(ended["end_reason"], "done", "{ended}");
    assert!(ended["state"].is_null(), "{ended}");
    assert_eq!(ended["last_activity"], ended["ended_at"], "{ended}");
    let text = t.ok(&["agents"]);
    let line = text
        .lines()
        .find(|l| l.contains(first.as_str()))
        .unwrap_or_else(|| panic!("no row for {first}:\n{text}"));
    let cols: Vec<&str> = line.split_whitespace().collect();
    // AGENT BEAD LIVE STATE LAST-ACTIVITY... RUNTIME ENDED
    assert_eq!(cols[2], "ended", "{line}");
    assert_eq!(
        cols[3], "-",
        "an ended row shows its polecat's current state: {line}"
    );
    assert_ne!(cols[4], "-", "{line}");
    assert_eq!(*cols.last().unwrap(), "done", "{line}");
    assert!(!line.contains("working"), "{line}");
}
