//! `gt up`, `gt down`, `gt deacon …`, `gt scheduler …`.

use clap::{Args, Subcommand};
use gt_lib::deacon;
use gt_lib::scheduler;
use gt_lib::store::deacon::DeaconStore;
use gt_lib::workspace::Workspace;
use gt_lib::Error;

use crate::output::{one_line, Ctx};

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Also end every agent session of the town (their uncommitted work is committed first).
    #[arg(long)]
    all: bool,
}

#[derive(Debug, Subcommand)]
pub enum DeaconCmd {
    /// Is the deacon up? pid, uptime, last patrol, actions taken.
    Status,
    /// Run patrols: `--once` runs exactly one in the foreground and prints what it did.
    Patrol {
        #[arg(long, required = true)]
        once: bool,
    },
    /// The daemon loop in the foreground (what `gt up` starts in the background).
    #[command(hide = true)]
    Run,
}

#[derive(Debug, Subcommand)]
pub enum SchedulerCmd {
    /// Capacity, live sessions, queued beads.
    Status,
    /// Stop dispatching queued beads.
    Pause,
    /// Dispatch queued beads again.
    Resume,
}

pub fn up(ctx: &Ctx) -> Result<(), Error> {
    let town = ctx.town()?;
    // A damaged database is told here, not as "did not come up" from the log.
    drop(town.store()?);
    let exe = std::env::current_exe().map_err(|e| Error::io("cannot find the gt binary", e))?;
    let (pid, already) = deacon::up(&town, &exe)?;
    // Agents stopped by `gt down --all` go on where they were.
    let ws = Workspace::open(town.clone(), ctx.caller.clone())?;
    let r = gt_lib::sling::resume_stopped(&ws, &ctx.actor()?)?;
    if ctx.json {
        return ctx.print_json(&gt_lib::views::DeaconUp::new(pid, already, r));
    }
    if already {
        ctx.say(&format!("The deacon is already up (pid {pid})."));
    } else {
        ctx.say(&format!(
            "The deacon is up (pid {pid}); log: {}",
            deacon::log_path(&town).display()
        ));
    }
    for s in &r.resumed {
        ctx.say(&format!(
            "Resumed {} on {} (stopped by gt down --all).",
            one_line(&s.agent),
            one_line(&s.bead)
        ));
    }
    for n in &r.not_resumed {
        ctx.say(&format!(
            "Could not resume {} on {}: {}; try gt resume {}",
            one_line(&n.agent),
            one_line(&n.bead),
            one_line(&n.error),
            one_line(&n.bead)
        ));
    }
    Ok(())
}

pub fn down(ctx: &Ctx, a: DownArgs) -> Result<(), Error> {
    let town = ctx.town()?;
    let d = deacon::down(&town, a.all, ctx.caller.clone())?;
    if ctx.json {
        return ctx.print_json(&d);
    }
    ctx.say(if d.was_running {
        "The deacon stopped."
    } else {
        "The deacon was not running."
    });
    if a.all {
        ctx.say(&format!(
            "Ended {} agent session(s); saved uncommitted work of {}.",
            d.sessions_ended.len(),
            if d.work_saved.is_empty() {
                "none".to_string()
            } else {
                d.work_saved.join(", ")
            }
        ));
        for n in &d.not_saved {
            ctx.out(&format!(
                "Could not save the work of {} (left as it is in {}): {}",
                crate::output::one_line(&n.agent),
                n.worktree.display(),
                crate::output::one_line(&n.error)
            ));
        }
    }
    Ok(())
}

pub fn run(ctx: &Ctx, c: DeaconCmd) -> Result<(), Error> {
    let town = ctx.town()?;
    match c {
        DeaconCmd::Status => {
            let s = deacon::status(&town)?;
            if ctx.json {
                return ctx.print_json(&s);
            }
            if s.up {
                ctx.out(&format!(
                    "deacon: up (pid {}), up for {}s, patrol every {}",
                    s.pid.unwrap_or(0),
                    s.uptime_secs.unwrap_or(0),
                    s.interval
                ));
            } else if s.stale {
                ctx.out(&format!(
                    "deacon: STALE (pid {} holds the lock but its heartbeat is old)",
                    s.pid.unwrap_or(0)
                ));
            } else if s.state == "down" {
                ctx.out("deacon: DOWN (it did not stop cleanly; start it with gt up)");
            } else if s.state == "stopped" {
                ctx.out("deacon: stopped (start it with gt up)");
            } else {
                ctx.out("deacon: down (never started; start it with gt up)");
            }
            ctx.out(&format!(
                "last patrol: {}   patrols: {}   actions: {}",
                s.last_patrol_at
                    .as_deref()
                    .map_or("never".into(), crate::output::ts),
                s.patrols,
                s.actions
            ));
            ctx.out(&format!("log: {}", s.log.display()));
            Ok(())
        }
        DeaconCmd::Patrol { .. } => {
            let ws = Workspace::open(town, ctx.caller.clone())?;
            let r = deacon::patrol(&ws)?;
            if ctx.json {
                return ctx.print_json(&r);
            }
            if r.actions.is_empty() {
                ctx.say(&format!(
                    "Patrol: {} session(s) checked, nothing to do ({} ms).",
                    r.sessions_checked, r.duration_ms
                ));
            }
            for a in &r.actions {
                ctx.out(&format!("{:<22} {}", a.kind, one_line(&a.summary)));
            }
            Ok(())
        }
        DeaconCmd::Run => {
            let mut log = std::io::stderr();
            deacon::run_daemon(town, ctx.caller.clone(), &mut log)
        }
    }
}

pub fn scheduler(ctx: &Ctx, c: SchedulerCmd) -> Result<(), Error> {
    let ws = ctx.workspace()?;
    match c {
        SchedulerCmd::Pause => ws.store.set_scheduler_paused(true, &ctx.actor()?)?,
        SchedulerCmd::Resume => ws.store.set_scheduler_paused(false, &ctx.actor()?)?,
        SchedulerCmd::Status => {}
    }
    let s = scheduler::status(&ws)?;
    if ctx.json {
        return ctx.print_json(&s);
    }
    ctx.out(&format!(
        "scheduler: {}   live: {}   max: {}   queued: {}",
        if s.paused { "paused" } else { "running" },
        s.live,
        s.max_polecats
            .map(|n| n.to_string())
            .unwrap_or_else(|| "unlimited".into()),
        s.queued
    ));
    Ok(())
}
