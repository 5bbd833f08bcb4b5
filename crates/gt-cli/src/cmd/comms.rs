//! `gt nudge`, `gt broadcast`, `gt escalate`, `gt handoff` and the hidden
//! `gt agent-report` used by runtime hooks.

use clap::{Args, Subcommand};
use gt_lib::escalate::{self, Escalation, Severity};
use gt_lib::nudge::{self, Mode};
use gt_lib::Error;

use crate::output::{one_line, Ctx};

#[derive(Debug, Args)]
pub struct NudgeArgs {
    /// The agent: RIG/POLECAT.
    agent: String,
    /// immediate, wait-idle (default; immediate for agents without a ready pattern or hooks) or queue.
    #[arg(long, default_value = "wait-idle")]
    mode: String,
    /// With wait-idle: seconds to wait before queueing.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// Send the text as mail if the agent has no live session.
    #[arg(long)]
    or_mail: bool,
    /// The text (at most 8 KiB), typed verbatim then Enter. Put it after `--`
    /// when it starts with `-`.
    #[arg(required = true, num_args = 1.., allow_hyphen_values = true)]
    message: Vec<String>,
}

pub fn nudge(ctx: &Ctx, a: NudgeArgs) -> Result<(), Error> {
    let mode: Mode = a.mode.parse()?;
    let message = a.message.join(" ");
    // Hostile or oversized text is refused before the town is touched.
    nudge::sanitize(&message)?;
    let ws = ctx.workspace()?;
    let actor = ctx.actor()?;
    let out = if a.or_mail {
        nudge::nudge_or_mail(&ws, &a.agent, &message, mode, &actor)?
    } else {
        nudge::nudge_with(
            &ws,
            &a.agent,
            &message,
            mode,
            std::time::Duration::from_secs(a.timeout),
            &actor,
        )?
    };
    if ctx.json {
        return ctx.print_json(&out);
    }
    match out.status.as_str() {
        "queued" => ctx.say(&format!(
            "queued for {} (nudge {}){}",
            out.agent,
            out.id.unwrap_or(0),
            out.host
                .as_deref()
                .map(|h| format!(": it runs on host {h}, whose deacon delivers it"))
                .unwrap_or_default()
        )),
        "mailed" => ctx.say(&format!(
            "{} has no live session: sent as mail {}",
            out.agent,
            out.id.unwrap_or(0)
        )),
        _ => ctx.say(&format!("nudged {}", out.agent)),
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct BroadcastArgs {
    /// Only the agents of this rig.
    #[arg(long)]
    rig: Option<String>,
    #[arg(required = true, num_args = 1.., allow_hyphen_values = true)]
    message: Vec<String>,
}

pub fn broadcast(ctx: &Ctx, a: BroadcastArgs) -> Result<(), Error> {
    let message = a.message.join(" ");
    nudge::sanitize(&message)?;
    let ws = ctx.workspace()?;
    let results = nudge::broadcast(&ws, a.rig.as_deref(), &message, &ctx.actor()?)?;
    if ctx.json {
        let v: Vec<_> = results
            .iter()
            .map(gt_lib::views::BroadcastResult::from_outcome)
            .collect();
        return ctx.print_json(&v);
    }
    let ok = results.iter().filter(|r| r.is_ok()).count();
    for r in &results {
        if let Err((agent, e)) = r {
            ctx.say(&format!("{agent}: {}", one_line(e)));
        }
    }
    ctx.say(&format!("nudged {ok} agent(s)"));
    Ok(())
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct EscalateArgs {
    #[command(subcommand)]
    cmd: Option<EscalateCmd>,
    /// critical, high (default) or medium.
    #[arg(short = 's', long, default_value = "high")]
    severity: String,
    /// Act as this address (default: $GT_AGENT, else human).
    #[arg(long = "as", value_name = "ADDRESS")]
    as_: Option<String>,
    /// What blocks you.
    #[arg(num_args = 1..)]
    message: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum EscalateCmd {
    /// Escalations (open ones unless --all).
    List {
        #[arg(long)]
        all: bool,
    },
    /// Acknowledge an escalation (its id or bead id).
    Ack { id: String },
}

fn print_escalation(ctx: &Ctx, e: &Escalation) {
    let state = if e.acked_at.is_some() {
        ctx.dim("acked")
    } else {
        ctx.bold("open")
    };
    ctx.out(&format!(
        "{:>4}  {}  {:<8} {:<5} {:<16} {}",
        e.id,
        e.bead,
        e.severity,
        state,
        one_line(&e.from),
        one_line(&e.message.chars().take(100).collect::<String>())
    ));
}

pub fn escalate(ctx: &Ctx, a: EscalateArgs) -> Result<(), Error> {
    let ws = ctx.workspace()?;
    let actor = ctx.actor()?;
    match a.cmd {
        Some(EscalateCmd::List { all }) => {
            let list = escalate::list(&ws, all)?;
            if ctx.json {
                return ctx.print_json(&list);
            }
            if list.is_empty() {
                ctx.say("no open escalations");
            }
            for e in &list {
                print_escalation(ctx, e);
            }
            Ok(())
        }
        Some(EscalateCmd::Ack { id }) => {
            let e = escalate::ack(&ws, &id, &actor)?;
            if ctx.json {
                return ctx.print_json(&e);
            }
            ctx.say(&format!("acknowledged escalation {} ({})", e.id, e.bead));
            Ok(())
        }
        None => {
            if a.message.is_empty() {
                return Err(Error::invalid(
                    "say what blocks you: gt escalate [-s critical|high|medium] MESSAGE",
                ));
            }
            let severity: Severity = a.severity.parse()?;
            let from = gt_lib::mail::caller(&ws, a.as_.as_deref())?;
            let e = escalate::escalate(&ws, &from, severity, &a.message.join(" "), &actor)?;
            if ctx.json {
                return ctx.print_json(&e);
            }
            if ctx.quiet {
                ctx.out(&e.bead);
                return Ok(());
            }
            ctx.out(&format!(
                "escalated ({}) as {}: mailed mayor and human",
                e.severity, e.bead
            ));
            Ok(())
        }
    }
}

#[derive(Debug, Args)]
pub struct HandoffArgs {
    /// A note for your next session (mailed to yourself; `gt prime` shows it).
    #[arg(short = 'm', long = "message")]
    message: Option<String>,
}

pub fn handoff(ctx: &Ctx, a: HandoffArgs) -> Result<(), Error> {
    let ws = ctx.workspace()?;
    let cwd =
        std::env::current_dir().map_err(|e| Error::io("cannot read the current directory", e))?;
    // The restart replaces this very process: nothing is printed after it.
    let h = escalate::handoff(&ws, &cwd, a.message.as_deref(), &ctx.actor()?)?;
    if ctx.json {
        return ctx.print_json(&h);
    }
    ctx.say(&format!(
        "{} handed off: new session {} on {}",
        h.agent, h.session.id, h.bead
    ));
    Ok(())
}

#[derive(Debug, Args)]
pub struct AgentReportArgs {
    /// working, idle, waiting-for-input, error or rate-limited.
    #[arg(long, required_unless_present = "hook", conflicts_with = "hook")]
    state: Option<String>,
    /// A runtime hook's payload on stdin: session-start, stop, session-end or
    /// status-line (Claude Code: records the conversation id, usage and
    /// cost), model-request (Gemini CLI's BeforeModel: a retried request
    /// reports `error`); always exits 0.
    #[arg(long, value_name = "EVENT")]
    hook: Option<String>,
    /// With --hook: copy the payload to stdout first (gt's status-line
    /// command pipes it on to the user's own status line).
    #[arg(long, requires = "hook", hide = true)]
    tee: bool,
    /// The agent (default: $GT_AGENT).
    #[arg(long = "as", value_name = "ADDRESS")]
    as_: Option<String>,
}

pub fn agent_report(ctx: &Ctx, a: AgentReportArgs) -> Result<(), Error> {
    let (Some(state), None) = (a.state, &a.hook) else {
        return crate::cmd::costs::hook(ctx, a.hook.as_deref().unwrap_or_default(), a.tee);
    };
    gt_lib::agent_hooks::validate_state(&state)?;
    let ws = ctx.workspace()?;
    let agent =
        match a.as_ {
            Some(x) => x,
            None => ctx.caller.agent().map(str::to_string).ok_or_else(|| {
                Error::refused("not inside an agent session: give --as RIG/POLECAT")
            })?,
        };
    gt_lib::agent_hooks::report(&ws, &agent, &state)
}

#[derive(Debug, Args)]
pub struct AgentStateArgs {
    /// The agent: RIG/POLECAT.
    agent: String,
}

/// `gt agent-state AGENT`: what the agent is doing and how that was learned.
pub fn agent_state(ctx: &Ctx, a: AgentStateArgs) -> Result<(), Error> {
    let ws = ctx.workspace()?;
    let v = gt_lib::agent_hooks::observe(&ws, &a.agent)?;
    if ctx.json {
        return ctx.print_json(&v);
    }
    ctx.out(&format!("{}: {} (from {})", v.agent, v.state, v.source));
    Ok(())
}
