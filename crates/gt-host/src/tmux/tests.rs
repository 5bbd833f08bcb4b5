use super::test_support::*;
use super::*;

fn argv(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

#[test]
fn tmux_socket_file_goes_with_the_last_session_only() {
    let srv = TestServer::new();
    let t = &srv.tmux;
    let cwd = srv.dir.path();
    let sock = t.socket_path().unwrap();
    assert!(sock.starts_with(srv.dir.path()), "{}", sock.display());
    t.new_session("a", cwd, &[], &argv(&["sleep", "30"]))
        .unwrap();
    t.new_session("b", cwd, &[], &argv(&["sleep", "30"]))
        .unwrap();
    assert!(sock.exists());
    // A server still listening keeps its socket.
    assert!(!t.remove_stale_socket());
    assert!(t.kill_session("a").unwrap());
    assert!(sock.exists(), "removed while session b runs");
    assert!(t.kill_session("b").unwrap());
    assert!(
        !sock.exists(),
        "{} left after the last session",
        sock.display()
    );
    let mut lock = sock.clone().into_os_string();
    lock.push(".lock");
    assert!(!std::path::Path::new(&lock).exists());
    // A new server on the same socket works as before.
    t.new_session("c", cwd, &[], &argv(&["sleep", "30"]))
        .unwrap();
    assert!(t.has_session("c").unwrap());
    assert!(sock.exists());
}

#[test]
fn tmux_session_runs_a_command_and_capture_sees_it() {
    let srv = TestServer::new();
    let t = &srv.tmux;
    let cwd = srv.dir.path();
    assert!(!t.has_session("s1").unwrap());
    assert!(t.list_sessions().unwrap().is_empty());
    t.new_session(
        "s1",
        cwd,
        &[],
        &argv(&["sh", "-c", "echo ready; pwd; sleep 30"]),
    )
    .unwrap();
    wait_until("ready", || {
        t.capture_pane("s1", 50).unwrap().contains("ready")
    });
    let screen = t.capture_pane("s1", 50).unwrap();
    let pwd = cwd.canonicalize().unwrap();
    assert!(
        screen.contains(pwd.to_str().unwrap()),
        "cwd not in {screen:?}"
    );
    assert!(t.has_session("s1").unwrap());
    let info = t.session_info("s1").unwrap().unwrap();
    assert!(!info.pane_dead);
    assert_eq!(info.dead_status, None);
    assert!(info.pane_pid.is_some());
    assert!(!info.attached);
    assert!(info.created > 0);
    assert!(matches!(
        t.new_session("s1", cwd, &[], &argv(&["sleep", "30"])),
        Err(Error::Refused(_))
    ));
    assert!(t.kill_session("s1").unwrap());
    assert!(!t.kill_session("s1").unwrap());
    assert!(!t.has_session("s1").unwrap());
}

#[test]
fn tmux_capture_returns_the_last_lines() {
    let srv = TestServer::new();
    let t = &srv.tmux;
    let script = "i=1; while [ $i -le 120 ]; do echo line$i; i=$((i+1)); done; sleep 30";
    t.new_session("cap", srv.dir.path(), &[], &argv(&["sh", "-c", script]))
        .unwrap();
    wait_until("line120", || {
        t.capture_pane("cap", 3).unwrap().contains("line120")
    });
    assert_eq!(
        t.capture_pane("cap", 3).unwrap(),
        "line118\nline119\nline120"
    );
    // History is included beyond the 50 visible rows.
    let all = t.capture_pane("cap", 100).unwrap();
    assert_eq!(all.lines().count(), 100);
    assert!(all.starts_with("line21\n"), "{all:?}");
    assert_eq!(t.capture_pane("cap", 0).unwrap(), "");
}

#[test]
fn tmux_env_vars_and_hostile_args_arrive_verbatim() {
    let srv = TestServer::new();
    let t = &srv.tmux;
    let dir = srv.dir.path();
    let pwned = dir.join("pwned");
    let p = pwned.to_str().unwrap();
    let env = vec![
        ("FOO".to_string(), "bar baz;".to_string()),
        ("HOSTILE".to_string(), format!("$(touch {p}) #{{pane_id}}")),
    ];
    let hostile = [
        format!("$(touch {p})"),
        format!("; touch {p}"),
        format!("`touch {p}`;"),
        "#{pane_id}".to_string(),
        "semi;".to_string(),
        "back\\;".to_string(),
        ";".to_string(),
        String::new(),
    ];
    let mut args = argv(&[
        "sh",
        "-c",
        "printenv FOO; printenv HOSTILE; printf '[%s]' \"$@\"; echo; echo done; sleep 30",
        "sh",
    ]);
    args.extend(hostile.iter().cloned());
    t.new_session("env", dir, &env, &args).unwrap();
    wait_until("done", || {
        t.capture_pane("env", 50).unwrap().contains("done")
    });
    let screen = t.capture_pane("env", 50).unwrap();
    let lines: Vec<&str> = screen.lines().collect();
    assert_eq!(lines[0], "bar baz;");
    assert_eq!(lines[1], format!("$(touch {p}) #{{pane_id}}"));
    let expected: String = hostile.iter().map(|a| format!("[{a}]")).collect();
    assert_eq!(lines[2], expected);

    // A single argument is not handed to a shell either: it is a
    // program name, which does not exist.
    t.new_session("one", dir, &[], &[format!("$(touch {p}); true")])
        .unwrap();
    wait_until("exit status", || {
        t.pane_dead_status("one").unwrap().is_some()
    });
    assert!(t.pane_dead("one").unwrap());
    assert_eq!(t.pane_dead_status("one").unwrap(), Some(127));
    // A directory name with a format and a trailing ';'.
    let odd = dir.join("d#{session_name};");
    std::fs::create_dir(&odd).unwrap();
    t.new_session("odd", &odd, &[], &argv(&["sh", "-c", "pwd; sleep 30"]))
        .unwrap();
    let odd_real = odd.canonicalize().unwrap();
    wait_until("pwd", || {
        t.capture_pane("odd", 5)
            .unwrap()
            .contains(odd_real.to_str().unwrap())
    });
    assert!(!pwned.exists(), "a shell ran hostile text");

    for bad in [&[][..], &["A=b".to_string(), "x".to_string()][..]] {
        assert!(matches!(
            t.new_session("bad", dir, &[], bad),
            Err(Error::Invalid(_))
        ));
    }
    assert!(matches!(
        t.new_session("bad", &dir.join("missing"), &[], &argv(&["true", "x"])),
        Err(Error::NotFound { .. })
    ));
    assert!(!t.has_session("bad").unwrap());
}

#[test]
fn tmux_send_literal_types_text_verbatim() {
    let srv = TestServer::new();
    let t = &srv.tmux;
    let out = srv.dir.path().join("out.txt");
    let pwned = srv.dir.path().join("pwned");
    let p = pwned.to_str().unwrap();
    // Non-canonical mode: no 4 KiB line limit of the terminal; Enter's
    // '\r' still becomes '\n'.
    let script = format!(
        "stty -icanon -echo; echo ready; exec cat > '{}'",
        out.display()
    );
    t.new_session("cat", srv.dir.path(), &[], &argv(&["sh", "-c", &script]))
        .unwrap();
    wait_until("ready", || {
        t.capture_pane("cat", 5).unwrap().contains("ready")
    });

    let long: String = (0..4096)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let mut long_utf8 = "é".repeat(700);
    long_utf8.push_str(";;");
    let texts = vec![
        "C-c".to_string(),
        "Enter".to_string(),
        "#{pane_id}".to_string(),
        format!("$(touch {p})"),
        format!("; touch {p}"),
        "ends with;".to_string(),
        "ends with backslash semi\\;".to_string(),
        ";".to_string(),
        "'single' \"double\" \\back\\slash\\".to_string(),
        "-- --help".to_string(),
        "-l".to_string(),
        "héllo ✓ 日本語 🚀".to_string(),
        long,
        long_utf8,
    ];
    let mut expected = String::new();
    for text in &texts {
        t.send_literal("cat", text).unwrap();
        t.send_enter("cat").unwrap();
        expected.push_str(text);
        expected.push('\n');
    }
    wait_until("all text in the file", || {
        std::fs::read_to_string(&out).unwrap_or_default().len() >= expected.len()
    });
    let got = std::fs::read_to_string(&out).unwrap();
    assert_eq!(got, expected);
    assert!(!pwned.exists());
    t.send_literal("cat", "").unwrap();
    assert!(matches!(
        t.send_literal("nope", "x"),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        t.send_literal("cat", "a\0b"),
        Err(Error::Invalid(_))
    ));
}

#[test]
fn tmux_dead_pane_keeps_its_exit_status() {
    let srv = TestServer::new();
    let t = &srv.tmux;
    t.new_session("dies", srv.dir.path(), &[], &argv(&["sh", "-c", "exit 3"]))
        .unwrap();
    wait_until("exit status", || {
        t.pane_dead_status("dies").unwrap().is_some()
    });
    assert!(t.pane_dead("dies").unwrap());
    assert_eq!(t.pane_dead_status("dies").unwrap(), Some(3));
    assert!(t.pane_pid("dies").unwrap().is_some());
    let list = t.list_sessions().unwrap();
    assert_eq!(list.len(), 1);
    assert!(list[0].pane_dead);
    assert_eq!(list[0].dead_status, Some(3));
    assert_eq!(list[0].dead_signal, None);

    // Killed by a signal: a signal, no exit status.
    // (Killed only once it runs: tmux 3.3a may not reap a pane process
    // that dies before its exec, until another child exits.)
    t.new_session("killed", srv.dir.path(), &[], &argv(&["sleep", "30"]))
        .unwrap();
    wait_until("sleep running", || {
        t.session_info("killed")
            .unwrap()
            .is_some_and(|s| s.current_command == "sleep")
    });
    let pid = t.pane_pid("killed").unwrap().unwrap();
    let st = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    wait_until("signal", || {
        t.session_info("killed")
            .unwrap()
            .is_some_and(|s| s.dead_signal.is_some())
    });
    let info = t.session_info("killed").unwrap().unwrap();
    assert!(info.pane_dead);
    assert_eq!((info.dead_status, info.dead_signal), (None, Some(9)));
    // Still capturable.
    t.capture_pane("dies", 10).unwrap();
    assert!(matches!(t.pane_dead("nope"), Err(Error::NotFound { .. })));
}

#[test]
fn tmux_session_names_match_exactly() {
    let srv = TestServer::new();
    let t = &srv.tmux;
    t.new_session("gt-ab", srv.dir.path(), &[], &argv(&["sleep", "30"]))
        .unwrap();
    assert!(t.has_session("gt-ab").unwrap());
    assert!(!t.has_session("gt-a").unwrap());
    assert!(!t.kill_session("gt-a").unwrap());
    assert!(matches!(
        t.capture_pane("gt-a", 5),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        t.send_literal("gt-a", "x"),
        Err(Error::NotFound { .. })
    ));
    assert!(t.has_session("gt-ab").unwrap());
    let names: Vec<String> = t
        .list_sessions()
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, vec!["gt-ab".to_string()]);
    assert_eq!(
        t.attach_command("gt-ab").unwrap()[1..],
        argv(&[
            "-L",
            t.socket(),
            "-f",
            "/dev/null",
            "attach-session",
            "-t",
            "=gt-ab"
        ])[..]
    );
    t.kill_server().unwrap();
    assert!(!t.has_session("gt-ab").unwrap());
    t.kill_server().unwrap();
}

#[test]
fn tmux_kill_session_later_returns_at_once() {
    let srv = TestServer::new();
    let t = &srv.tmux;
    t.new_session("keep", srv.dir.path(), &[], &argv(&["sleep", "30"]))
        .unwrap();
    t.new_session("doomed", srv.dir.path(), &[], &argv(&["sleep", "30"]))
        .unwrap();
    let start = std::time::Instant::now();
    t.kill_session_later("doomed", 1).unwrap();
    assert!(start.elapsed() < std::time::Duration::from_millis(900));
    assert!(t.has_session("doomed").unwrap());
    wait_until("session killed", || !t.has_session("doomed").unwrap());
    assert!(start.elapsed() >= std::time::Duration::from_millis(900));
    assert!(t.has_session("keep").unwrap());
    // A session that is already gone by then: no error later, no harm.
    t.kill_session_later("gone", 0).unwrap();
}

#[test]
fn tmux_kill_session_later_spares_a_new_session_of_the_same_name() {
    let srv = TestServer::new();
    let t = &srv.tmux;
    t.new_session("keep", srv.dir.path(), &[], &argv(&["sleep", "30"]))
        .unwrap();
    t.new_session("pc", srv.dir.path(), &[], &argv(&["sleep", "30"]))
        .unwrap();
    t.kill_session_later("pc", 1).unwrap();
    // The name is reused at once (an idle polecat given new work).
    assert!(t.kill_session("pc").unwrap());
    t.new_session("pc", srv.dir.path(), &[], &argv(&["sleep", "30"]))
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1600));
    assert!(t.has_session("pc").unwrap(), "the new session was killed");
}

#[test]
fn tmux_new_session_right_after_the_last_one_ended() {
    // Killing the last session makes the server exit; a new session
    // asked for at that moment must still start.
    let srv = TestServer::new();
    let t = &srv.tmux;
    for i in 0..20 {
        let name = format!("s{i}");
        t.new_session(&name, srv.dir.path(), &[], &argv(&["sleep", "30"]))
            .unwrap();
        assert!(t.kill_session(&name).unwrap());
    }
    assert!(t.list_sessions().unwrap().is_empty() || t.kill_server().is_ok());
}

#[test]
fn tmux_names_and_sockets() {
    for ok in ["gt-rig-toast", "a", "A_1"] {
        validate_session_name(ok).unwrap();
    }
    for bad in [
        "", "a.b", "a:b", "a b", "a\tb", "a\nb", "a;", "#a", "=a", "-a", "%1", "$1", "@1", "é",
    ] {
        assert!(validate_session_name(bad).is_err(), "{bad:?} accepted");
    }
    assert!(TmuxCli::new("").is_err());
    assert!(TmuxCli::new("a/b").is_err());

    let dir = tempfile::tempdir().unwrap();
    let s = socket_name_for(dir.path());
    assert_eq!(s.len(), 11);
    assert!(s.starts_with("gt-"));
    assert!(s[3..].chars().all(|c| c.is_ascii_hexdigit()));
    // Stable, and the same for another spelling of the same directory.
    assert_eq!(s, socket_name_for(&dir.path().join(".")));
    assert_ne!(s, socket_name_for(&dir.path().join("other")));
    assert_eq!(TmuxCli::for_town(dir.path()).socket(), s);

    assert_eq!(escape_arg("a;"), "a\\;");
    assert_eq!(escape_arg("a\\;"), "a\\\\;");
    assert_eq!(escape_arg(";"), "\\;");
    assert_eq!(escape_arg("a;b"), "a;b");
    let text = "é".repeat(600);
    let chunks = split_chunks(&text, 1023);
    assert!(chunks.iter().all(|c| c.len() <= 1023));
    assert_eq!(chunks.concat(), text);
}

#[test]
fn tmux_missing_program_is_an_environment_error() {
    let t = TmuxCli::new("gt-test-none")
        .unwrap()
        .with_program("/nonexistent/tmux");
    match t.has_session("x") {
        Err(Error::Environment(m)) => assert!(m.starts_with("tmux is not installed"), "{m}"),
        other => panic!("unexpected {other:?}"),
    }
}

/// Starts session `name` whose command leaves a detached child behind: in a
/// session of its own (`setsid`), deaf to SIGHUP and SIGTERM, so only a
/// SIGKILL from gt ends it. Returns the child's pid and start time.
fn session_with_detached_child(srv: &TestServer, name: &str) -> (u32, u64) {
    let pidfile = srv.dir.path().join(format!("{name}.pid"));
    let script = format!(
        "setsid sh -c 'trap \"\" HUP TERM; echo $$ > {}; exec sleep 300' & trap '' HUP; sleep 600",
        pidfile.display()
    );
    srv.tmux
        .new_session(name, srv.dir.path(), &[], &argv(&["sh", "-c", &script]))
        .unwrap();
    wait_until("the child wrote its pid", || {
        std::fs::read_to_string(&pidfile).is_ok_and(|s| s.ends_with('\n'))
    });
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let child = super::tree::parse_stat(&text).unwrap();
    let pane = srv.tmux.pane_pid(name).unwrap().unwrap();
    assert_ne!(child.sid, pane, "the child left the pane's session");
    (pid, child.start)
}

/// Whether the process `pid` that started at `start` still runs.
fn running(pid: u32, start: u64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|t| super::tree::parse_stat(&t))
        .is_some_and(|p| p.start == start && !p.zombie)
}

/// A process of this test, outside every pane: never touched.
struct Bystander(std::process::Child);

impl Drop for Bystander {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn bystander() -> Bystander {
    Bystander(
        std::process::Command::new("sleep")
            .arg("300")
            .spawn()
            .unwrap(),
    )
}

#[test]
fn tmux_kill_session_ends_the_panes_whole_tree() {
    let srv = TestServer::new();
    let t = &srv.tmux;
    let mut other = bystander();
    let (pid, start) = session_with_detached_child(&srv, "agent");
    let (kept, kept_start) = session_with_detached_child(&srv, "keep");
    assert!(t.kill_session("agent").unwrap());
    // kill_session waits (bounded) until the tree is gone.
    wait_until("the detached child is gone", || !running(pid, start));
    // Another session's tree and a process outside tmux are untouched.
    assert!(running(kept, kept_start));
    assert!(other.0.try_wait().unwrap().is_none());
    // The whole server: every pane's tree.
    t.kill_server().unwrap();
    wait_until("the other child is gone", || !running(kept, kept_start));
    assert!(other.0.try_wait().unwrap().is_none());
}

#[test]
fn tmux_kill_session_later_ends_the_panes_whole_tree() {
    let srv = TestServer::new();
    let t = &srv.tmux;
    let (pid, start) = session_with_detached_child(&srv, "agent");
    t.kill_session_later("agent", 1).unwrap();
    assert!(running(pid, start));
    wait_until("session killed", || !t.has_session("agent").unwrap());
    wait_until("the detached child is gone", || !running(pid, start));
}
