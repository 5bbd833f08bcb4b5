//! The deacon as a daemon: its lock, run files and log; `gt up`, `gt down`,
//! `gt deacon status`; the patrol loop with a refinery thread per rig.

use super::*;

pub(super) fn run_dir(town: &Town) -> PathBuf {
    town.state_dir().join("run")
}

pub fn log_path(town: &Town) -> PathBuf {
    town.state_dir().join("logs").join("deacon.log")
}

pub(super) fn lock_path(town: &Town) -> PathBuf {
    run_dir(town).join("deacon.lock")
}

pub(super) fn stop_path(town: &Town) -> PathBuf {
    run_dir(town).join("deacon.stop")
}

/// Whether a deacon process holds the town's lock right now.
pub fn is_running(town: &Town) -> Result<bool> {
    // Read-only is enough for a lock test, so a read-only town can be asked.
    let f = match File::options().read(true).open(lock_path(town)) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::io("cannot open the deacon lock", e)),
    };
    match f.try_lock() {
        Ok(()) => Ok(false),
        Err(std::fs::TryLockError::WouldBlock) => Ok(true),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io("cannot check the deacon lock", e)),
    }
}

/// The pid of the deacon that holds the town's lock, read from the lock
/// file it wrote; `None` when no deacon holds the lock. A deacon that has
/// just taken the lock writes its pid a moment later: this waits for it
/// (up to a second).
pub fn running_pid(town: &Town) -> Result<Option<u32>> {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        if !is_running(town)? {
            return Ok(None);
        }
        let pid = std::fs::read_to_string(lock_path(town))
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok());
        if pid.is_some() || Instant::now() >= deadline {
            return Ok(pid);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Takes the deacon lock. Checkers ([`is_running`]) hold it for an instant,
/// so a busy lock is tried again for a while before it counts as taken by
/// another deacon.
pub(super) fn take_lock(lock: &File) -> Result<()> {
    let deadline = Instant::now() + Duration::from_millis(1500);
    loop {
        match lock.try_lock() {
            Ok(()) => return Ok(()),
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(25));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::refused("the deacon is already running"))
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(Error::io("cannot take the deacon lock", e))
            }
        }
    }
}

/// The daemon's time between patrols (`deacon.interval`, at least 200 ms).
pub(super) fn patrol_interval(town: &Town) -> Duration {
    let interval = town.config.deacon.duration("interval");
    Duration::from_millis(interval.whole_milliseconds().clamp(200, 86_400_000) as u64)
}

/// When gt.toml was last written, so the daemon sees changes to it.
pub(super) fn config_mtime(town: &Town) -> Option<std::time::SystemTime> {
    std::fs::metadata(town.config_path())
        .and_then(|m| m.modified())
        .ok()
}

/// Event kinds that make the daemon patrol at once.
pub(super) const WAKE_KINDS: &[&str] = &[
    "session.ended",
    "done",
    "merge.queued",
    "bead.updated",
    "sling",
    // A nudge queued for an agent (on this host, or from another host of
    // the town): delivered by the patrol once the agent is idle.
    "nudge.queued",
];

/// A refinery running beside the patrol: one thread per rig, each with its
/// own connection to the store. Returns the lines for the log.
pub(super) type RefineryThread = (String, std::thread::JoinHandle<Vec<String>>);

pub(super) fn spawn_refinery(
    town: &Town,
    caller: &CallerEnv,
    rig: &str,
    stop: &Arc<AtomicBool>,
) -> Result<RefineryThread> {
    let (town, name, stop) = (town.clone(), rig.to_string(), Arc::clone(stop));
    let caller = caller.clone();
    let handle = std::thread::Builder::new()
        .name(format!("refinery-{rig}"))
        .spawn(move || refinery_beside(town, caller, &name, &stop))
        .map_err(|e| Error::io("cannot start a refinery thread", e))?;
    Ok((rig.to_string(), handle))
}

/// One refinery run of one rig, beside the patrol. A failure is the rig's
/// fault; a run that works clears it. Crash safety is the refinery's own
/// (see `docs/refinery.md`): a deacon killed meanwhile loses nothing.
pub(super) fn refinery_beside(
    town: Town,
    caller: CallerEnv,
    rig: &str,
    stop: &AtomicBool,
) -> Vec<String> {
    let ts = || format_ts(town.clock().now());
    let ws = match Workspace::open(town.clone(), caller) {
        Ok(ws) => ws,
        Err(e) => {
            return vec![format!(
                "{} refinery {rig}: cannot open the town: {e}",
                ts()
            )]
        }
    };
    match crate::refinery::run_once_with(&ws, Some(rig), ACTOR, Some(stop)) {
        Ok(r) => {
            if let Err(e) = clear_fault(&ws, rig, step::REFINERY) {
                tracing::warn!(%e, "cannot clear a refinery fault");
            }
            refinery_actions(&r)
                .into_iter()
                .map(|a| format!("{} {}: {}", ts(), a.kind, a.summary))
                .collect()
        }
        Err(e) if stop.load(Ordering::Relaxed) => {
            vec![format!("{} refinery {rig} stopped: {e}", ts())]
        }
        Err(e) => {
            let error = error_line(&e);
            let mut out = vec![format!("{} refinery {rig} failed: {error}", ts())];
            if let Err(e2) = record_fault(&ws, &Subject::rig(rig), step::REFINERY, &error) {
                out.push(format!("{} cannot record it: {e2}", ts()));
            }
            out
        }
    }
}

/// Starts a refinery thread for every rig with merge work (or a recorded
/// gate group to reap) that has none running.
pub(super) fn start_refineries(
    ws: &Workspace,
    running: &mut Vec<RefineryThread>,
    stop: &Arc<AtomicBool>,
) -> Result<()> {
    use crate::store::merge::MergeStore;
    let mut rigs = ws.store.rigs_with_merge_work()?;
    rigs.extend(ws.store.gate_runs()?.into_iter().map(|g| g.rig));
    rigs.sort();
    rigs.dedup();
    // A rig's refinery fault is over once it has nothing left to do (its
    // requests were removed, or the rig was).
    for f in ws.store.faults()? {
        if f.step == step::REFINERY
            && !rigs.contains(&f.subject)
            && !running.iter().any(|(r, _)| *r == f.subject)
        {
            clear_fault(ws, &f.subject, step::REFINERY)?;
        }
    }
    for rig in rigs {
        if running.iter().any(|(r, _)| *r == rig) {
            continue;
        }
        running.push(spawn_refinery(&ws.town, &ws.caller, &rig, stop)?);
    }
    Ok(())
}

/// Logs what finished refinery threads did; returns whether one finished.
/// With `wait`, waits up to 10 s for all (a stopped refinery kills its gate
/// at once; one still waiting for another process's refinery lock is left).
pub(super) fn collect_refineries(
    ws: &Workspace,
    running: &mut Vec<RefineryThread>,
    wait: bool,
    log: &mut dyn std::io::Write,
) -> bool {
    if wait {
        let deadline = Instant::now() + Duration::from_secs(10);
        while running.iter().any(|(_, h)| !h.is_finished()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let mut any = false;
    let mut i = 0;
    while i < running.len() {
        if !running[i].1.is_finished() {
            i += 1;
            continue;
        }
        let (rig, handle) = running.swap_remove(i);
        any = true;
        match handle.join() {
            Ok(lines) => {
                for l in lines {
                    let _ = writeln!(log, "{l}");
                }
            }
            Err(_) => {
                let error = "the refinery thread panicked";
                let _ = writeln!(
                    log,
                    "{} refinery {rig}: {error}",
                    format_ts(ws.town.clock().now())
                );
                let _ = record_fault(ws, &Subject::rig(&rig), step::REFINERY, error);
            }
        }
    }
    any
}

/// The daemon: holds the lock, patrols every `deacon.interval` and whenever
/// something happens, until `gt down` asks it to stop. Each rig's refinery
/// runs beside the patrol (a thread per rig), so a long gate never holds up
/// saving and restarting agents.
pub fn run_daemon(town: Town, caller: CallerEnv, log: &mut dyn std::io::Write) -> Result<()> {
    let mut lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock_path(&town))
        .map_err(|e| Error::io("cannot open the deacon lock", e))?;
    take_lock(&lock)?;
    // Who holds the lock, for `gt up` and `gt deacon status`.
    {
        use std::io::Write as _;
        let pid = std::process::id();
        lock.set_len(0)
            .and_then(|()| writeln!(lock, "{pid}"))
            .map_err(|e| Error::io("cannot write the deacon lock", e))?;
    }
    let _ = std::fs::remove_file(stop_path(&town));
    let mut config_seen = config_mtime(&town);
    let mut ws = Workspace::open(town, caller)?;
    // The settings in force (a town of several hosts: the store's).
    let mut interval = patrol_interval(&ws.town);
    let pid = std::process::id();
    ws.store.deacon_started(Some(pid))?;
    ws.store.append_event(
        NewEvent::new(kind::STARTED, format!("deacon started (pid {pid})"))
            .payload(json!({ "pid": pid })),
        ACTOR,
    )?;
    // This host comes up with a new epoch, which every heartbeat carries.
    let mut epoch = match crate::hosts::come_up(&ws, ACTOR) {
        Ok(h) => Some(h.epoch),
        Err(e) => {
            let _ = writeln!(
                log,
                "{} host {} cannot come up: {e}",
                format_ts(ws.town.clock().now()),
                ws.town.host_name()
            );
            None
        }
    };
    let _ = writeln!(
        log,
        "{} deacon started, pid {pid}, interval {interval:?}, host {} epoch {}",
        format_ts(ws.town.clock().now()),
        ws.town.host_name(),
        epoch.map_or("-".to_string(), |e| e.to_string())
    );
    let mut last_event = ws
        .store
        .events(&EventQuery {
            limit: Some(1),
            ..Default::default()
        })?
        .last()
        .map(|e| e.id)
        .unwrap_or(0);
    let mut next_patrol = Instant::now();
    let mut tick: u64 = 0;
    let mut woke = true;
    // This host's open sessions as last read: sessions change only by a
    // store write, which wakes the wait below, so they are read again only
    // then (and every 5 s), not on every check for dead panes.
    let mut open_here: Option<Vec<crate::session::Session>> = None;
    let stop_refineries = Arc::new(AtomicBool::new(false));
    let mut refineries: Vec<RefineryThread> = Vec::new();
    loop {
        if stop_path(&ws.town).exists() {
            break;
        }
        // The town was removed (or its state folder): nothing left to guard.
        if ws.town.is_gone() {
            let _ = writeln!(
                log,
                "{} town is gone; deacon exits",
                format_ts(ws.town.clock().now())
            );
            return Ok(());
        }
        let mut due = Instant::now() >= next_patrol;
        // A refinery that finished may have left more to do (and its rig's
        // agents may have new work): patrol now.
        if collect_refineries(&ws, &mut refineries, false, log) {
            due = true;
        }
        // Something happened (not by the deacon itself)? A store or tmux
        // that cannot be read now does not end the daemon: the patrol
        // (due at once) records it as the town's fault and goes on. Read
        // when the store said an event may have come (always, on SQLite),
        // and every 5 s whatever it said.
        let read_events = woke || tick.is_multiple_of(25);
        // A `config.set` seen: the settings are read again (in a town of
        // several hosts they are the store's, changed from any host).
        let mut settings_changed = false;
        let new_events = if read_events {
            ws.store.events(&EventQuery {
                after_id: Some(last_event),
                ..Default::default()
            })
        } else {
            Ok(Vec::new())
        };
        match new_events {
            Ok(new) => {
                if let Some(e) = new.last() {
                    last_event = e.id;
                }
                settings_changed = ws.town.is_shared()
                    && new.iter().any(|e| e.kind == crate::event::kind::CONFIG_SET);
                if new
                    .iter()
                    .any(|e| e.actor != ACTOR && WAKE_KINDS.contains(&e.kind.as_str()))
                {
                    due = true;
                }
            }
            Err(_) => due = due || tick.is_multiple_of(25),
        }
        // gt.toml changed (an agent added, a setting set), or the shared
        // settings did: patrol with them. Settings that do not load now
        // keep the ones in force.
        let seen = config_mtime(&ws.town);
        if seen != config_seen || settings_changed {
            config_seen = seen;
            match Town::open(ws.town.root()).and_then(|t| {
                let w = Workspace::open(t, ws.caller.clone())?;
                let i = patrol_interval(&w.town);
                Ok((w, i))
            }) {
                Ok((w, i)) => {
                    ws = w;
                    interval = i;
                    due = true;
                }
                Err(e) => {
                    let _ = writeln!(
                        log,
                        "{} the settings changed but cannot be used ({e}); the ones in force stay",
                        format_ts(ws.town.clock().now())
                    );
                }
            }
        }
        // Every second, look for panes that died (an agent exit makes no event).
        if woke || tick.is_multiple_of(25) {
            open_here = None;
        }
        if !due && tick.is_multiple_of(5) {
            let open = match open_here.take() {
                Some(o) => Ok(o),
                None => ws.open_sessions_here(None),
            };
            due = match &open {
                Ok(open) if open.is_empty() => false,
                Ok(open) => match ws.host.tmux.list_sessions() {
                    Ok(tmux) => open.iter().any(|s| {
                        !tmux
                            .iter()
                            .any(|t| t.name == s.tmux_session && !t.pane_dead)
                    }),
                    Err(_) => tick.is_multiple_of(25),
                },
                Err(_) => tick.is_multiple_of(25),
            };
            open_here = open.ok();
        }
        if due {
            // The patrol may start or end sessions.
            open_here = None;
            if let Err(e) = start_refineries(&ws, &mut refineries, &stop_refineries) {
                let _ = writeln!(
                    log,
                    "{} cannot start the refineries: {e}",
                    format_ts(ws.town.clock().now())
                );
            }
            host_step(&ws, &mut epoch, log);
            match patrol_with(&ws, false) {
                Ok(r) => {
                    for a in &r.actions {
                        let _ = writeln!(log, "{} {}: {}", r.started_at, a.kind, a.summary);
                    }
                    for f in &r.failures {
                        let _ = writeln!(
                            log,
                            "{} {} failed for {}: {}",
                            r.started_at, f.step, f.subject.subject, f.error
                        );
                    }
                }
                Err(e) => {
                    let _ = writeln!(
                        log,
                        "{} patrol failed: {e}",
                        format_ts(ws.town.clock().now())
                    );
                }
            }
            next_patrol = Instant::now() + interval;
        }
        tick += 1;
        // Until the next tick, or an event another process commits (a
        // PostgreSQL store wakes at once: a nudge queued for this host).
        woke = ws
            .store
            .wait_for_events(Duration::from_millis(200))
            .unwrap_or(true);
    }
    // Running gates are killed; their requests stay queued for next time.
    stop_refineries.store(true, Ordering::Relaxed);
    collect_refineries(&ws, &mut refineries, true, log);
    if let Err(err) = crate::hosts::release_leases(&ws) {
        let _ = writeln!(
            log,
            "{} leases not released: {err}",
            format_ts(ws.town.clock().now())
        );
    }
    if let Some(e) = epoch {
        if let Err(err) = crate::hosts::go_down(&ws, e, ACTOR) {
            let _ = writeln!(log, "{} host down: {err}", format_ts(ws.town.clock().now()));
        }
    }
    ws.store.deacon_started(None)?;
    ws.store
        .append_event(NewEvent::new(kind::STOPPED, "deacon stopped"), ACTOR)?;
    let _ = std::fs::remove_file(stop_path(&ws.town));
    let _ = writeln!(log, "{} deacon stopped", format_ts(ws.town.clock().now()));
    drop(lock);
    Ok(())
}

/// The patrol's host part: heartbeat at this daemon's epoch, declare stale
/// hosts dead (their work queued again). A fenced heartbeat means the town
/// declared this host dead meanwhile: its sessions were given to other
/// hosts, so the ones still running here are ended (work saved, screens
/// kept, reported in the log), and the host comes up at a new epoch.
fn host_step(ws: &Workspace, epoch: &mut Option<i64>, log: &mut dyn std::io::Write) {
    let now = || format_ts(ws.town.clock().now());
    match crate::hosts::patrol_step(ws, *epoch, ACTOR) {
        Ok(actions) => {
            for a in actions {
                let _ = writeln!(log, "{} host: {a}", now());
            }
        }
        Err(Error::Refused(m)) => {
            let _ = writeln!(log, "{} {m}", now());
            for line in crate::hosts::end_fenced_sessions(ws) {
                let _ = writeln!(log, "{} fenced: {line}", now());
            }
            match crate::hosts::come_up(ws, ACTOR) {
                Ok(h) => {
                    *epoch = Some(h.epoch);
                    let _ = writeln!(log, "{} host {} up again, epoch {}", now(), h.name, h.epoch);
                }
                Err(e) => {
                    *epoch = None;
                    let _ = writeln!(log, "{} host cannot come up: {e}", now());
                }
            }
        }
        Err(e) => {
            let _ = writeln!(log, "{} host heartbeat failed: {e}", now());
        }
    }
}

/// `gt up`: starts the daemon in the background (`gt deacon run`), detached
/// from the terminal. Returns the pid of the deacon that runs, and whether
/// it was already up. Several `gt up` at once start one deacon: they take
/// turns (a lock), and each reports the deacon that holds the town's lock.
pub fn up(town: &Town, gt_exe: &std::path::Path) -> Result<(u32, bool)> {
    use std::os::unix::process::CommandExt;
    let ws_lock = {
        let dir = run_dir(town);
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        let f = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("deacon-up.lock"))
            .map_err(|e| Error::io("cannot open the deacon start lock", e))?;
        f.lock()
            .map_err(|e| Error::io("cannot take the deacon start lock", e))?;
        f
    };
    if let Some(pid) = running_pid(town)? {
        return Ok((pid, true));
    }
    let log = File::options()
        .create(true)
        .append(true)
        .open(log_path(town))
        .map_err(|e| Error::io("cannot open the deacon log", e))?;
    let err = log
        .try_clone()
        .map_err(|e| Error::io("cannot open the deacon log", e))?;
    let mut child = std::process::Command::new(gt_exe)
        .arg("--town")
        .arg(town.root())
        .args(["deacon", "run"])
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(err)
        .current_dir(town.root())
        .process_group(0)
        .spawn()
        .map_err(|e| Error::io("cannot start the deacon", e))?;
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let exited = child
            .try_wait()
            .map_err(|e| Error::io("cannot wait for the deacon", e))?
            .is_some();
        match running_pid(town)? {
            // Ours, with its start recorded.
            Some(p) if p == pid && town.store()?.deacon_state()?.pid == Some(pid) => {
                drop(ws_lock);
                return Ok((pid, false));
            }
            // Another deacon (started by hand with `gt deacon run`) won.
            Some(p) if p != pid && exited => return Ok((p, true)),
            _ if exited => break,
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(Error::Environment(format!(
        "the deacon did not come up; see {}",
        log_path(town).display()
    )))
}

/// What `gt down` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Down {
    pub was_running: bool,
    pub sessions_ended: Vec<String>,
    pub work_saved: Vec<String>,
    /// Agents whose work could not be saved (e.g. a broken worktree), with
    /// why; their worktrees are left exactly as they were.
    pub not_saved: Vec<NotSaved>,
}

/// Work `gt down --all` could not commit; nothing of it was touched.
#[derive(Debug, Clone, Serialize)]
pub struct NotSaved {
    pub agent: String,
    pub worktree: PathBuf,
    pub error: String,
}

/// `gt down`: asks the daemon to stop and waits for it. With `all`, also
/// ends every agent session, committing their uncommitted work first.
pub fn down(town: &Town, all: bool, caller: CallerEnv) -> Result<Down> {
    let mut out = Down {
        was_running: is_running(town)?,
        ..Default::default()
    };
    if out.was_running {
        crate::fsutil::write_atomic(&stop_path(town), b"stop\n")?;
        let deadline = Instant::now() + Duration::from_secs(20);
        while is_running(town)? {
            if Instant::now() > deadline {
                return Err(Error::Environment(
                    "the deacon did not stop within 20s".into(),
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    if all {
        let ws = Workspace::open(town.clone(), caller)?;
        for s in ws.open_sessions_here(None)? {
            let wt = ws.worktree(&s.rig, &s.polecat);
            crate::screens::keep(&ws, &s, "stopped by gt down --all");
            let _ = ws.host.tmux.kill_session(&s.tmux_session);
            // A worktree that cannot be saved is reported and left as it is;
            // the other agents are still stopped.
            let saved = (|| -> Result<bool> {
                if wt.join(".git").exists() && crate::sling::own_worktree_dirty(&ws, &wt)? {
                    let msg = format!(
                        "WIP: saved by gt down --all ({})\n\nBead {}.",
                        s.agent(),
                        s.bead
                    );
                    return Ok(ws.host.git.commit_all(&wt, &msg)?.is_some());
                }
                Ok(false)
            })();
            match saved {
                Ok(true) => out.work_saved.push(s.agent()),
                Ok(false) => {}
                Err(e) => out.not_saved.push(NotSaved {
                    agent: s.agent(),
                    worktree: wt.clone(),
                    error: error_line(&e),
                }),
            }
            crate::costs::record_session_end_quietly(&ws, &s, "human");
            ws.store.end_session(s.id, end_reason::STOPPED, "human")?;
            out.sessions_ended.push(s.agent());
        }
    }
    Ok(out)
}

/// `gt deacon status`, and the deacon part of `gt status`: the one place
/// that decides whether the deacon is up.
#[derive(Debug, Clone, Serialize)]
pub struct DeaconStatus {
    /// `up`: a live process holds the deacon lock and its heartbeat is
    /// fresh (within three intervals). `stale`: it holds the lock but its
    /// heartbeat is old. `down`: no process holds the lock although the
    /// last one never said it stopped (it crashed or was killed).
    /// `stopped`: stopped by `gt down`. `never_started`: no deacon ever ran
    /// here (patrols run by hand with `gt deacon patrol --once` do not make
    /// it up).
    pub state: &'static str,
    pub up: bool,
    /// The heartbeat is older than three intervals (or missing) while running.
    pub stale: bool,
    /// The pid of the process holding the lock (none when it is not running).
    pub pid: Option<u32>,
    pub started_at: Option<String>,
    pub uptime_secs: Option<i64>,
    pub heartbeat_at: Option<String>,
    pub last_patrol_at: Option<String>,
    pub patrols: u64,
    pub actions: u64,
    pub interval: String,
    pub log: PathBuf,
}

pub fn status(town: &Town) -> Result<DeaconStatus> {
    status_in(town, &town.store()?)
}

/// [`status`] read through a store the caller has open already (`gt status`
/// opens one connection, not two).
pub fn status_in<S: DeaconStore + crate::store::HostStore + ?Sized>(
    town: &Town,
    store: &S,
) -> Result<DeaconStatus> {
    let mut st = store.deacon_state()?;
    let pid = running_pid(town)?;
    let running = is_running(town)?;
    let now = town.clock().now();
    // The interval in force: a town of several hosts keeps it in the store.
    let shared = town.shared_config(store)?;
    let deacon_config = &shared.as_ref().unwrap_or(&town.config).deacon;
    let interval = deacon_config.duration("interval");
    // In a town of several hosts the deacon record is every daemon's; this
    // host's own daemon is told by its host record: its heartbeat, and
    // whether it was left `up` (crashed) or went `down` on purpose.
    let mut recorded_up = st.pid.is_some();
    if town.is_shared() {
        match store.get_host(town.host_name()) {
            Ok(h) => {
                // Left up, or declared dead by another host: it never
                // recorded a stop.
                recorded_up = matches!(
                    h.state,
                    gt_core::host::HostState::Up | gt_core::host::HostState::Dead
                );
                st.started_at = (h.epoch > 0).then(|| h.state_at.clone());
                st.heartbeat_at = h.heartbeat_at;
            }
            Err(Error::NotFound { .. }) => {
                recorded_up = false;
                st.started_at = None;
                st.heartbeat_at = None;
            }
            Err(e) => return Err(e),
        }
    }
    let fresh = st
        .heartbeat_at
        .as_deref()
        .and_then(|h| parse_ts(h).ok())
        .is_some_and(|h| now - h <= interval * 3 + time::Duration::seconds(5));
    let state = match (running, fresh) {
        (true, true) => "up",
        (true, false) => "stale",
        // The last deacon recorded its start and never its stop.
        (false, _) if recorded_up => "down",
        (false, _) if st.started_at.is_some() => "stopped",
        (false, _) => "never_started",
    };
    Ok(DeaconStatus {
        state,
        up: state == "up",
        stale: state == "stale",
        pid: pid.filter(|_| running),
        uptime_secs: st
            .started_at
            .as_deref()
            .filter(|_| running)
            .and_then(|s| parse_ts(s).ok())
            .map(|s| (now - s).whole_seconds()),
        started_at: st.started_at,
        heartbeat_at: st.heartbeat_at,
        last_patrol_at: st.last_patrol_at,
        patrols: st.patrols,
        actions: st.actions,
        interval: deacon_config.interval.clone(),
        log: log_path(town),
    })
}
