//! The launch watch and kept screens (issue 12, M12): a sling waits until a
//! runtime that says when it is up (hooks, ready or busy text) does, so an
//! agent that dies after a second is a failed start with its last screen in
//! the error; a pane that dies later keeps its last screen, which
//! `gt agents` and `gt peek` show after the pane is gone.

use crate::common::TestTown;

/// A preset (codex) whose program prints an error after a second and exits:
/// the sling fails with the exit code and the last line, and writes nothing.
#[test]
fn an_agent_dying_after_a_second_is_a_failed_start_with_its_screen() {
    let t = TestTown::new();
    t.with_rig("app");
    let path = t.fake_program(
        "codex",
        "echo 'starting up'\nsleep 1.2\necho 'fatal: no model provider configured'\nexit 3\n",
    );
    let before = t.fingerprint();
    let mut c = t.cmd();
    c.env("PATH", &path);
    let out = c
        .args(["sling", "dies late", "app", "--agent", "codex"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("exit code 3"), "{err}");
    assert!(err.contains("fatal: no model provider configured"), "{err}");
    // The bead, polecat and session are taken back (the events of the
    // failed start stay in the trail).
    assert_eq!(t.fingerprint().0, before.0, "a failed sling kept records");
}

/// A preset whose program shows its ready text is slung without waiting for
/// the whole watch, and stays up.
#[test]
fn an_agent_showing_its_ready_text_is_up() {
    let t = TestTown::new();
    t.with_rig("app");
    let path = t.fake_program(
        "codex",
        "sleep 0.3\necho '› Ask Codex to do anything'\nsleep 60\n",
    );
    let out = t.ok_env(
        &[("PATH", &path)],
        &["--json", "sling", "stays up", "app", "--agent", "codex"],
    );
    let slung: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    let bead = slung["bead"].as_str().unwrap().to_string();
    assert!(t.session_is(&bead, "running"));
}

/// A pane that dies mid-work keeps its last screen: after the deacon ends
/// the session, `gt agents` shows its last line and `gt peek` the screen,
/// marked as the kept one; `gt peek --json` says where it came from.
#[test]
fn a_dead_panes_last_screen_is_kept_for_agents_and_peek() {
    let t = TestTown::new();
    t.with_rig("app");
    t.set_agent(
        "dier",
        "sh -c 'sleep 1; echo working hard; echo \"panic: out of cheese\"; exit 7'",
    );
    let s = t.sling("app", "dies mid-work", "dier");
    let bead = s["bead"].as_str().unwrap().to_string();
    let agent = s["agent"].as_str().unwrap().to_string();
    t.wait_for(20, "the pane to die", |t| t.session_is(&bead, "exited"));
    let kinds = t.patrol();
    assert!(
        kinds.contains(&"deacon.session_dead".to_string()),
        "{kinds:?}"
    );
    let rows = t.json(&["agents"]);
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["bead"] == bead.as_str() && a["end_reason"] == "exited")
        .unwrap_or_else(|| panic!("no ended row: {rows}"))
        .clone();
    assert_eq!(row["last_screen"], "panic: out of cheese", "{row}");
    let human = t.ok(&["agents"]);
    assert!(human.contains("panic: out of cheese"), "{human}");

    // The session is gone from tmux (the deacon killed the dead pane, or
    // restarted it: wait until no live pane is left to peek at).
    t.ok(&["down", "--all"]);
    let peek = t.ok(&["peek", &agent]);
    assert!(peek.contains("has no live session"), "{peek}");
    assert!(peek.contains("panic: out of cheese"), "{peek}");
    let j = t.json(&["peek", &agent]);
    assert!(
        j["screen"].as_str().unwrap().contains("working hard"),
        "{j}"
    );
    assert!(j["ended"]["session_id"].is_i64(), "{j}");
}

/// `gt down --all` keeps each agent's last screen; a screen file that is
/// not gt's (a link, garbage) is never shown.
#[test]
fn down_keeps_screens_and_a_planted_screen_file_is_ignored() {
    let t = TestTown::new();
    t.with_rig("app");
    t.set_agent("sleeper", "sh -c 'echo hello from the agent; sleep 60'");
    let s = t.sling("app", "sleeps", "sleeper");
    let id = s["session_id"].as_i64().unwrap();
    t.wait_for(10, "the agent's greeting", |t| {
        t.ok(&["peek", s["agent"].as_str().unwrap()])
            .contains("hello from the agent")
    });
    t.ok(&["down", "--all"]);
    let last = |t: &TestTown| {
        t.json(&["agents"])
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["session_id"] == id)
            .map(|r| r["last_screen"].clone())
            .unwrap()
    };
    assert_eq!(last(&t), "hello from the agent");

    let file = t.root.join(format!(".gt/run/screens/{id}.json"));
    std::fs::remove_file(&file).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", &file).unwrap();
    assert!(last(&t).is_null());
    std::fs::remove_file(&file).unwrap();
    std::fs::write(&file, b"{not json").unwrap();
    assert!(last(&t).is_null());
}
