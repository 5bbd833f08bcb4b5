//! Issue 5 end to end: `gt status` (problems checked against tmux now),
//! `gt feed --plain` following the event log live, `gt agents` columns.
//! Real tmux (a private server per town, killed when the test ends) and the
//! stand-in agent.

use std::io::BufRead;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::common::TestTown;
use serde_json::Value;

fn tmux(t: &TestTown, args: &[&str]) -> bool {
    let socket = gt_lib::tmux::socket_name_for(&t.root);
    std::process::Command::new("tmux")
        .args(["-L", &socket])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

fn problems(t: &TestTown, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["status", "--problems"];
    args.extend_from_slice(extra);
    t.json(&args).as_array().unwrap().clone()
}

fn agent_row(t: &TestTown, agent: &str) -> Value {
    t.json(&["agents"])
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|a| a["agent"] == agent)
        .cloned()
        .unwrap_or(Value::Null)
}

fn wait_running(t: &TestTown, agent: &str) {
    t.wait_for(20, "agent running", |t| {
        agent_row(t, agent)["live"] == "running"
    });
}

#[test]
fn killed_session_is_a_zombie_at_once() {
    let t = TestTown::new();
    t.with_rig("r");
    let s = t.sling("r", "hang around", "standin-hang");
    let agent = s["agent"].as_str().unwrap().to_string();
    let bead = s["bead"].as_str().unwrap().to_string();
    wait_running(&t, &agent);

    let st = t.json(&["status"]);
    assert!(st["problems"].as_array().unwrap().is_empty(), "{st}");
    assert_eq!(st["rigs"][0]["name"], "r");
    assert_eq!(st["rigs"][0]["polecats"]["working"], 1, "{st}");
    assert_eq!(st["beads"]["in_progress"], 1);
    assert!(st["deacon"]["state"].is_string());

    // Kill the agent's tmux session by hand: the very next status says so.
    assert!(tmux(
        &t,
        &[
            "kill-session",
            "-t",
            &format!("={}", s["session"].as_str().unwrap())
        ]
    ));
    let st = t.json(&["status"]);
    let p = &st["problems"][0];
    assert_eq!(p["kind"], "zombie", "{st}");
    assert_eq!(p["agent"], agent.as_str());
    assert_eq!(p["bead"], bead.as_str());
    assert_eq!(p["suggested_action"], format!("gt resume {bead}"));
    assert_eq!(st["healthy"], false);
    assert_eq!(st["rigs"][0]["polecats"]["zombie"], 1, "{st}");

    let text = t.ok(&["status"]);
    assert!(text.contains("Problems (1)"), "{text}");
    assert!(text.contains("zombie"), "{text}");
    let text = t.ok(&["status", "--problems"]);
    assert!(text.contains(&format!("gt resume {bead}")), "{text}");

    let row = agent_row(&t, &agent);
    assert_eq!(row["state"], "zombie", "{row}");
    assert_eq!(row["problem"], "zombie", "{row}");
    assert!(row["last_activity"].is_string(), "{row}");

    // Resuming clears the problem.
    t.ok(&["resume", &bead, "--agent", "standin-hang"]);
    wait_running(&t, &agent);
    assert!(problems(&t, &[]).is_empty());
}

#[test]
fn waiting_idle_stalled_and_ended_without_done() {
    let t = TestTown::new();
    t.with_rig("r");
    let q = t.sling("r", "ask first", "standin-prompt");
    let h = t.sling("r", "then hang", "standin-hang");
    let x = t.sling("r", "exit early", "standin-exit-without-done");
    let (qa, ha, xa) = (
        q["agent"].as_str().unwrap(),
        h["agent"].as_str().unwrap(),
        x["agent"].as_str().unwrap(),
    );
    let kind_of = |ps: &[Value], a: &str| {
        ps.iter()
            .find(|p| p["agent"] == a)
            .map(|p| p["kind"].as_str().unwrap().to_string())
    };
    t.wait_for(20, "question and exit seen", |t| {
        let ps = problems(t, &[]);
        kind_of(&ps, qa).as_deref() == Some("waiting_for_input")
            && kind_of(&ps, xa).as_deref() == Some("ended_without_done")
    });
    let ps = problems(&t, &[]);
    let wait = ps.iter().find(|p| p["agent"] == qa).unwrap();
    assert!(wait["detail"].as_str().unwrap().contains("(y/n)"), "{wait}");
    assert_eq!(
        wait["suggested_action"],
        format!("gt attach {qa} and answer")
    );
    assert_eq!(kind_of(&ps, ha), None, "a fresh hang is not a problem yet");

    // At its prompt with work, quiet past the idle threshold.
    let ps = problems(&t, &["--idle-after", "0s"]);
    assert_eq!(
        kind_of(&ps, ha).as_deref(),
        Some("idle_with_work"),
        "{ps:?}"
    );

    // Stalled: unchanged across observations for the stall threshold.
    let slow = ["--idle-after", "1h", "--stall-after", "1s"];
    problems(&t, &slow);
    std::thread::sleep(Duration::from_millis(1300));
    let ps = problems(&t, &slow);
    assert_eq!(kind_of(&ps, ha).as_deref(), Some("stalled"), "{ps:?}");
    // Most urgent first.
    let kinds: Vec<&str> = ps.iter().map(|p| p["kind"].as_str().unwrap()).collect();
    let mut sorted = kinds.clone();
    let rank = |k: &str| {
        [
            "zombie",
            "ended_without_done",
            "waiting_for_input",
            "stalled",
            "idle_with_work",
        ]
        .iter()
        .position(|x| *x == k)
    };
    sorted.sort_by_key(|k| rank(k));
    assert_eq!(kinds, sorted);

    let text = t.ok(&["agents"]);
    assert!(text.contains("waiting_for_input"), "{text}");
    assert!(text.contains("ended_without_done"), "{text}");
}

/// `gt feed --plain --json` started before a sling shows the sling, the
/// session start and the done as they happen.
struct Feed {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Feed {
    fn start(t: &TestTown, args: &[&str]) -> Feed {
        let mut child = t.spawn(args);
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Feed { child, lines: rx }
    }

    /// Lines until `pred` holds for one, within `secs`.
    fn until(&self, secs: u64, what: &str, mut pred: impl FnMut(&str) -> bool) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    let hit = pred(&l);
                    seen.push(l);
                    if hit {
                        return seen;
                    }
                }
                Err(_) => panic!(
                    "feed: timed out waiting for {what}; saw:\n{}",
                    seen.join("\n")
                ),
            }
        }
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn feed_plain_follows_the_loop_live() {
    let t = TestTown::new();
    t.with_rig("r");
    let before = t.create("already there", &[]);
    let feed = Feed::start(&t, &["feed", "--plain", "--json", "-n", "1"]);
    // The backlog: the newest event.
    let first = feed.until(10, "backlog", |_| true);
    let e: Value = serde_json::from_str(&first[0]).unwrap();
    for k in ["id", "time", "kind", "actor", "rig", "bead", "summary"] {
        assert!(e.get(k).is_some(), "feed JSON lacks {k}: {e}");
    }
    let bead = t.create("follow me", &[]);
    let seen = feed.until(10, "bead.created", |l| l.contains(&bead));
    assert!(!seen.iter().any(|l| l.contains(&before)), "only new events");
    let s = t.sling("r", &bead, "standin");
    let agent = s["agent"].as_str().unwrap().to_string();
    let mut kinds = Vec::new();
    let mut ids = Vec::new();
    feed.until(60, "done", |l| {
        let e: Value = serde_json::from_str(l).unwrap();
        ids.push(e["id"].as_i64().unwrap());
        kinds.push(e["kind"].as_str().unwrap().to_string());
        e["kind"] == "done"
    });
    for k in ["sling", "session.started", "done"] {
        assert!(kinds.iter().any(|x| x == k), "feed missed {k}: {kinds:?}");
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in order, no repeats");
    // Mail shows up as it is sent.
    t.ok(&["mail", "send", &agent, "-s", "well done"]);
    let seen = feed.until(10, "mail.sent", |l| l.contains("\"mail.sent\""));
    assert!(seen.last().unwrap().contains("well done") || seen.last().unwrap().contains(&agent));
    // Events by the agent itself reach the feed too.
    let trail = t.json(&["trail", "--agent", &agent, "-n", "50"]);
    assert!(!trail.as_array().unwrap().is_empty());
}

#[test]
fn feed_plain_text_since_and_pipe_close() {
    let t = TestTown::new();
    let id = t.create("old news", &[]);
    let feed = Feed::start(&t, &["feed", "--plain", "--since", "1h"]);
    let seen = feed.until(10, "backlog since 1h", |l| l.contains("old news"));
    assert!(
        seen.iter()
            .any(|l| l.contains("town.created") || l.contains("test")),
        "{seen:?}"
    );
    t.create("fresh news", &[]);
    feed.until(10, "fresh", |l| l.contains("fresh news"));
    drop(feed);

    // Not a terminal: plain is chosen by itself.
    let feed = Feed::start(&t, &["feed", "-n", "5"]);
    let seen = feed.until(10, "plain backlog", |l| l.contains("fresh news"));
    assert!(seen.iter().all(|l| !l.starts_with('{')), "{seen:?}");
    let _ = id;
}

#[test]
fn status_of_an_empty_town_and_bad_thresholds() {
    let t = TestTown::new();
    let st = t.json(&["status"]);
    assert_eq!(st["healthy"], true, "{st}");
    assert_eq!(st["deacon"]["state"], "never_started", "{st}");
    assert_eq!(st["rigs"].as_array().unwrap().len(), 0);
    assert_eq!(st["merge_queue"], 0);
    assert_eq!(st["beads"]["total"], 0);
    t.refuses(&["status", "--stall-after", "soon"]);
    let text = t.ok(&["status"]);
    assert!(text.contains("Deacon: not started"), "{text}");
}
