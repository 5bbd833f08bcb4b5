//! The loop: `gt sling`, `gt hook`, `gt prime`, `gt done`, `gt resume`.

use clap::Args;
use gt_lib::sling::{self, DoneArgs, SlingRequest, Slung};
use gt_lib::store::DoneStatus;
use gt_lib::Error;

use crate::output::{one_line, Ctx};

#[derive(Debug, Args)]
pub struct SlingArgs {
    /// Bead ids or task descriptions, optionally followed by a TARGET (a rig or RIG/POLECAT).
    /// With --formula: at most the rig.
    #[arg(required_unless_present = "formula", num_args = 1..)]
    work: Vec<String>,
    /// Make a molecule of this formula instead (as `gt formula run`).
    #[arg(long, value_name = "NAME")]
    formula: Option<String>,
    /// A variable of --formula (repeatable).
    #[arg(long = "var", value_name = "KEY=VALUE", requires = "formula")]
    vars: Vec<String>,
    /// The agent runtime (default: the rig's, then the town's, then claude).
    #[arg(long)]
    agent: Option<String>,
    /// The rig (or RIG/POLECAT) when no TARGET is given.
    #[arg(long)]
    rig: Option<String>,
    /// Take over a bead hooked to a live agent.
    #[arg(long)]
    force: bool,
    /// Put the items in this convoy (created when new); two or more items
    /// always travel in a convoy.
    #[arg(long)]
    convoy: Option<String>,
    /// Start it on this host of the town (`gt host list`); on another host
    /// it is queued for that host's daemon.
    #[arg(long, value_name = "NAME")]
    host: Option<String>,
}

fn cwd() -> Result<std::path::PathBuf, Error> {
    std::env::current_dir().map_err(|e| Error::io("cannot read the current directory", e))
}

pub fn sling(ctx: &Ctx, a: SlingArgs) -> Result<(), Error> {
    let ws = ctx.workspace()?;
    if let Some(name) = a.formula {
        let rig = match (a.rig, a.work.as_slice()) {
            (Some(r), []) => Some(r),
            (None, [r]) => Some(r.clone()),
            (None, []) => None,
            _ => {
                return Err(Error::invalid(
                    "with --formula, give at most the rig (the formula says the work)",
                ))
            }
        };
        let req = gt_lib::formula::RunRequest {
            formula: name,
            vars: crate::cmd::formula::parse_vars(&a.vars)?,
            rig,
            agent: a.agent,
        };
        let m = gt_lib::formula::run(&ws, &req, &ctx.actor()?)?;
        return crate::cmd::formula::print_run(ctx, &m);
    }
    let req = SlingRequest {
        work: a.work,
        rig: a.rig,
        agent: a.agent,
        force: a.force,
        cwd: cwd()?,
        dispatching: false,
        convoy: a.convoy,
        host: a.host,
    };
    let slung = sling::sling(&ws, &req, &ctx.actor()?)?;
    for s in &slung {
        print_slung(ctx, s)?;
    }
    Ok(())
}

fn print_slung(ctx: &Ctx, s: &Slung) -> Result<(), Error> {
    if ctx.json {
        // One object per line (JSON Lines), one line per item.
        ctx.out(&serde_json::to_string(s).map_err(|e| Error::Internal(e.to_string()))?);
        return Ok(());
    }
    if ctx.quiet {
        ctx.out(&s.bead);
        return Ok(());
    }
    if s.queued {
        match &s.host {
            Some(h) => ctx.out(&format!(
                "Queued {} for rig {} on host {h} (its deacon starts it): {}",
                ctx.bold(&s.bead),
                s.rig,
                one_line(&s.title)
            )),
            None => ctx.out(&format!(
                "Queued {} for rig {} (the town is at capacity; the deacon starts it when a place frees): {}",
                ctx.bold(&s.bead),
                s.rig,
                one_line(&s.title)
            )),
        }
        return Ok(());
    }
    ctx.out(&format!(
        "Slung {} to {} ({}) on {}: {}",
        ctx.bold(&s.bead),
        ctx.bold(&s.agent),
        s.runtime,
        s.branch,
        one_line(&s.title)
    ));
    ctx.out(&ctx.dim(&format!(
        "  watch: gt peek {}   attach: gt attach {}",
        s.agent, s.agent
    )));
    if let Some(reason) = &s.waiting_for_input {
        let hint = if reason == "folder_trust" {
            format!(
                " (gt rig trust {} lets agents work there unattended)",
                s.rig
            )
        } else {
            String::new()
        };
        eprintln!(
            "note: {} is waiting at a {} dialog; gt does not answer it: gt attach {}{hint}",
            s.agent,
            reason.replace('_', " "),
            s.agent
        );
    }
    Ok(())
}

pub fn hook(ctx: &Ctx) -> Result<(), Error> {
    let ws = ctx.workspace()?;
    let h = sling::hook(&ws, &cwd()?)?;
    if ctx.json {
        return ctx.print_json(&h);
    }
    ctx.out(&format!(
        "{}: {} {}",
        h.agent,
        ctx.bold(&h.bead.id),
        one_line(&h.bead.title)
    ));
    ctx.out(&format!(
        "branch {}  worktree {}",
        h.branch,
        h.worktree.display()
    ));
    Ok(())
}

pub fn prime(ctx: &Ctx) -> Result<(), Error> {
    let ws = ctx.workspace()?;
    let md = sling::prime(&ws, &cwd()?)?;
    if ctx.json {
        return ctx.print_json(&gt_lib::views::Briefing { markdown: md });
    }
    ctx.out(md.trim_end());
    Ok(())
}

#[derive(Debug, Args)]
pub struct DoneCmdArgs {
    /// completed (default), escalated or deferred.
    #[arg(long)]
    status: Option<String>,
    /// A note for the bead.
    #[arg(short = 'm', long = "message")]
    message: Option<String>,
    /// Commit uncommitted changes as they are.
    #[arg(long)]
    wip: bool,
    /// The work needed no code changes.
    #[arg(long)]
    no_changes: bool,
}

pub fn done(ctx: &Ctx, a: DoneCmdArgs) -> Result<(), Error> {
    let status = a
        .status
        .as_deref()
        .map(str::parse::<DoneStatus>)
        .transpose()?;
    let ws = ctx.workspace()?;
    let args = DoneArgs {
        status,
        note: a.message,
        wip: a.wip,
        no_changes: a.no_changes,
    };
    let r = sling::done(&ws, &cwd()?, &args, &ctx.actor()?)?;
    if ctx.json {
        return ctx.print_json(&r);
    }
    match &r.outcome.merge_request {
        Some(mr) => ctx.say(&format!(
            "Done: {} ({} commit(s) on {}) queued for merge as request {}",
            r.bead, r.commits, r.branch, mr.id
        )),
        None => ctx.say(&format!(
            "Done: {} is now {}",
            r.bead, r.outcome.bead.status
        )),
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct ResumeArgs {
    bead: String,
    /// Use another agent runtime than the last session's.
    #[arg(long)]
    agent: Option<String>,
}

pub fn resume(ctx: &Ctx, a: ResumeArgs) -> Result<(), Error> {
    let ws = ctx.workspace()?;
    let s = sling::resume(&ws, &a.bead, a.agent.as_deref(), &ctx.actor()?)?;
    print_slung(ctx, &s)
}
