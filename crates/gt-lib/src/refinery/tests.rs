use super::*;

#[test]
fn refinery_config_values_are_validated() {
    assert_eq!(
        parse_config_value("merge.strategy", "squash").unwrap(),
        Value::from("squash")
    );
    assert!(parse_config_value("merge.strategy", "octopus").is_err());
    assert_eq!(
        parse_config_value("merge.batch", "8").unwrap(),
        Value::from(8)
    );
    assert!(parse_config_value("merge.batch", "0").is_err());
    assert!(parse_config_value("merge.batch", "-1").is_err());
    assert_eq!(
        parse_config_value("push", "true").unwrap(),
        Value::Bool(true)
    );
    assert!(parse_config_value("push", "maybe").is_err());
    assert!(parse_config_value("merge.on_failure", "leave").is_ok());
    assert!(parse_config_value("gates.test", "cargo test --all").is_ok());
    assert!(parse_config_value("gates.test", "sh -c 'unterminated").is_err());
    assert!(parse_config_value("gates.test", "").is_err());
    assert!(parse_config_value("gates.Bad Name", "true").is_err());
    assert!(parse_config_value("gates.t", "a\u{1b}[2J").is_err());
    assert!(parse_config_value("nope", "1").is_err());
    assert!(check_config_key("gates.timeout").is_ok());
    assert!(check_config_key("merge.whatever").is_err());
}

#[test]
fn refinery_settings_from_config() {
    let mut m = Map::new();
    m.insert("merge.strategy".into(), "merge".into());
    m.insert("merge.batch".into(), 2.into());
    m.insert("push".into(), true.into());
    m.insert("gates.b".into(), "false".into());
    m.insert("gates.a".into(), "true".into());
    m.insert("gates.timeout".into(), 5.into());
    let s = RigSettings::from_config(&m);
    assert_eq!(s.strategy, Strategy::Merge);
    assert_eq!(s.batch, 2);
    assert!(s.push);
    assert_eq!(s.gate_timeout, Duration::from_secs(5));
    assert_eq!(s.gates[0].0, "a");
    assert_eq!(
        RigSettings::from_config(&Map::new()),
        RigSettings::default()
    );
}

#[test]
fn refinery_gate_timeout_kills_the_group() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let start = Instant::now();
    let started = |_: u32| Ok(());
    let finished = |_: u32| Ok(());
    let w = GateWatch {
        started: &started,
        finished: &finished,
        stop: None,
    };
    let r = run_gate(
        dir.path(),
        "sh -c 'sleep 30 & sleep 30'",
        Duration::from_millis(300),
        &log,
        &w,
    )
    .unwrap();
    assert!(matches!(r, GateOutcome::TimedOut(_)));
    assert!(start.elapsed() < Duration::from_secs(5));
    let r = run_gate(
        dir.path(),
        "sh -c 'echo boom; exit 3'",
        Duration::from_secs(5),
        &log,
        &w,
    )
    .unwrap();
    match r {
        GateOutcome::Failed(code, out) => {
            assert_eq!(code, "exit code 3");
            assert!(out.contains("boom"));
        }
        _ => panic!("expected a failure"),
    }
    assert!(matches!(
        run_gate(dir.path(), "true", Duration::from_secs(5), &log, &w).unwrap(),
        GateOutcome::Passed
    ));
    assert!(matches!(
        run_gate(
            dir.path(),
            "no-such-program-gt",
            Duration::from_secs(5),
            &log,
            &w
        )
        .unwrap(),
        GateOutcome::Failed(..)
    ));
}

#[test]
fn refinery_proc_stat_is_parsed_past_odd_command_names() {
    let line =
        "1234 (sh) x (y)) S 1 1234 1234 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 98765 1000 10";
    assert_eq!(
        parse_proc_stat(line),
        Some(ProcStat {
            zombie: false,
            pgrp: 1234,
            start_ticks: 98765
        })
    );
    assert!(parse_proc_stat("garbage").is_none());
    let me = proc_stat(std::process::id()).unwrap();
    assert!(!me.zombie);
}

#[test]
fn refinery_gate_group_is_recorded_and_nothing_outlives_it() {
    use std::cell::RefCell;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let pidfile = dir.path().join("bg.pid");
    let seen = RefCell::new(Vec::new());
    let started = |pid: u32| {
        seen.borrow_mut().push(("started", pid));
        Ok(())
    };
    let finished = |pid: u32| {
        seen.borrow_mut().push(("finished", pid));
        Ok(())
    };
    let w = GateWatch {
        started: &started,
        finished: &finished,
        stop: None,
    };
    // The gate passes but leaves a child behind: the child goes with it.
    let cmd = format!("sh -c 'sleep 30 & echo $! > {}'", pidfile.display());
    let r = run_gate(dir.path(), &cmd, Duration::from_secs(10), &log, &w).unwrap();
    assert!(matches!(r, GateOutcome::Passed));
    let bg: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while proc_stat(bg).is_some_and(|s| !s.zombie) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        proc_stat(bg).is_none_or(|s| s.zombie),
        "the gate's child lives on"
    );
    let calls = seen.borrow().clone();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[0].0, "started");
    assert_eq!(calls[1], ("finished", calls[0].1));
    // A stop kills a running gate at once and is an error (nothing passed).
    let stop = AtomicBool::new(true);
    let w = GateWatch {
        started: &started,
        finished: &finished,
        stop: Some(&stop),
    };
    let t = Instant::now();
    assert!(run_gate(dir.path(), "sleep 30", Duration::from_secs(60), &log, &w).is_err());
    assert!(t.elapsed() < Duration::from_secs(5));
    // A gate that cannot be recorded does not run on.
    let refuse = |_: u32| Err(Error::refused("no store"));
    let w = GateWatch {
        started: &refuse,
        finished: &finished,
        stop: None,
    };
    let t = Instant::now();
    assert!(run_gate(dir.path(), "sleep 30", Duration::from_secs(60), &log, &w).is_err());
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[test]
fn refinery_tail_lines() {
    assert_eq!(tail_lines("a\nb\nc", 2), "b\nc");
    assert_eq!(tail_lines("", 2), "");
}
