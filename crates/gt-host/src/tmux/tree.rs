//! Ending a session ends the agent's whole process tree (issue 12, M8).
//!
//! Killing a tmux session only sends SIGHUP to the pane's processes; an
//! agent whose children ignore it, or moved to a session or process group
//! of their own (Gemini CLI's node processes did), keeps running with
//! parent 1. So before a session is killed, [`collect`] notes (from
//! `/proc`) every process that belongs to its pane: the pane process, its
//! descendants (by parent links), every member of their process groups,
//! and every process still in the pane's terminal session. After the kill
//! [`end`] sends SIGTERM to each, waits up to [`GRACE`] for them to go, and
//! SIGKILLs the survivors.
//!
//! A process is only ever signalled when it is still the one collected
//! (same pid AND same start time, so a reused pid is left alone), never pid
//! 1 and never this process. On systems without `/proc` nothing is
//! collected and a kill is tmux's alone.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// How long the collected processes get to exit after SIGTERM.
pub(super) const GRACE: Duration = Duration::from_secs(2);

/// One process, as `/proc/PID/stat` tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Proc {
    pub(super) pid: u32,
    pub(super) ppid: u32,
    pub(super) pgrp: u32,
    pub(super) sid: u32,
    /// Start time in clock ticks after boot: with the pid, it names one
    /// process for good.
    pub(super) start: u64,
    pub(super) zombie: bool,
}

/// Parses `/proc/PID/stat`: the command name (in parentheses, may hold
/// anything) ends at the LAST `)`; then state (field 3), ppid (4), pgrp (5),
/// session (6) … starttime (22).
pub(super) fn parse_stat(text: &str) -> Option<Proc> {
    let open = text.find(" (")?;
    let pid = text[..open].trim().parse().ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(Proc {
        pid,
        zombie: matches!(*f.first()?, "Z" | "X"),
        ppid: f.get(1)?.parse().ok()?,
        pgrp: f.get(2)?.parse().ok()?,
        sid: f.get(3)?.parse().ok()?,
        start: f.get(19)?.parse().ok()?,
    })
}

fn stat(pid: u32) -> Option<Proc> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Every process of the machine (that can be read), by pid.
fn snapshot() -> BTreeMap<u32, Proc> {
    let mut all = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return all;
    };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if let Some(p) = stat(pid) {
            all.insert(pid, p);
        }
    }
    all
}

/// This process and its ancestors.
fn me_and_ancestors(all: &BTreeMap<u32, Proc>) -> BTreeSet<u32> {
    let mut out = BTreeSet::new();
    let mut pid = std::process::id();
    while pid > 1 && out.insert(pid) {
        match all.get(&pid) {
            Some(p) => pid = p.ppid,
            None => break,
        }
    }
    out
}

/// Whose processes to spare besides pid 1 and this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Spare {
    /// Also this process's ancestors: the kill happens now, and a gt run
    /// from inside the pane must not take down the shell waiting for it.
    Ancestors,
    /// Only this process: the kill happens after it has exited (a delayed
    /// kill asked for from inside the pane, e.g. by `gt done`).
    SelfOnly,
}

/// The processes of the pane whose process is `pane_pid`, with `alive`
/// saying whether tmux still sees that process running. For a dead pane
/// only the processes left in its terminal session are collected (the
/// pane's pid may have been reused by then; a live process holding it is
/// never taken for the pane).
pub(super) fn collect(pane_pid: u32, alive: bool, spare: Spare) -> Vec<Proc> {
    collect_from(&snapshot(), pane_pid, alive, spare)
}

pub(super) fn collect_from(
    all: &BTreeMap<u32, Proc>,
    pane_pid: u32,
    alive: bool,
    spare: Spare,
) -> Vec<Proc> {
    if pane_pid <= 1 {
        return Vec::new();
    }
    let spared = match spare {
        Spare::Ancestors => me_and_ancestors(all),
        Spare::SelfOnly => BTreeSet::from([std::process::id()]),
    };
    let leader = all.get(&pane_pid).filter(|p| !p.zombie);
    let mut tree: BTreeSet<u32> = BTreeSet::new();
    match (alive, leader) {
        (true, Some(_)) => {
            tree.insert(pane_pid);
        }
        // A dead pane whose pid is taken by another process: not ours.
        (false, Some(_)) => return Vec::new(),
        // Gone before we looked: only what is left in its session.
        (_, None) => {}
    }
    let sid = pane_pid;
    // Descendants and group members, until nothing new turns up.
    loop {
        let groups: BTreeSet<u32> = tree
            .iter()
            .filter_map(|p| all.get(p))
            .map(|p| p.pgrp)
            .filter(|g| *g > 1)
            .collect();
        let more: Vec<u32> = all
            .values()
            .filter(|p| !tree.contains(&p.pid))
            .filter(|p| tree.contains(&p.ppid) || groups.contains(&p.pgrp) || p.sid == sid)
            .map(|p| p.pid)
            .collect();
        if more.is_empty() {
            break;
        }
        tree.extend(more);
    }
    tree.into_iter()
        .filter(|pid| *pid > 1 && !spared.contains(pid))
        .filter_map(|pid| all.get(&pid).copied())
        .filter(|p| !p.zombie)
        .collect()
}

/// Whether `p` is still the same, running process.
fn still_there(p: &Proc) -> bool {
    stat(p.pid).is_some_and(|now| now.start == p.start && !now.zombie)
}

fn signal(p: &Proc, sig: rustix::process::Signal) {
    if p.pid <= 1 || p.pid == std::process::id() || !still_there(p) {
        return;
    }
    if let Some(pid) = i32::try_from(p.pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process(pid, sig);
    }
}

/// SIGTERM to every collected process still there, up to `grace` for them
/// to exit, then SIGKILL to the survivors. Returns the pids that had to be
/// killed.
pub(super) fn end(procs: &[Proc], grace: Duration) -> Vec<u32> {
    use rustix::process::Signal;
    if procs.is_empty() {
        return Vec::new();
    }
    for p in procs {
        signal(p, Signal::TERM);
    }
    let deadline = Instant::now() + grace;
    loop {
        let left: Vec<&Proc> = procs.iter().filter(|p| still_there(p)).collect();
        if left.is_empty() {
            return Vec::new();
        }
        if Instant::now() >= deadline {
            for p in &left {
                signal(p, Signal::KILL);
            }
            return left.iter().map(|p| p.pid).collect();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A POSIX shell script doing what [`end`] does after `after`, for the tmux
/// server to start along with a delayed kill (when the gt that asked is
/// gone by then): it ignores SIGHUP and SIGTERM (a server whose last
/// session ended may end its jobs), leaves the session's directory, waits,
/// then signals each process only while `/proc/PID/stat` still shows its
/// start time. It
/// holds numbers and fixed text only, and no `'`, `#` or `\\` (tmux expands
/// formats in a `run-shell` command; the caller wraps it in single quotes).
pub(super) fn end_script(procs: &[Proc], after: Duration, grace: Duration) -> String {
    let list: Vec<String> = procs
        .iter()
        .filter(|p| p.pid > 1)
        .map(|p| format!("{} {}", p.pid, p.start))
        .collect();
    let rounds = (grace.as_millis() / 100).max(1);
    // The start time is field 20 after the command name's closing ") ".
    format!(
        "trap \"\" HUP TERM; cd /; sleep {}.{:03}; \
         same() {{ [ \"$(sed \"s/.*) //\" /proc/$1/stat 2>/dev/null | cut -d \" \" -f 20)\" = \"$2\" ]; }}; \
         sig() {{ set -- $L; while [ -n \"$2\" ]; do same $1 $2 && kill -$S $1 2>/dev/null; shift 2; done; }}; \
         alive() {{ set -- $L; while [ -n \"$2\" ]; do same $1 $2 && return 0; shift 2; done; return 1; }}; \
         L=\"{}\"; S=TERM; sig; n=0; while [ $n -lt {rounds} ] && alive; do sleep 0.1; n=$((n+1)); done; S=KILL; sig",
        after.as_secs(),
        after.subsec_millis(),
        list.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pid: u32, ppid: u32, pgrp: u32, sid: u32) -> Proc {
        Proc {
            pid,
            ppid,
            pgrp,
            sid,
            start: u64::from(pid) * 10,
            zombie: false,
        }
    }

    #[test]
    fn stat_lines_with_odd_command_names_parse() {
        let line = "4242 (we ird) (name)) S 1 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 987654 1 2 3";
        let got = parse_stat(line).unwrap();
        assert_eq!(
            (got.pid, got.ppid, got.pgrp, got.sid),
            (4242, 1, 4242, 4242)
        );
        assert_eq!(got.start, 987654);
        assert!(!got.zombie);
        assert!(parse_stat("garbage").is_none());
    }

    #[test]
    fn the_tree_has_descendants_groups_and_session_orphans_only() {
        let me = std::process::id();
        let all: BTreeMap<u32, Proc> = [
            p(1, 0, 1, 1),
            p(100, 1, 100, 100),   // tmux server
            p(200, 100, 200, 200), // the pane
            p(201, 200, 201, 200), // a child in its own group
            p(202, 201, 202, 202), // its setsid grandchild
            p(203, 1, 201, 201),   // an orphan in the child's group
            p(204, 1, 204, 200),   // an orphan still in the pane's session
            p(300, 100, 300, 300), // another pane
            p(301, 300, 301, 300),
        ]
        .into_iter()
        .map(|p| (p.pid, p))
        .collect();
        let pids = |v: Vec<Proc>| v.into_iter().map(|p| p.pid).collect::<Vec<_>>();
        assert_eq!(
            pids(collect_from(&all, 200, true, Spare::SelfOnly)),
            vec![200, 201, 202, 203, 204]
        );
        // Dead pane: only what is left in its session (and their kin).
        let mut dead = all.clone();
        dead.remove(&200);
        assert_eq!(
            pids(collect_from(&dead, 200, false, Spare::SelfOnly)),
            vec![201, 202, 203, 204]
        );
        // A dead pane's pid taken by someone else: nothing.
        assert!(collect_from(&all, 200, false, Spare::SelfOnly).is_empty());
        // Never pid 1, never this process.
        assert!(collect_from(&all, 1, true, Spare::SelfOnly).is_empty());
        let mut with_me = all.clone();
        with_me.insert(me, p(me, 201, 201, 200));
        assert!(!pids(collect_from(&with_me, 200, true, Spare::SelfOnly)).contains(&me));
    }

    #[test]
    fn the_delayed_script_names_each_process_with_its_start_time() {
        let after = Duration::from_millis(1200);
        let s = end_script(&[p(200, 1, 200, 200), p(1, 0, 1, 1)], after, GRACE);
        assert!(s.contains("sleep 1.200;"), "{s}");
        assert!(s.contains("L=\"200 2000\""), "{s}");
        assert!(
            s.contains("S=TERM; sig") && s.contains("S=KILL; sig"),
            "{s}"
        );
        assert!(!s.contains(['\'', '#', '\\']), "{s}");
    }
}
