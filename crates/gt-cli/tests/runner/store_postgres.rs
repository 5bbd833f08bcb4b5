//! A town whose store is PostgreSQL (issue 13 §1): `gt init --store URL`,
//! then the same loop as on SQLite through the real `gt` binary — rig,
//! beads, the stand-in agent on real tmux and git, `gt done`, the refinery
//! landing the work on main — with the database's password in no output,
//! event or file but gt.toml (which only its owner can read). Each test makes
//! its own database on the server `GT_TEST_POSTGRES` names and drops it at
//! the end, even on failure; without that variable a test prints one
//! "skipped:" line, and with `CI` set it fails.

use std::os::unix::fs::PermissionsExt;

use gt_testkit::postgres::TestDatabase;

use crate::common::{git, lines_json, TestTown};

/// The password in the towns' store URLs: the test server trusts local
/// connections, so any password is accepted, and none may show.
const PASSWORD: &str = "pw-5e1f-never-shown";

/// A database of its own for one test (dropped with it), and the town's
/// store URL on it, with [`PASSWORD`].
struct Database {
    db: TestDatabase,
    url: String,
}

impl Database {
    fn new() -> Option<Database> {
        let db = TestDatabase::create("town")?;
        let url = db.url_with_password(PASSWORD);
        Some(Database { db, url })
    }
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &std::path::Path, needle: &str) -> Vec<std::path::PathBuf> {
    crate::real_support::files_under(dir)
        .into_iter()
        .filter(|p| {
            std::fs::read(p)
                .map(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
                .unwrap_or(false)
        })
        .collect()
}

#[test]
fn a_town_on_postgres_runs_the_loop_and_lands_the_work() {
    let Some(db) = Database::new() else {
        return;
    };
    let t = TestTown::new_with(&["--store", &db.url]);
    // The URL carries a password: gt.toml is its owner's only.
    let mode = std::fs::metadata(t.root.join("gt.toml"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "gt.toml is readable by others: {mode:o}");
    assert!(
        !t.root.join(".gt/town.db").exists(),
        "a SQLite database was made"
    );
    t.with_rig("app");
    let slung = lines_json(&t.ok(&[
        "--json",
        "sling",
        "task one",
        "task two",
        "task three",
        "app",
        "--agent",
        "standin",
    ]));
    assert_eq!(slung.len(), 3);
    let beads: Vec<String> = slung
        .iter()
        .map(|s| s["bead"].as_str().unwrap().to_string())
        .collect();
    t.wait_for(60, "3 beads merging", |t| {
        beads.iter().all(|b| t.bead_status(b) == "merging")
    });
    t.ok(&["refinery", "run", "--once"]);
    for b in &beads {
        assert_eq!(t.bead_status(b), "closed", "{b} did not land");
    }
    let log = git(&t.repo("app"), &["log", "--format=%s", "main"]);
    for task in ["task one", "task two", "task three"] {
        assert!(log.contains(task), "{task} is not on main:\n{log}");
    }
    // The views read the same store.
    let status = t.json(&["status"]);
    assert_eq!(status["beads"]["closed"], 3, "{status}");
    let trail = t.ok(&["--json", "trail", "-n", "200"]);
    for kind in ["town.created", "rig.added", "sling", "done", "merge.landed"] {
        assert!(
            trail.contains(&format!("\"{kind}\"")),
            "no {kind} in the trail"
        );
    }
    let doctor = t.ok(&["doctor"]);
    assert!(
        doctor.contains("database") && doctor.contains("every table there, schema version 8"),
        "{doctor}"
    );
    // The password is in gt.toml and nowhere else: not in any output, the
    // event log, the state folder or the worktrees.
    for out in [
        &trail,
        &doctor,
        &status.to_string(),
        &t.ok(&["agents", "--json"]),
    ] {
        assert!(!out.contains(PASSWORD), "the password was printed: {out}");
    }
    let holders = files_containing(&t.root, PASSWORD);
    assert_eq!(holders, vec![t.root.join("gt.toml")], "{holders:?}");
    t.ok(&["down", "--all"]);
}

#[test]
fn gt_init_with_a_bad_store_is_refused_and_leaves_nothing() {
    let Some(db) = Database::new() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let init = |store: &str, town: &str| {
        crate::common::clean_cmd(&home)
            .args(["init", "--store", store])
            .arg(dir.path().join(town))
            .output()
            .unwrap()
    };
    let one_line_error = |out: &std::process::Output, what: &str| {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{what}: gt init succeeded");
        assert!(
            err.starts_with("error: ") && !err.contains("panicked"),
            "{what}: {err}"
        );
        assert!(
            !err.contains(PASSWORD),
            "{what}: the password was printed: {err}"
        );
        err.to_string()
    };
    // Not a PostgreSQL URL, or hostile text: refused before anything is made.
    for bad in [
        "mysql://u@h/db",
        "/tmp/x.db",
        "postgres://u@h/db\nx",
        "postgres://u@h/db; rm -rf /",
    ] {
        let out = init(bad, "bad");
        one_line_error(&out, bad);
        assert!(
            !dir.path().join("bad").exists(),
            "{bad}: a town folder was left"
        );
    }
    // A server nobody listens on: the town is not made.
    let closed = format!("postgres://gt:{PASSWORD}@127.0.0.1:9/none");
    let err = one_line_error(&init(&closed, "unreachable"), "unreachable server");
    assert!(err.contains("cannot reach"), "{err}");
    assert!(!dir.path().join("unreachable").exists());
    // A database that already holds a town is refused and kept as it is.
    let first = init(&db.url, "first");
    assert!(first.status.success(), "{first:?}");
    let err = one_line_error(&init(&db.url, "second"), "second town in one database");
    assert!(err.contains("already holds a gt town"), "{err}");
    assert!(!dir.path().join("second").exists());
    let beads = crate::common::clean_cmd(&home)
        .current_dir(dir.path().join("first"))
        .args(["--json", "bead", "list"])
        .output()
        .unwrap();
    assert!(beads.status.success(), "the first town broke: {beads:?}");
}

/// 8 `gt` processes at once, 200 writes each (create, claim, comment, close a
/// bead, 50 times) on one PostgreSQL town: every command succeeds (writers
/// take turns at the town's write lock; a conflict would be retried inside
/// gt, never shown), and nothing is lost — every bead, comment and event is
/// there.
#[test]
fn eight_processes_write_at_once_and_nothing_is_lost() {
    let Some(db) = Database::new() else {
        return;
    };
    let t = TestTown::new_with(&["--store", &db.url]);
    const WRITERS: usize = 8;
    const ROUNDS: usize = 50;
    std::thread::scope(|scope| {
        for w in 0..WRITERS {
            let t = &t;
            scope.spawn(move || {
                for r in 0..ROUNDS {
                    let id = t.create(&format!("writer {w} bead {r}"), &[]);
                    t.ok(&["bead", "update", &id, "--claim"]);
                    t.ok(&["bead", "comment", &id, &format!("note {w}/{r}")]);
                    t.ok(&["bead", "close", &id, "--reason", "done"]);
                }
            });
        }
    });
    let beads = t.json(&["bead", "list", "--status", "closed", "--limit", "10000"]);
    assert_eq!(beads.as_array().unwrap().len(), WRITERS * ROUNDS);
    let trail = t.json(&["trail", "-n", "100000"]);
    let count = |kind: &str| {
        trail
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == kind)
            .count()
    };
    for kind in [
        "bead.created",
        "bead.claimed",
        "bead.commented",
        "bead.closed",
    ] {
        assert_eq!(count(kind), WRITERS * ROUNDS, "{kind} events");
    }
}

/// A `gt` run for a town (or `gt init`) with `env` added to the clean one.
fn gt_with(home: &std::path::Path, env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let mut c = crate::common::clean_cmd(home);
    for (k, v) in env {
        c.env(k, v);
    }
    c.args(args).output().unwrap()
}

#[test]
fn a_town_whose_url_has_no_password_works_with_the_callers_pgpassword() {
    let Some(db) = Database::new() else {
        return;
    };
    let url = db.url.replace(&format!(":{PASSWORD}@"), "@");
    assert!(!url.contains(PASSWORD));
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let root = dir.path().join("town");
    let env = [("PGPASSWORD", PASSWORD)];
    let root_arg = root.to_str().unwrap();
    let init = gt_with(
        &home,
        &env,
        &["init", "--name", "test", "--store", &url, root_arg],
    );
    assert!(init.status.success(), "gt init failed: {init:?}");
    let t = crate::common::TestTown {
        root: root.canonicalize().unwrap(),
        home,
        dir,
    };
    let bead = t.ok_env(&env, &["bead", "create", "first task", "--json"]);
    let mut outs = vec![bead];
    for args in [
        &["--json", "bead", "list"][..],
        &["--json", "status"],
        &["--json", "trail", "-n", "50"],
        &["doctor"],
    ] {
        outs.push(t.ok_env(&env, args));
    }
    assert!(outs[1].contains("first task"), "{}", outs[1]);
    // The town's agents get the caller's PGPASSWORD (their gt commands
    // open the same store), with the session only.
    t.with_rig("app");
    let dump = t.dir.path().join("env.txt");
    t.set_agent(
        "dumper",
        &format!("sh -c 'env > {}; sleep 60'", dump.display()),
    );
    outs.push(t.ok_env(&env, &["sling", "show the env", "app", "--agent", "dumper"]));
    t.wait_for(20, "the agent's env", |_| {
        std::fs::read_to_string(&dump).is_ok_and(|t| t.contains("GT_BIN="))
    });
    let text = std::fs::read_to_string(&dump).unwrap();
    assert!(
        text.lines().any(|l| l == format!("PGPASSWORD={PASSWORD}")),
        "{text}"
    );
    outs.push(t.ok_env(&env, &["--json", "trail", "-n", "50"]));
    for out in &outs {
        assert!(!out.contains(PASSWORD), "the password was printed: {out}");
    }
    // Neither gt.toml nor anything else in the town holds the password.
    let holders = files_containing(&t.root, PASSWORD);
    assert!(holders.is_empty(), "{holders:?}");
    t.ok_env(&env, &["down", "--all"]);
}

/// A stand-in server on a free local port for one connection: it asks for a
/// cleartext password, refuses the login and returns the password sent
/// (the test server trusts local connections, so it never asks).
fn password_catcher() -> (u16, std::thread::JoinHandle<Option<String>>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().ok()?;
        let mut len = [0u8; 4];
        s.read_exact(&mut len).ok()?;
        let mut startup = vec![0u8; u32::from_be_bytes(len) as usize - 4];
        s.read_exact(&mut startup).ok()?;
        s.write_all(&[b'R', 0, 0, 0, 8, 0, 0, 0, 3]).ok()?;
        let mut tag = [0u8; 1];
        s.read_exact(&mut tag).ok()?;
        s.read_exact(&mut len).ok()?;
        let mut body = vec![0u8; u32::from_be_bytes(len) as usize - 4];
        s.read_exact(&mut body).ok()?;
        let fields = b"SFATAL\0C28P01\0Mpassword authentication failed\0\0";
        let mut msg = vec![b'E'];
        msg.extend_from_slice(&(fields.len() as u32 + 4).to_be_bytes());
        msg.extend_from_slice(fields);
        let _ = s.write_all(&msg);
        Some(String::from_utf8_lossy(body.strip_suffix(&[0]).unwrap_or(&body)).into_owned())
    });
    (port, handle)
}

#[test]
fn the_callers_pgpassword_or_pgpass_reaches_the_server_and_is_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let pgpass = home.join(".pgpass");
    std::fs::write(&pgpass, format!("127.0.0.1:*:town:gt:{PASSWORD}-file\n")).unwrap();
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    for (env, want) in [
        (vec![("PGPASSWORD", PASSWORD)], PASSWORD.to_string()),
        (vec![], format!("{PASSWORD}-file")),
    ] {
        let (port, catcher) = password_catcher();
        let url = format!("postgres://gt@127.0.0.1:{port}/town");
        let town = dir.path().join("town");
        let out = gt_with(
            &home,
            &env,
            &["init", "--store", &url, town.to_str().unwrap()],
        );
        assert_eq!(catcher.join().unwrap().as_deref(), Some(want.as_str()));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "gt init succeeded: {out:?}");
        assert!(
            err.starts_with("error: ") && err.lines().count() <= 2,
            "{err}"
        );
        assert!(!err.contains(PASSWORD), "the password was printed: {err}");
        assert!(!String::from_utf8_lossy(&out.stdout).contains(PASSWORD));
        assert!(!town.exists(), "a town folder was left");
    }
}

#[test]
fn sslmode_require_is_refused_by_a_server_without_tls_and_prefer_falls_back() {
    let Some(db) = Database::new() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let town = dir.path().join("town");
    let town_arg = town.to_str().unwrap();
    for mode in ["require", "verify-full"] {
        let url = format!("{}?sslmode={mode}", db.url);
        let out = gt_with(&home, &[], &["init", "--store", &url, town_arg]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{mode}: gt init succeeded");
        assert_eq!(err.lines().count(), 1, "{mode}: {err}");
        assert!(
            err.starts_with("error: cannot reach the town store")
                && err.contains("server does not support TLS"),
            "{mode}: {err}"
        );
        assert!(
            !err.contains(PASSWORD) && !err.contains("panicked"),
            "{err}"
        );
        assert!(!town.exists(), "{mode}: a town folder was left");
    }
    let url = format!("{}?sslmode=prefer", db.url);
    let out = gt_with(&home, &[], &["init", "--store", &url, town_arg]);
    assert!(out.status.success(), "sslmode=prefer: {out:?}");
    let list = gt_with(&home, &[], &["--town", town_arg, "--json", "bead", "list"]);
    assert!(list.status.success(), "{list:?}");
}

/// A store written by a newer gt is refused (exit 3) and left as it is.
#[test]
fn a_store_from_a_newer_gt_is_refused_and_untouched() {
    let Some(db) = Database::new() else {
        return;
    };
    let t = TestTown::new_with(&["--store", &db.url]);
    let mut c = postgres::Client::connect(&db.db.url(), postgres::NoTls).unwrap();
    c.batch_execute("UPDATE gt_schema SET version = 99")
        .unwrap();
    let err = t.fails(&["bead", "list"], 3);
    assert!(err.contains("99") && !err.contains(PASSWORD), "{err}");
    let v: i64 = c
        .query_one("SELECT version FROM gt_schema", &[])
        .unwrap()
        .get(0);
    assert_eq!(v, 99, "the store was changed");
}

/// A NUL character in free text (it can only come through standard input
/// or a file: arguments cannot hold one) is refused in one line with
/// nothing written, on SQLite and PostgreSQL alike (PostgreSQL cannot store
/// it as text; SQLite could, so gt refuses it on both). Gate output with
/// NUL is stored with U+FFFD instead: a hostile test script cannot stop the
/// refinery.
pub(crate) fn nul_in_free_text_is_refused(t: &TestTown) {
    t.with_rig("app");
    let id = t.create("a bead", &[]);
    let e = t.refuses_with_stdin(&["bead", "create", "x", "--stdin"], b"before\0after");
    assert!(e.contains("NUL"), "{e}");
    let e = t.refuses_with_stdin(
        &["mail", "send", "human", "-s", "hi", "--stdin"],
        b"body \0 here",
    );
    assert!(e.contains("NUL"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    for line in [
        r#"{"id":"bd-1","title":"t","description":"a\u0000b","status":"open","priority":2,"issue_type":"task"}"#,
        r#"{"id":"bd-2","title":"t","status":"open","priority":2,"issue_type":"task","comments":[{"id":1,"author":"x","text":"c\u0000d","created_at":"2025-01-01T00:00:00Z"}]}"#,
        r#"{"id":"bd-3","title":"t\u0000","status":"open","priority":2,"issue_type":"task"}"#,
    ] {
        let f = dir.path().join("issues.jsonl");
        std::fs::write(&f, format!("{line}\n")).unwrap();
        t.refuses(&["bead", "import", f.to_str().unwrap()]);
    }
    // A gate that prints NUL fails the request; the failure is kept, NUL-free.
    t.ok(&["rig", "config", "app", "merge.on_failure", "leave"]);
    t.ok(&[
        "rig",
        "config",
        "app",
        "gates.test",
        "sh -c \"printf 'bad\\000output'; exit 1\"",
    ]);
    let s = t.sling("app", &id, "standin");
    assert!(s["queued"] == false, "{s}");
    t.wait_for(60, "the bead to be done", |t| {
        t.bead_status(&id) == "merging"
    });
    let r = t.json(&["refinery", "run", "--once"]);
    let cfg = t.ok(&["rig", "config", "app"]);
    assert_eq!(t.bead_status(&id), "open", "{r}\n{cfg}");
    let mq = t.json(&["mq", "list"]);
    let text = mq.to_string();
    assert!(text.contains("bad\u{fffd}output"), "{mq}");
}

#[test]
fn nul_in_free_text_is_refused_on_postgres() {
    let Some(db) = Database::new() else {
        return;
    };
    nul_in_free_text_is_refused(&TestTown::new_with(&["--store", &db.url]));
}

#[test]
fn nul_in_free_text_is_refused_on_sqlite() {
    nul_in_free_text_is_refused(&TestTown::new());
}

/// `gt store migrate --to URL` moves a SQLite town that has run the loop
/// (beads, labels, dependencies, comments, a landed merge request, sessions,
/// mail, events) to an empty PostgreSQL database: every view reads the
/// same afterwards, new writes go on from the old ids, the SQLite file is
/// kept aside. Bad targets are refused and change nothing.
#[test]
fn a_sqlite_town_migrates_to_postgres_and_reads_the_same() {
    let Some(db) = Database::new() else {
        return;
    };
    let t = TestTown::new();
    t.with_rig("app");
    let a = t.create("first", &["--label", "x", "--label", "y", "-p", "1"]);
    let b = t.create("second", &["--deps", &a]);
    t.ok(&["bead", "comment", &b, "a comment"]);
    let task = t.create("landed task", &[]);
    t.sling("app", &task, "standin");
    t.wait_for(60, "done", |t| t.bead_status(&task) == "merging");
    t.ok(&["refinery", "run", "--once"]);
    assert_eq!(t.bead_status(&task), "closed");
    t.ok(&["mail", "send", "human", "-s", "hello", "-m", "body"]);
    let views = |t: &TestTown| {
        [
            t.json(&["bead", "list", "--all"]),
            t.json(&["show", &b]),
            t.json(&["mq", "list"]),
            t.json(&["mail", "--as", "human", "inbox"]),
            t.json(&["host", "list"]),
            t.json(&["costs"]),
        ]
    };
    let before = views(&t);
    let trail_before = t.json(&["trail", "-n", "10000"]);

    // Refused, nothing changed: a bad URL, a database holding a town.
    t.refuses(&["store", "migrate", "--to", "mysql://x/y"]);
    t.refuses(&["store", "migrate", "--to", "postgres://a\nb/c"]);
    let other = Database::new().unwrap();
    let _town_there = TestTown::new_with(&["--store", &other.url]);
    let out = t.run(&["store", "migrate", "--to", &other.url]);
    assert!(!out.status.success());
    assert!(t.root.join(".gt/town.db").exists());
    assert_eq!(views(&t), before);

    let m = t.json(&["store", "migrate", "--to", &db.url]);
    assert!(!m.to_string().contains(PASSWORD), "{m}");
    let tables = m["tables"].as_array().unwrap();
    let rows = |name: &str| {
        tables
            .iter()
            .find(|x| x["table"] == name)
            .unwrap_or_else(|| panic!("{m}"))["rows"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(rows("beads"), 3);
    assert_eq!(rows("merge_requests"), 1);
    assert!(rows("events") as usize >= trail_before.as_array().unwrap().len());
    assert!(!t.root.join(".gt/town.db").exists());
    assert!(
        t.root.join(".gt/town.db.migrated").exists(),
        "the SQLite file is kept"
    );
    let toml = std::fs::read_to_string(t.root.join("gt.toml")).unwrap();
    assert!(toml.contains("[store]"), "{toml}");
    let mode = std::fs::metadata(t.root.join("gt.toml"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "gt.toml holds a password: owner only");

    // The same town, read from PostgreSQL.
    assert_eq!(views(&t), before);
    let trail_after = t.json(&["trail", "-n", "10000"]);
    let after = trail_after.as_array().unwrap();
    assert_eq!(after.last().unwrap()["kind"], "store.migrated");
    assert_eq!(
        &after[..after.len() - 1],
        trail_before.as_array().unwrap().as_slice()
    );
    // Writes go on from the old ids.
    let c = t.create("after the move", &[]);
    assert!(!before[0].to_string().contains(&c));
    t.ok(&["bead", "comment", &c, "another comment"]);
    let last = t.json(&["trail", "-n", "1"]);
    assert!(last[0]["id"].as_i64().unwrap() > after.last().unwrap()["id"].as_i64().unwrap());
    // Once is enough.
    t.refuses(&["store", "migrate", "--to", &db.url]);
    // Its settings moved with it: a host that joins has the town's agents.
    let b = TestTown::join(&db.url, "b", &[]);
    let agents = b.json(&["config", "agent", "list"]).to_string();
    assert!(agents.contains("standin-hang"), "{agents}");
}
