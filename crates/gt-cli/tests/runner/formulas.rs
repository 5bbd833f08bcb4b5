//! Formulas and molecules (issue 15 §1): a formula run makes a molecule in
//! one transaction, the deacon starts each step once what it needs has
//! landed, and bad formulas are refused with file and line, writing nothing.

use serde_json::Value;

use crate::common::*;

fn write_formula(t: &TestTown, name: &str, text: &str) {
    let dir = t.root.join("formulas");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.toml")), text).unwrap();
}

const CHAIN: &str = r#"
description = "three steps in a row"
[vars.topic]
required = true
[[step]]
id = "design"
title = "Design {{topic}}"
[[step]]
id = "build"
title = "Build {{topic}}"
needs = ["design"]
[[step]]
id = "review"
title = "Review {{topic}}"
needs = ["build"]
"#;

const DIAMOND: &str = r#"
[[step]]
id = "a"
title = "A"
[[step]]
id = "b"
title = "B"
needs = ["a"]
[[step]]
id = "c"
title = "C"
needs = ["a"]
[[step]]
id = "d"
title = "D"
needs = ["b", "c"]
"#;

/// Patrols until every bead of `beads` is closed.
fn patrol_until_landed(t: &TestTown, beads: &[String]) {
    t.wait_for(180, "every step landed", |t| {
        t.patrol();
        beads.iter().all(|b| t.bead_status(b) == "closed")
    });
}

/// The id of the first event of `kind` about `bead`.
fn first_event(trail: &[Value], kind: &str, bead: &str) -> i64 {
    trail
        .iter()
        .find(|e| e["kind"] == kind && e["bead"] == bead)
        .unwrap_or_else(|| panic!("no {kind} for {bead}"))["id"]
        .as_i64()
        .unwrap()
}

fn step_beads(run: &Value) -> Vec<(String, String)> {
    run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_string(),
                s["bead"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_chain_lands_step_after_step() {
    let t = TestTown::new();
    t.with_rig("r");
    write_formula(&t, "chain", CHAIN);
    let run = t.json(&[
        "formula",
        "run",
        "chain",
        "--var",
        "topic=the parser",
        "--agent",
        "standin",
    ]);
    let steps = step_beads(&run);
    assert_eq!(
        steps.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(),
        ["design", "build", "review"]
    );
    let molecule = run["molecule"].as_str().unwrap().to_string();
    // Made in one go: the epic, the queued steps (only the first ready), the convoy.
    let st = t.json(&["mol", "status", &molecule]);
    assert_eq!(st["progress"], "0/3", "{st}");
    let blocked: Vec<bool> = st["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["blocked"].as_bool().unwrap())
        .collect();
    assert_eq!(blocked.iter().filter(|b| **b).count(), 2, "{st}");
    assert_eq!(t.json(&["show", &steps[1].1])["title"], "Build the parser");
    let beads: Vec<String> = steps.iter().map(|(_, b)| b.clone()).collect();
    patrol_until_landed(&t, &beads);
    // Each step started only after the one it needs was on main.
    let trail: Vec<Value> = t.json(&["trail", "-n", "1000"]).as_array().unwrap().clone();
    for w in beads.windows(2) {
        let landed = first_event(&trail, "merge.landed", &w[0]);
        let started = first_event(&trail, "sling", &w[1]);
        assert!(
            landed < started,
            "{} started (event {started}) before {} landed (event {landed})",
            w[1],
            w[0]
        );
    }
    let st = t.json(&["mol", "status", &molecule]);
    assert_eq!(st["progress"], "3/3", "{st}");
    // Main has the three steps' commits, oldest first.
    let log = git(&t.repo("r"), &["log", "--format=%s", "main"]);
    let pos = |b: &str| {
        log.lines()
            .position(|l| l.contains(b))
            .unwrap_or_else(|| panic!("{b} not on main: {log}"))
    };
    assert!(
        pos(&beads[2]) < pos(&beads[1]) && pos(&beads[1]) < pos(&beads[0]),
        "{log}"
    );
}

#[test]
fn a_diamond_runs_its_middle_steps_side_by_side() {
    let t = TestTown::new();
    t.with_rig("r");
    write_formula(&t, "diamond", DIAMOND);
    let run = t.json(&["formula", "run", "diamond", "--agent", "standin"]);
    let steps = step_beads(&run);
    let bead = |id: &str| steps.iter().find(|(s, _)| s == id).unwrap().1.clone();
    let beads: Vec<String> = steps.iter().map(|(_, b)| b.clone()).collect();
    patrol_until_landed(&t, &beads);
    let trail: Vec<Value> = t.json(&["trail", "-n", "1000"]).as_array().unwrap().clone();
    let (a, b, c, d) = (bead("a"), bead("b"), bead("c"), bead("d"));
    // b and c both started after a landed, and both before either landed.
    let a_landed = first_event(&trail, "merge.landed", &a);
    let (b_start, c_start) = (
        first_event(&trail, "sling", &b),
        first_event(&trail, "sling", &c),
    );
    let first_landing =
        first_event(&trail, "merge.landed", &b).min(first_event(&trail, "merge.landed", &c));
    assert!(a_landed < b_start && a_landed < c_start);
    assert!(
        b_start < first_landing && c_start < first_landing,
        "b and c did not run side by side"
    );
    // d after both.
    let d_start = first_event(&trail, "sling", &d);
    assert!(
        d_start > first_event(&trail, "merge.landed", &b)
            && d_start > first_event(&trail, "merge.landed", &c)
    );
}

#[test]
fn bad_formulas_are_refused_with_file_and_line_and_write_nothing() {
    let t = TestTown::new();
    t.with_rig("r");
    write_formula(
        &t,
        "dup",
        "[[step]]\nid = \"a\"\ntitle = \"A\"\n[[step]]\nid = \"a\"\ntitle = \"B\"\n",
    );
    write_formula(
        &t,
        "loop",
        "[[step]]\nid = \"a\"\ntitle = \"A\"\nneeds = [\"b\"]\n[[step]]\nid = \"b\"\ntitle = \"B\"\nneeds = [\"a\"]\n",
    );
    write_formula(
        &t,
        "unknown",
        "[[step]]\nid = \"a\"\ntitle = \"A\"\nneeds = [\"zz\"]\n",
    );
    write_formula(
        &t,
        "undeclared",
        "[[step]]\nid = \"a\"\ntitle = \"Do {{what}}\"\n",
    );
    let before = t.fingerprint();
    let e = t.fails(&["formula", "validate", "dup"], 1);
    assert!(e.contains("dup.toml:5: duplicate step id 'a'"), "{e}");
    let e = t.fails(&["formula", "validate", "loop"], 1);
    assert!(e.contains("a → b → a"), "{e}");
    let e = t.fails(&["formula", "validate", "unknown"], 1);
    assert!(e.contains("unknown.toml:4:") && e.contains("'zz'"), "{e}");
    let e = t.fails(&["formula", "validate", "undeclared"], 1);
    assert!(e.contains("{{what}}"), "{e}");
    for name in ["dup", "loop", "unknown", "undeclared"] {
        t.fails(&["formula", "run", name], 1);
    }
    // Variables: missing, unknown, hostile; names that are paths.
    write_formula(&t, "chain", CHAIN);
    let e = t.fails(&["formula", "run", "chain"], 1);
    assert!(e.contains("--var topic"), "{e}");
    let e = t.fails(
        &[
            "formula",
            "run",
            "chain",
            "--var",
            "topic=x",
            "--var",
            "colour=red",
        ],
        1,
    );
    assert!(e.contains("no variable 'colour'"), "{e}");
    t.fails(&["formula", "run", "chain", "--var", "topic=a\nb"], 1);
    t.fails(&["formula", "run", "chain", "--var", "topic"], 1);
    t.fails(
        &[
            "formula",
            "run",
            "chain",
            "--var",
            "topic=x",
            "--agent",
            "nosuchagent",
        ],
        1,
    );
    t.fails(
        &[
            "formula",
            "run",
            "chain",
            "--var",
            "topic=x",
            "--rig",
            "nosuchrig",
        ],
        1,
    );
    for hostile in ["../../etc/passwd", "a/b", "", "-x"] {
        let out = t.run(&["formula", "show", hostile]);
        assert!(!out.status.success(), "{hostile}");
    }
    t.fails(&["mol", "status", "hq-nope"], 1);
    assert_eq!(t.fingerprint(), before, "a refused formula wrote something");
    // The built-ins are there and valid; a town file overrides one.
    let list = t.json(&["formula", "list"]);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    for b in ["bugfix", "feature", "review", "chain", "dup"] {
        assert!(names.contains(&b), "{names:?}");
    }
    for b in ["bugfix", "feature", "review"] {
        t.ok(&["formula", "validate", b]);
    }
    write_formula(&t, "review", "[[step]]\nid = \"only\"\ntitle = \"Ours\"\n");
    assert_eq!(
        t.json(&["formula", "show", "review"])["steps"][0]["id"],
        "only"
    );
}

#[test]
fn a_steps_briefing_names_its_molecule_and_what_landed_before_it() {
    let t = TestTown::new();
    t.with_rig("r");
    write_formula(
        &t,
        "two",
        "[vars.topic]\ndefault = \"it\"\n[[step]]\nid = \"first\"\ntitle = \"First {{topic}}\"\n[[step]]\nid = \"second\"\ntitle = \"Second {{topic}}\"\nagent = \"standin-hang\"\nneeds = [\"first\"]\n",
    );
    let run = t.json(&["formula", "run", "two", "--agent", "standin"]);
    let steps = step_beads(&run);
    let (first, second) = (steps[0].1.clone(), steps[1].1.clone());
    t.wait_for(120, "the second step running", |t| {
        t.patrol();
        t.session_is(&second, "running")
    });
    let agent = t
        .json(&["agents"])
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["bead"] == second.as_str() && a["live"] == "running")
        .unwrap()["polecat"]
        .as_str()
        .unwrap()
        .to_string();
    let out = t
        .cmd()
        .current_dir(t.worktree("r", &agent))
        .args(["prime"])
        .output()
        .unwrap();
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        md.contains(&format!(
            "### Molecule {}",
            run["molecule"].as_str().unwrap()
        )),
        "{md}"
    );
    assert!(md.contains("step `second` of formula `two`"), "{md}");
    assert!(
        md.contains(&first) && md.contains("First it") && md.contains("commit `"),
        "{md}"
    );
    // Its agent escalates: the molecule is held, and human told (once).
    let me = format!("r/{agent}");
    t.ok_env(
        &[("GT_AGENT", &me)],
        &["escalate", "stuck on the second step"],
    );
    t.ok_env(&[("GT_AGENT", &me)], &["escalate", "still stuck"]);
    let inbox = t.json(&["mail", "inbox", "--as", "human", "--all"]);
    let held: Vec<&Value> = inbox
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["subject"].as_str().unwrap().contains("held: step second"))
        .collect();
    assert_eq!(held.len(), 1, "{inbox}");
    assert!(
        held[0]["subject"].as_str().unwrap().contains("escalated"),
        "{}",
        held[0]
    );
}

#[test]
fn a_failing_step_holds_what_follows_tells_human_once_and_cancel_releases_the_rest() {
    let t = TestTown::new();
    t.with_rig("r");
    t.with_failing_standin();
    t.ok(&["rig", "config", "r", "gates.nofail", "test ! -e FAIL.txt"]);
    write_formula(
        &t,
        "three",
        "[[step]]\nid = \"one\"\ntitle = \"One\"\n[[step]]\nid = \"two\"\ntitle = \"Two\"\nagent = \"standin-bad\"\nneeds = [\"one\"]\n[[step]]\nid = \"three\"\ntitle = \"Three\"\nneeds = [\"two\"]\n",
    );
    // Through `gt sling --formula` this time.
    let run: Value = serde_json::from_str(&t.ok(&[
        "--json",
        "sling",
        "--formula",
        "three",
        "r",
        "--agent",
        "standin",
    ]))
    .unwrap();
    let steps = step_beads(&run);
    let (one, two, three) = (steps[0].1.clone(), steps[1].1.clone(), steps[2].1.clone());
    let molecule = run["molecule"].as_str().unwrap().to_string();
    t.wait_for(120, "step two failed its gate", |t| {
        t.patrol();
        t.json(&["mq", "list", "--rig", "r"])
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["bead"] == two.as_str() && m["status"] == "failed")
    });
    for _ in 0..3 {
        t.patrol();
    }
    assert_eq!(t.bead_status(&one), "closed");
    assert_eq!(
        t.bead_status(&three),
        "queued",
        "the step after the failure waits"
    );
    assert!(!t.session_is(&three, "running"));
    let held: Vec<Value> = t
        .json(&["mail", "inbox", "--as", "human", "--all"])
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| {
            m["subject"]
                .as_str()
                .unwrap()
                .starts_with(&format!("Molecule {molecule} held"))
        })
        .cloned()
        .collect();
    assert_eq!(held.len(), 1, "human is told once: {held:?}");
    assert!(
        held[0]["body"].as_str().unwrap().contains(&three),
        "{}",
        held[0]
    );
    // Cancel: what has not started is closed; what landed stays.
    let c = t.json(&["mol", "cancel", &molecule]);
    assert!(
        c["cancelled"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b == three.as_str()),
        "{c}"
    );
    assert!(
        c["left"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b == one.as_str()),
        "{c}"
    );
    assert_eq!(t.bead_status(&three), "closed");
    t.patrol();
    assert!(
        !t.session_is(&three, "running"),
        "a cancelled step never starts"
    );
}

#[test]
fn a_deacon_killed_during_dispatch_never_starts_a_step_twice() {
    let t = TestTown::new();
    t.with_rig("r");
    t.ok(&["config", "set", "deacon.restart_backoff", "1s"]);
    t.ok(&["config", "set", "deacon.orphan_grace", "1s"]);
    write_formula(
        &t,
        "wide",
        "[[step]]\nid = \"a\"\ntitle = \"A\"\n[[step]]\nid = \"b\"\ntitle = \"B\"\n[[step]]\nid = \"c\"\ntitle = \"C\"\n[[step]]\nid = \"d\"\ntitle = \"D\"\n",
    );
    let run = t.json(&["formula", "run", "wide", "--agent", "standin-hang"]);
    let beads: Vec<String> = step_beads(&run).into_iter().map(|(_, b)| b).collect();
    // Patrols killed with -9 at different moments of their dispatch.
    for delay_ms in [5u64, 15, 30, 60, 120, 250, 500] {
        let mut p = t.spawn(&["deacon", "patrol", "--once"]);
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = p.kill();
        let _ = p.wait();
    }
    // The killed patrols did dispatch (the later ones got that far).
    let started = beads
        .iter()
        .filter(|b| t.bead_status(b) != "queued")
        .count();
    assert!(started >= 1, "no killed patrol reached the dispatch");
    // Then whole patrols until every step runs.
    t.wait_for(120, "every step running", |t| {
        t.patrol();
        beads.iter().all(|b| t.session_is(b, "running"))
    });
    for _ in 0..2 {
        t.patrol();
    }
    // One agent per step, never two.
    let agents = t.json(&["agents"]);
    for b in &beads {
        let open: Vec<&Value> = agents
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["bead"] == b.as_str() && a["ended_at"].is_null())
            .collect();
        assert_eq!(open.len(), 1, "{b}: {open:?}");
        assert_eq!(open[0]["live"], "running", "{b}: {open:?}");
    }
    let running = agents
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["live"] == "running")
        .count();
    assert_eq!(running, beads.len(), "{agents}");
}
