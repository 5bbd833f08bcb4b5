//! The rig's gates: run in their own process group, recorded, killed on
//! timeout or stop, and reaped by the next refinery when one was killed.

use super::*;

/// Runs the rig's gates in the refinery worktree at `commit`: `None` when all
/// pass, else the failure (gate name and the tail of its output).
pub(super) fn run_gates(cx: &Ctx<'_>, commit: &str, rr: &mut RigReport) -> Result<Option<String>> {
    if cx.settings.gates.is_empty() {
        return Ok(None);
    }
    cx.ws.host.git.reset_detached(&cx.wt, commit)?;
    rr.gate_runs += 1;
    let log_dir = cx.ws.town.state_dir().join("logs");
    std::fs::create_dir_all(&log_dir)
        .map_err(|e| Error::io(format!("cannot create {}", log_dir.display()), e))?;
    for (name, command) in &cx.settings.gates {
        let log = log_dir.join(format!("refinery-{}-gate.log", cx.rig));
        let started = |pid: u32| {
            cx.ws.store.gate_started(&GateRun {
                rig: cx.rig.clone(),
                pgid: pid,
                start_ticks: proc_stat(pid).map(|s| s.start_ticks),
                gate: name.clone(),
                command: command.clone(),
                started_at: crate::clock::format_ts(cx.ws.town.clock().now()),
            })
        };
        let finished = |pid: u32| cx.ws.store.gate_finished(&cx.rig, pid, None, cx.actor);
        let watch = GateWatch {
            started: &started,
            finished: &finished,
            stop: cx.stop,
        };
        match run_gate(&cx.wt, command, cx.settings.gate_timeout, &log, &watch)? {
            GateOutcome::Passed => {}
            GateOutcome::Failed(code, out) => {
                return Ok(Some(format!(
                    "gate '{name}' failed ({code}): {command}\n{}",
                    tail_lines(&out, FAILURE_TAIL_LINES)
                )))
            }
            GateOutcome::TimedOut(out) => {
                return Ok(Some(format!(
                    "gate '{name}' timed out after {}s: {command}\n{}",
                    cx.settings.gate_timeout.as_secs(),
                    tail_lines(&out, FAILURE_TAIL_LINES)
                )))
            }
        }
    }
    Ok(None)
}

pub(super) enum GateOutcome {
    Passed,
    Failed(String, String),
    TimedOut(String),
}

/// Who is told about a gate's process group, and when to give up.
pub(super) struct GateWatch<'a> {
    /// The gate runs as process group `pid` (recorded before it may go on).
    pub(super) started: &'a dyn Fn(u32) -> Result<()>,
    /// The group is over: every process of it was killed or had ended.
    pub(super) finished: &'a dyn Fn(u32) -> Result<()>,
    /// Set when the refinery must stop: the gate is killed, an error returned.
    pub(super) stop: Option<&'a AtomicBool>,
}

/// Runs one gate command (argv split with shell rules, no shell) in its own
/// process group, output to `log`. The group is recorded (`watch.started`)
/// and killed whole when the gate ends, times out or the refinery stops, so
/// nothing it started outlives it or `gates.timeout`.
pub(super) fn run_gate(
    dir: &Path,
    command: &str,
    timeout: Duration,
    log: &Path,
    watch: &GateWatch<'_>,
) -> Result<GateOutcome> {
    use std::os::unix::process::CommandExt;
    let argv = shell_words::split(command)
        .map_err(|e| Error::invalid(format!("gate command cannot be split: {e}")))?;
    let Some((program, args)) = argv.split_first() else {
        return Err(Error::invalid("empty gate command"));
    };
    let out =
        File::create(log).map_err(|e| Error::io(format!("cannot create {}", log.display()), e))?;
    let err = out
        .try_clone()
        .map_err(|e| Error::io("cannot duplicate the gate log", e))?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .env("GT_REFINERY", "1")
        .process_group(0);
    for k in [
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_COMMON_DIR",
    ] {
        cmd.env_remove(k);
    }
    let read_log = || std::fs::read_to_string(log).unwrap_or_default();
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return Ok(GateOutcome::Failed(
                "could not start".into(),
                format!("cannot run {program}: {e}"),
            ))
        }
    };
    let pgid = child.id();
    // Kills the whole group, reaps the leader, and says the group is over.
    let end = |child: &mut std::process::Child| -> Result<()> {
        kill_group(pgid);
        let _ = child.kill();
        let _ = child.wait();
        (watch.finished)(pgid)
    };
    if let Err(e) = (watch.started)(pgid) {
        // Never a gate that a later refinery could not find.
        kill_group(pgid);
        let _ = child.kill();
        let _ = child.wait();
        return Err(e);
    }
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                // Whatever it left running in its group goes with it.
                kill_group(pgid);
                (watch.finished)(pgid)?;
                return Ok(if status.success() {
                    GateOutcome::Passed
                } else {
                    GateOutcome::Failed(
                        status
                            .code()
                            .map(|c| format!("exit code {c}"))
                            .unwrap_or_else(|| "killed by a signal".into()),
                        read_log(),
                    )
                });
            }
            Ok(None) if start.elapsed() >= timeout => {
                end(&mut child)?;
                return Ok(GateOutcome::TimedOut(read_log()));
            }
            Ok(None) if watch.stop.is_some_and(|s| s.load(Ordering::Relaxed)) => {
                end(&mut child)?;
                return Err(Error::Environment(
                    "the refinery was stopped during a gate; its requests stay queued".into(),
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => {
                let _ = end(&mut child);
                return Err(Error::io("cannot wait for a gate", e));
            }
        }
    }
}

/// SIGKILL to every process of group `pgid` (gone already is fine).
pub(crate) fn kill_group(pgid: u32) {
    use rustix::process::{kill_process_group, Pid, Signal};
    if let Some(pid) = i32::try_from(pgid).ok().and_then(Pid::from_raw) {
        let _ = kill_process_group(pid, Signal::KILL);
    }
}

/// What `/proc/PID/stat` says about a process (Linux).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ProcStat {
    pub(super) zombie: bool,
    pub(super) pgrp: u32,
    /// Start time, clock ticks after boot.
    pub(super) start_ticks: u64,
}

pub(super) fn proc_stat(pid: u32) -> Option<ProcStat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_proc_stat(&text)
}

/// Parses `/proc/PID/stat`: the command name (in parentheses, may hold
/// anything) ends at the last `)`; state is field 3, pgrp 5, starttime 22.
pub(super) fn parse_proc_stat(text: &str) -> Option<ProcStat> {
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(ProcStat {
        zombie: matches!(*f.first()?, "Z" | "X"),
        pgrp: f.get(2)?.parse().ok()?,
        start_ticks: f.get(19)?.parse().ok()?,
    })
}

/// Processes (not zombies) of group `pgid` still running.
pub(super) fn group_members(pgid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| proc_stat(*pid).is_some_and(|s| s.pgrp == pgid && !s.zombie))
        .collect()
}

/// Whether `g`'s group still has processes that are the gate's (not a later
/// process that was given the same pid: a group id is not handed out again
/// while any process of the group lives, so only the leader can be a stranger).
pub(super) fn stale_gate_alive(g: &GateRun) -> bool {
    match proc_stat(g.pgid) {
        Some(leader) if leader.pgrp != g.pgid => false,
        Some(leader) if g.start_ticks.is_some_and(|t| t != leader.start_ticks) => false,
        _ => !group_members(g.pgid).is_empty(),
    }
}

/// Kills the recorded gate groups of `rig` whose refinery died (the caller
/// holds the rig's refinery lock), waits for them to be gone, and forgets them.
pub(super) fn reap_stale_gates(ws: &Workspace, rig: &str, actor: &str) -> Result<()> {
    for g in ws.store.gate_runs()?.into_iter().filter(|g| g.rig == rig) {
        let event = if stale_gate_alive(&g) {
            kill_group(g.pgid);
            let deadline = Instant::now() + Duration::from_secs(10);
            while !group_members(g.pgid).is_empty() {
                if Instant::now() > deadline {
                    return Err(Error::Environment(format!(
                        "gate '{}' of rig {rig} (process group {}) left by a refinery that died does not end",
                        g.gate, g.pgid
                    )));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Some(
                crate::event::NewEvent::new(
                    kind::GATE_KILLED,
                    format!(
                        "killed gate '{}' of rig {rig} (process group {}, started {}) left by a refinery that died",
                        g.gate, g.pgid, g.started_at
                    ),
                )
                .rig(rig)
                .payload(serde_json::json!({
                    "pgid": g.pgid,
                    "gate": g.gate,
                    "command": g.command,
                    "started_at": g.started_at,
                })),
            )
        } else {
            None
        };
        ws.store.gate_finished(rig, g.pgid, event, actor)?;
    }
    Ok(())
}
