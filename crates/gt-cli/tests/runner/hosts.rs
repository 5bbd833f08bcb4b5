//! A town of several hosts on one PostgreSQL store (issue 13 §2, §3): `gt
//! join`, `gt host list|set-capacity`, work slung for another host and run
//! there by that host's daemon, landed by the one refinery of the rig (the
//! host holding its lease) from the rig's upstream, and a host whose daemon
//! stops reporting declared dead by another host, its work queued again and
//! its later writes fenced. Every "host" is a town folder of its own (own
//! HOME, tmux socket and daemon) on this machine. Without `GT_TEST_POSTGRES`
//! each test prints one "skipped:" line (and fails under `CI`).

use gt_testkit::postgres::TestDatabase;

use crate::common::{bare_clone, clean_cmd, git, source_repo, TestTown};

/// Host `a` (the first, from `gt init --store`) with `init_args`, on a
/// database of its own (dropped with it).
fn first_host(init_args: &[&str]) -> Option<(TestDatabase, String, TestTown)> {
    let db = TestDatabase::create("hosts")?;
    let url = db.url();
    let mut args = vec!["--store", url.as_str(), "--host", "a"];
    args.extend_from_slice(init_args);
    let a = TestTown::new_with(&args);
    Some((db, url, a))
}

fn names(list: &serde_json::Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap().to_string())
        .collect()
}

fn host<'a>(list: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == name)
        .unwrap_or_else(|| panic!("no host {name} in {list}"))
}

/// Rig `app` on host `a` from a bare upstream every host reaches (the
/// refinery pushes main there), with the stand-in agents; the upstream.
fn rig_with_upstream(a: &TestTown) -> std::path::PathBuf {
    let src = source_repo(a.dir.path(), "src-app");
    let upstream = bare_clone(&src, &a.dir.path().join("upstream.git"));
    a.ok(&["rig", "add", "app", upstream.to_str().unwrap()]);
    a.ok(&["rig", "config", "app", "push", "true"]);
    a.with_standins();
    upstream
}

/// Host `b` joined with `args`, setting a 1 s patrol for the town (the
/// stand-in agents it runs are the town's, defined on `a`).
fn second_host(url: &str, args: &[&str]) -> TestTown {
    let b = TestTown::join(url, "b", args);
    b.ok(&["config", "set", "deacon.interval", "1s"]);
    b
}

/// A bead `title` slung from host `a` to a hanging stand-in on host `b`,
/// whose daemon is brought up; returns once the agent runs there.
fn hanging_on_b(a: &TestTown, b: &TestTown, title: &str) -> String {
    let id = a.create(title, &[]);
    a.ok(&[
        "sling",
        &id,
        "app",
        "--agent",
        "standin-hang",
        "--host",
        "b",
    ]);
    b.ok(&["up"]);
    b.wait_for(60, "the agent to run on b", |t| {
        t.session_is(&id, "running")
    });
    id
}

/// The one polecat worktree of rig `app` on host `t`.
fn only_worktree(t: &TestTown) -> std::path::PathBuf {
    std::fs::read_dir(t.root.join("app/polecats"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
}

#[test]
fn hosts_join_a_town_and_hostile_names_or_capacities_are_refused() {
    let Some((_db, url, a)) = first_host(&["--capacity", "1"]) else {
        return;
    };
    let b = TestTown::join(&url, "b", &["--capacity", "2"]);
    // gt.toml of the joined host names the store and the host, and the
    // town is the same one (its name and prefix come from the store).
    let toml = std::fs::read_to_string(b.root.join("gt.toml")).unwrap();
    assert!(toml.contains("name = \"b\""), "{toml}");
    assert!(toml.contains(&url), "{toml}");
    for (t, here) in [(&a, "a"), (&b, "b")] {
        let list = t.json(&["host", "list"]);
        assert_eq!(names(&list), ["a", "b"]);
        for h in ["a", "b"] {
            assert_eq!(host(&list, h)["this"], h == here, "{list}");
            assert_eq!(host(&list, h)["state"], "down", "{list}");
            assert_eq!(host(&list, h)["agents"], 0);
        }
        assert_eq!(host(&list, "a")["capacity"], 1);
        assert_eq!(host(&list, "b")["capacity"], 2);
    }
    let human = b.ok(&["host", "list"]);
    assert!(
        human
            .lines()
            .any(|l| l.starts_with("* b") && l.contains("down")),
        "{human}"
    );
    // A bead made on one host is seen by the other: one town.
    let id = a.create("shared work", &[]);
    assert_eq!(b.bead_status(&id), "open");

    // Bad host names and capacities: one line, exit 1, nothing made.
    let parent = tempfile::tempdir().unwrap();
    for (name, cap) in [
        ("../evil", "1"),
        ("A B", "1"),
        ("x;touch pwned", "1"),
        ("", "1"),
        (&"h".repeat(64) as &str, "1"),
        ("-rf", "1"),
        ("a", "1"),
        ("c", "0"),
        ("c", "-1"),
        ("c", "lots"),
        ("c", "99999999999"),
    ] {
        let dir = parent.path().join("new-host");
        let before = a.fingerprint();
        let out = clean_cmd(&a.home)
            .args(["join", &url])
            .arg(&dir)
            .arg(format!("--host={name}"))
            .arg(format!("--capacity={cap}"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name:?} {cap:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{name:?}: {err}");
        assert!(err.starts_with("error: "), "{err}");
        assert!(!dir.exists(), "{name:?}: the folder was made");
        assert_eq!(before, a.fingerprint(), "{name:?}: the town changed");
        assert!(!parent.path().join("pwned").exists());
    }
    // A database that holds no town is refused, and nothing is made there.
    let empty = TestDatabase::create("empty").unwrap();
    let out = clean_cmd(&a.home)
        .args(["join", &empty.url()])
        .arg(parent.path().join("nowhere"))
        .args(["--host", "c"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds no gt town"));
    assert!(!parent.path().join("nowhere").exists());

    for cap in ["0", "lots", "", "1e3", "99999999999"] {
        a.refuses(&["host", "set-capacity", "b", cap]);
    }
    a.refuses(&["host", "set-capacity", "--", "b", "-3"]);
    a.refuses(&["host", "set-capacity", "nope", "3"]);
    a.refuses(&["host", "set-capacity", "B;x", "3"]);
    a.ok(&["host", "set-capacity", "b", "unlimited"]);
    let list = b.json(&["host", "list"]);
    assert!(host(&list, "b")["capacity"].is_null(), "{list}");
    let kinds = a.kinds(&["--kind", "host"]);
    assert_eq!(kinds, ["host.joined", "host.joined", "host.capacity"]);

    // A sling for a host that is not in the town, or a bad name, is refused.
    a.with_rig("app");
    a.refuses(&["sling", &id, "app", "--agent", "standin", "--host", "zz"]);
    a.refuses(&["sling", &id, "app", "--agent", "standin", "--host", "../b"]);
}

/// The rig's upstream is a bare repository every host can reach; work
/// slung from host a for host b runs on b (its daemon clones the rig
/// first), `gt done` there pushes the branch to the upstream, and the
/// refinery — on a, which holds the rig's lease — fetches it, lands it and
/// pushes the target. b's refinery leaves the rig to a.
#[test]
fn work_slung_for_another_host_runs_there_and_lands_through_the_upstream() {
    let Some((_db, url, a)) = first_host(&[]) else {
        return;
    };
    let upstream = rig_with_upstream(&a);
    let b = second_host(&url, &[]);
    // a's refinery takes the rig's lease (nothing queued yet).
    let r = a.json(&["refinery", "run", "--once", "--rig", "app"]);
    assert!(r["rigs"][0].get("runs_on").is_none(), "{r}");

    let id = a.create("task from host b", &[]);
    let out = a.ok(&[
        "--json", "sling", &id, "app", "--agent", "standin", "--host", "b",
    ]);
    let slung: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(slung["queued"], true, "{slung}");
    assert_eq!(slung["host"], "b", "{slung}");
    assert!(
        !b.root.join("app").exists(),
        "b has no clone before its daemon runs"
    );
    b.ok(&["up"]);
    b.wait_for(90, "the bead to be done on host b", |t| {
        t.bead_status(&id) == "merging"
    });
    assert!(b
        .root
        .join("app")
        .join(gt_lib::workspace::REPO_DIR)
        .is_dir());
    assert!(!a
        .root
        .join("app/polecats")
        .read_dir()
        .unwrap()
        .any(|_| true));
    let branches = git(&upstream, &["branch", "--list", "polecat/*"]);
    assert!(!branches.trim().is_empty(), "no polecat branch upstream");
    let sessions = a.json(&["trail", "--kind", "sling"]);
    assert!(sessions.to_string().contains(&id), "{sessions}");
    // b's refinery leaves the rig to a, which holds its lease.
    let rb = b.json(&["refinery", "run", "--once", "--rig", "app"]);
    assert_eq!(rb["rigs"][0]["runs_on"], "a", "{rb}");
    assert_eq!(b.bead_status(&id), "merging");
    let human = b.ok(&["refinery", "run", "--once", "--rig", "app"]);
    assert!(human.contains("runs on host a"), "{human}");
    // a lands it from the upstream and pushes main there.
    let ra = a.json(&["refinery", "run", "--once", "--rig", "app"]);
    assert_eq!(ra["rigs"][0]["merged"].as_array().unwrap().len(), 1, "{ra}");
    assert_eq!(a.bead_status(&id), "closed");
    let log = git(&upstream, &["log", "--format=%s", "main"]);
    assert!(
        log.contains("task from host b"),
        "not on main upstream:\n{log}"
    );
    let list = a.json(&["host", "list"]);
    assert_eq!(host(&list, "b")["state"], "up", "{list}");
    b.ok(&["down"]);
    let list = a.json(&["host", "list"]);
    assert_eq!(host(&list, "b")["state"], "down", "{list}");
    let kinds = a.kinds(&["--kind", "lease"]);
    assert_eq!(kinds, ["lease.taken"], "one refinery lease, taken once");
}

/// Host b's agent has uncommitted work, which b's daemon checkpoints to the
/// upstream. b's daemon stops reporting (SIGSTOP): host a's patrol declares
/// it dead after `host.dead_after` and queues its agent's bead again, which
/// a starts from b's checkpoint. When b's
/// daemon runs again its heartbeat is fenced (stale epoch): it ends the
/// session it no longer owns (work saved) and comes up at a new epoch.
#[test]
fn a_host_that_stops_reporting_is_declared_dead_and_fenced_when_it_returns() {
    let Some((_db, url, a)) = first_host(&[]) else {
        return;
    };
    let upstream = rig_with_upstream(&a);
    a.ok(&["config", "set", "host.dead_after", "3s"]);
    let b = second_host(&url, &[]);
    let id = hanging_on_b(&a, &b, "long task");
    // The agent's uncommitted work on b is checkpointed to the upstream.
    let wt_b = only_worktree(&b);
    std::fs::write(wt_b.join("notes.txt"), "half-done work on b\n").unwrap();
    let checkpoint = format!("refs/gt/checkpoints/{id}");
    b.wait_for(30, "a checkpoint of b's agent upstream", |_| {
        git(
            &upstream,
            &["for-each-ref", "--format=%(objectname)", &checkpoint],
        )
        .trim()
        .len()
            == 40
    });
    // Host a sees b's agent as remote, on b (no tmux session of its own).
    let agents = a.json(&["agents"]);
    let row = agents
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["bead"] == id.as_str())
        .unwrap_or_else(|| panic!("{agents}"));
    assert_eq!(
        (row["live"].as_str(), row["host"].as_str()),
        (Some("remote"), Some("b")),
        "{row}"
    );
    assert!(a.ok(&["agents"]).contains("on b"));
    // A nudge from a to b's agent is queued in the store for b's deacon.
    let agent = format!("app/{}", wt_b.file_name().unwrap().to_string_lossy());
    let n = a.json(&["nudge", &agent, "hello from host a"]);
    assert_eq!(
        (n["status"].as_str(), n["host"].as_str()),
        (Some("queued"), Some("b")),
        "{n}"
    );
    assert!(a.ok(&["nudge", &agent, "again"]).contains("runs on host b"));
    // `gt peek` on a shows the screen b's daemon stored of its agent.
    a.wait_for(30, "b's stored screen of its agent", |t| {
        String::from_utf8_lossy(&t.run(&["peek", &agent]).stdout)
            .contains("behavior hang: not going to do anything")
    });
    let peek = a.ok(&["peek", &agent]);
    assert!(
        peek.lines()
            .next()
            .is_some_and(|l| l.contains("runs on host b")),
        "{peek}"
    );
    let v = a.json(&["peek", &agent, "-n", "5"]);
    assert_eq!(v["remote"]["host"], "b", "{v}");
    assert!(v["remote"]["captured_at"].is_string(), "{v}");
    assert!(v["ended"].is_null(), "{v}");
    assert!(v["screen"].as_str().unwrap().lines().count() <= 5, "{v}");
    // b, which runs it, peeks its live pane.
    assert!(b.json(&["peek", &agent])["remote"].is_null());
    // `gt status` on a shows the whole town: b's agent on b, in the state
    // b stored (never a zombie of a's), and the hosts (a runs no daemon).
    let st = a.json(&["status"]);
    let row = st["rigs"][0]["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["bead"] == id.as_str())
        .unwrap_or_else(|| panic!("{st}"));
    assert_eq!(
        (
            row["live"].as_str(),
            row["host"].as_str(),
            row["state"].as_str()
        ),
        (Some("remote"), Some("b"), Some("working")),
        "{row}"
    );
    assert!(row["problem"].is_null(), "{row}");
    assert!(
        !st["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["agent"] == agent.as_str()),
        "{st}"
    );
    let hosts: Vec<(&str, &str, bool)> = st["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["name"].as_str().unwrap(),
                h["state"].as_str().unwrap(),
                h["this"] == true,
            )
        })
        .collect();
    assert_eq!(hosts, [("a", "down", true), ("b", "up", false)], "{st}");
    // The deacon line is this host's daemon: none on a (b's is b's).
    assert_eq!(st["deacon"]["state"], "never_started", "{st}");
    assert_eq!(b.json(&["status"])["deacon"]["state"], "up");
    let human = a.ok(&["status"]);
    assert!(human.contains("on host b"), "{human}");
    assert!(
        human.contains("Hosts: a down (0 agents, this host); b up (1 agents)"),
        "{human}"
    );
    // Every event names the host whose gt made it: the bead created on a,
    // the sling and the session of b's daemon (which took it off the queue).
    let trail = a.json(&["trail", "-n", "200"]);
    let host_of = |kind: &str| {
        trail
            .as_array()
            .unwrap()
            .iter()
            .rfind(|e| e["kind"] == kind && e["bead"] == id.as_str())
            .map(|e| e["host"].clone())
            .unwrap_or_else(|| panic!("no {kind} in {trail}"))
    };
    assert_eq!(host_of("bead.created"), "a");
    assert_eq!(host_of("sling"), "b");
    assert_eq!(host_of("session.started"), "b");
    // The human lines (`gt trail`, `gt feed`) have a host column.
    let lines = b.ok(&["trail", "--bead", &id]);
    for (host, what) in [("a", "created"), ("b", "started on")] {
        assert!(
            lines
                .lines()
                .any(|l| l.split_whitespace().nth(2) == Some(host) && l.contains(what)),
            "{lines}"
        );
    }
    let files = git(&upstream, &["ls-tree", "-r", "--name-only", &checkpoint]);
    assert!(files.contains("notes.txt"), "{files}");
    assert!(
        git(&wt_b, &["status", "--porcelain"]).contains("notes.txt"),
        "the worktree on b is untouched (still uncommitted there)"
    );
    let pid = b.json(&["deacon", "status"])["pid"].as_u64().unwrap();
    let pid = pid.to_string();
    let kill = |sig: &str| {
        let st = std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap();
        assert!(st.success(), "kill {sig} {pid}");
    };
    kill("-STOP");
    // SIGCONT even if an assertion fails, so the daemon can be stopped.
    struct Resume<'a>(&'a dyn Fn(&str));
    impl Drop for Resume<'_> {
        fn drop(&mut self) {
            (self.0)("-CONT");
        }
    }
    let resume = Resume(&kill);
    std::thread::sleep(std::time::Duration::from_secs(4));
    let list = a.json(&["host", "list"]);
    assert_eq!(
        host(&list, "b")["state"],
        "dead",
        "shown dead before it is declared: {list}"
    );
    let patrol = a.json(&["deacon", "patrol", "--once"]);
    let text = patrol.to_string();
    assert!(text.contains("host b declared dead"), "{patrol}");
    assert!(text.contains("queued again"), "{patrol}");
    let trail = a.json(&["trail", "--kind", "host.dead"]);
    assert_eq!(trail.as_array().unwrap().len(), 1, "{trail}");
    // a's own patrol took the queued bead at once: it runs on a now.
    a.wait_for(30, "the bead to run again on host a", |t| {
        t.session_is(&id, "running")
    });
    let agents = a.json(&["agents"]);
    assert!(agents.to_string().contains(&id), "{agents}");
    // ... from b's checkpoint: the work b's agent had not committed is there.
    let wt_a = only_worktree(&a);
    assert_eq!(
        std::fs::read_to_string(wt_a.join("notes.txt")).unwrap(),
        "half-done work on b\n"
    );
    let log = git(&wt_a, &["log", "--format=%s", "-n", "1"]);
    assert!(log.contains("gt checkpoint of"), "{log}");
    let bead = a.json(&["bead", "show", &id]);
    assert!(
        bead["comments"]
            .to_string()
            .contains("resumed from checkpoint"),
        "{bead}"
    );
    // b comes back: fenced, it ends the session it lost and comes up anew.
    drop(resume);
    b.wait_for(30, "b's daemon to come up at a new epoch", |t| {
        let list = t.json(&["host", "list"]);
        host(&list, "b")["epoch"] == 2 && host(&list, "b")["state"] == "up"
    });
    let log = std::fs::read_to_string(b.root.join(".gt/logs/deacon.log")).unwrap_or_default();
    assert!(log.contains("fenced"), "{log}");
    assert!(log.contains("app/"), "{log}");
    let ups = a.json(&["trail", "--kind", "host.up"]);
    assert_eq!(ups.as_array().unwrap().len(), 2, "{ups}");
}

/// Two hosts of capacity 3 each, both daemons up: six beads slung at once
/// from host a spread over both hosts (3 start on a, 3 are placed on b) and
/// all land on the upstream's main, each once, by the one refinery.
#[test]
fn six_slings_spread_over_two_hosts_and_all_land_upstream() {
    let Some((_db, url, a)) = first_host(&["--capacity", "3"]) else {
        return;
    };
    let upstream = rig_with_upstream(&a);
    let b = second_host(&url, &["--capacity", "3"]);
    let gt = crate::common::gt_bin();
    let slow = format!(
        "{} agent-standin --behavior slow --delay-ms 4000",
        gt.display()
    );
    for t in [&a, &b] {
        t.set_agent("slow", &slow);
        t.ok(&["config", "set", "deacon.interval", "1s"]);
    }
    b.ok(&["up"]);
    a.ok(&["up"]);
    let ids: Vec<String> = (1..=6)
        .map(|i| a.create(&format!("spread task {i}"), &[]))
        .collect();
    let mut args = vec!["--json", "sling"];
    args.extend(ids.iter().map(String::as_str));
    args.extend(["app", "--agent", "slow"]);
    let out = a.ok(&args);
    let slung = crate::common::lines_json(&out);
    assert_eq!(slung.len(), 6, "{out}");
    let on = |h: &str| slung.iter().filter(|s| s["host"] == h).count();
    assert_eq!((on("a"), on("b")), (3, 3), "{out}");
    a.wait_for(180, "all six beads to land", |t| {
        ids.iter().all(|id| t.bead_status(id) == "closed")
    });
    let log = git(&upstream, &["log", "--format=%s", "main"]);
    for i in 1..=6 {
        let n = log.matches(&format!("spread task {i}")).count();
        assert_eq!(n, 1, "spread task {i} on main {n} times:\n{log}");
    }
    let mq = a.json(&["mq", "list"]);
    let merged = mq
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["status"] == "merged")
        .count();
    assert_eq!(merged, 6, "{mq}");
    let agents = a.json(&["agents"]);
    let ran_on = |h: &str| {
        agents
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["host"] == h)
            .count()
    };
    assert_eq!((ran_on("a"), ran_on("b")), (3, 3), "{agents}");
}

/// Host b dies outright — kill -9 of its daemon and of its tmux server, with
/// its agent's work committed and uncommitted (checkpointed): host a
/// declares it dead, runs the bead again from the checkpoint, and it lands
/// once on the upstream's main with b's committed and uncommitted work.
#[test]
fn a_host_killed_mid_work_loses_nothing_its_bead_lands_from_the_other() {
    let Some((_db, url, a)) = first_host(&[]) else {
        return;
    };
    let upstream = rig_with_upstream(&a);
    a.ok(&["config", "set", "host.dead_after", "3s"]);
    let b = second_host(&url, &[]);
    let id = hanging_on_b(&a, &b, "work that survives its host");
    let wt_b = only_worktree(&b);
    // The agent commits one file and leaves another uncommitted.
    std::fs::write(wt_b.join("committed.txt"), "committed on b\n").unwrap();
    git(&wt_b, &["add", "committed.txt"]);
    git(&wt_b, &["commit", "-q", "-m", "committed on b"]);
    std::fs::write(wt_b.join("uncommitted.txt"), "uncommitted on b\n").unwrap();
    let checkpoint = format!("refs/gt/checkpoints/{id}");
    b.wait_for(30, "a checkpoint with both files", |_| {
        let tip = git(
            &upstream,
            &["for-each-ref", "--format=%(objectname)", &checkpoint],
        );
        !tip.trim().is_empty()
            && git(&upstream, &["ls-tree", "-r", "--name-only", tip.trim()])
                .contains("uncommitted.txt")
    });
    // kill -9: the daemon and the tmux server (the agent with it).
    let pid = b.json(&["deacon", "status"])["pid"].as_u64().unwrap();
    let st = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let socket = gt_lib::tmux::socket_name_for(&b.root);
    let _ = std::process::Command::new("tmux")
        .args(["-L", &socket, "kill-server"])
        .status();
    std::thread::sleep(std::time::Duration::from_secs(4));
    // a takes over: dead, queued again, started on a from the checkpoint
    // with the finishing stand-in, landed by a's refinery.
    a.set_agent(
        "standin-hang",
        &format!(
            "{} agent-standin --behavior finish",
            crate::common::gt_bin().display()
        ),
    );
    let patrol = a.json(&["deacon", "patrol", "--once"]);
    assert!(
        patrol.to_string().contains("host b declared dead"),
        "{patrol}"
    );
    a.wait_for(60, "the bead to be done on a", |t| {
        t.bead_status(&id) == "merging"
    });
    a.ok(&["refinery", "run", "--once"]);
    assert_eq!(a.bead_status(&id), "closed");
    let files = git(&upstream, &["ls-tree", "-r", "--name-only", "main"]);
    assert!(
        files.contains("committed.txt") && files.contains("uncommitted.txt"),
        "{files}"
    );
    let log = git(&upstream, &["log", "--format=%s", "main"]);
    assert_eq!(log.matches("committed on b").count(), 1, "{log}");
    let mq = a.json(&["mq", "list"]);
    let merged = mq
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["status"] == "merged")
        .count();
    assert_eq!(merged, 1, "merged once: {mq}");
    // Landed: the polecat branch and the checkpoint gt pushed for it are
    // gone from the upstream (their commits are on main), and from a's clone.
    let refs = git(&upstream, &["for-each-ref", "--format=%(refname)"]);
    assert_eq!(refs.trim(), "refs/heads/main", "{refs}");
    let here = git(
        &a.root.join("app/.repo.git"),
        &["for-each-ref", "--format=%(refname)", "refs/gt"],
    );
    assert_eq!(here.trim(), "", "{here}");
}

/// A nudge from host a to an idle agent on host b is queued in the store;
/// its `nudge.queued` event wakes b's daemon (on PostgreSQL through
/// LISTEN/NOTIFY, not at its next patrol: b patrols hourly here), which
/// types it into the agent's pane within seconds.
#[test]
fn a_nudge_from_another_host_wakes_its_daemon_and_arrives_within_seconds() {
    let Some((_db, url, a)) = first_host(&[]) else {
        return;
    };
    rig_with_upstream(&a);
    let b = second_host(&url, &[]);
    hanging_on_b(&a, &b, "wait for a nudge");
    let agent = format!(
        "app/{}",
        only_worktree(&b).file_name().unwrap().to_string_lossy()
    );
    // Its runtime's hook says it is idle (a stand-in has none: said for it).
    b.ok_env(
        &[("GT_AGENT", &agent)],
        &["agent-report", "--state", "idle"],
    );
    assert_eq!(b.json(&["agent-state", &agent])["state"], "idle");
    // From now on b's daemon patrols only when something wakes it.
    b.ok(&["config", "set", "deacon.interval", "1h"]);
    std::thread::sleep(std::time::Duration::from_millis(600));
    let started = std::time::Instant::now();
    let n = a.json(&["nudge", &agent, "hello across hosts"]);
    assert_eq!(n["status"], "queued", "{n}");
    b.wait_for(10, "the nudge typed into b's pane", |t| {
        t.ok(&["peek", &agent]).contains("hello across hosts")
    });
    let took = started.elapsed();
    eprintln!("a nudge across hosts arrived in {took:?}");
    assert!(took < std::time::Duration::from_secs(5), "took {took:?}");
    a.wait_for(10, "nudge.delivered in the trail", |t| {
        t.kinds(&["--kind", "nudge"])
            .iter()
            .any(|k| k == "nudge.delivered")
    });
    b.ok(&["down", "--all"]);
}

#[test]
fn settings_are_the_towns_whichever_host_sets_them() {
    let Some((_db, url, a)) = first_host(&[]) else {
        return;
    };
    rig_with_upstream(&a);
    let b = second_host(&url, &[]);
    // a defined the agents, b set the patrol: both are in force on both
    // hosts, and in neither gt.toml.
    for t in [&a, &b] {
        assert_eq!(t.ok(&["config", "get", "deacon.interval"]).trim(), "1s");
        let agents = t.json(&["config", "agent", "list"]).to_string();
        assert!(agents.contains("standin-hang"), "{agents}");
    }
    for t in [&a, &b] {
        let toml = std::fs::read_to_string(t.root.join("gt.toml")).unwrap();
        assert!(
            !toml.contains("standin") && !toml.contains("interval"),
            "{toml}"
        );
    }
    // Refused values change nothing anywhere.
    b.refuses(&["config", "set", "deacon.interval", "soon"]);
    b.refuses(&["config", "agent", "set", "bad name", "x"]);
    assert_eq!(a.ok(&["config", "get", "deacon.interval"]).trim(), "1s");
    // The change is an event of the host that made it.
    let set = a.json(&["trail", "--kind", "config.set", "-n", "50"]);
    assert!(
        set.as_array()
            .unwrap()
            .iter()
            .any(|e| e["host"] == "b" && e["summary"] == "config deacon.interval = 1s"),
        "{set}"
    );
    // A running daemon takes a change made on another host: an agent that
    // a defines once b's daemon is up runs on b.
    b.ok(&["up"]);
    let gt = crate::common::gt_bin();
    a.set_agent(
        "late",
        &format!("{} agent-standin --behavior finish", gt.display()),
    );
    let id = a.create("work for a late agent", &[]);
    a.ok(&["sling", &id, "app", "--agent", "late", "--host", "b"]);
    b.wait_for(60, "b to finish it with the late agent", |t| {
        matches!(t.bead_status(&id).as_str(), "merging" | "closed")
    });
    let agents = b.json(&["agents"]);
    assert!(
        agents
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["bead"] == id.as_str() && r["runtime"] == "late" && r["host"] == "b"),
        "{agents}"
    );
    b.ok(&["down", "--all"]);
}
