//! `gt agents`, `gt peek`, `gt attach`.

use clap::Args;
use gt_lib::sling;
use gt_lib::workspace::Workspace;
use gt_lib::Error;

use crate::output::{clean, Ctx};

#[derive(Debug, Args)]
pub struct AgentsArgs {
    /// How many ended sessions to show besides the open ones.
    #[arg(long, default_value_t = 10)]
    recent: usize,
}

pub fn agents(ctx: &Ctx, a: AgentsArgs) -> Result<(), Error> {
    let ws = Workspace::open(ctx.town()?)?;
    let list = sling::agents(&ws, a.recent)?;
    if ctx.json {
        return ctx.print_json(&list);
    }
    if list.is_empty() {
        ctx.say("No agent sessions yet: gt sling \"a task\" RIG");
    }
    for v in list {
        let live = match (v.live.as_str(), v.exit_code) {
            ("exited", Some(c)) => format!("exited({c})"),
            (l, _) => l.to_string(),
        };
        ctx.out(&format!(
            "{:<22} {:<10} {:<12} {:<9} {:<8} {}",
            ctx.bold(&v.agent),
            v.bead,
            live,
            v.polecat_state.map(|s| s.as_str()).unwrap_or("-"),
            v.runtime,
            v.end_reason.as_deref().unwrap_or("")
        ));
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct PeekArgs {
    /// RIG/POLECAT
    agent: String,
    #[arg(short = 'n', long, default_value_t = 30)]
    lines: usize,
}

pub fn peek(ctx: &Ctx, a: PeekArgs) -> Result<(), Error> {
    let ws = Workspace::open(ctx.town()?)?;
    let name = sling::agent_session(&ws, &a.agent)?;
    let screen = ws.tmux.capture_pane(&name, a.lines.min(10_000))?;
    if ctx.json {
        return ctx.print_json(
            &serde_json::json!({ "agent": a.agent, "session": name, "screen": screen }),
        );
    }
    ctx.out(&clean(&screen));
    Ok(())
}

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// RIG/POLECAT
    agent: String,
}

pub fn attach(ctx: &Ctx, a: AttachArgs) -> Result<(), Error> {
    use std::os::unix::process::CommandExt;
    let ws = Workspace::open(ctx.town()?)?;
    let name = sling::agent_session(&ws, &a.agent)?;
    let argv = ws.tmux.attach_command(&name)?;
    let err = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .env_remove("TMUX")
        .exec();
    Err(Error::Environment(format!("cannot run tmux: {err}")))
}
