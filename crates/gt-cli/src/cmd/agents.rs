//! `gt agents`, `gt peek`, `gt attach`.

use clap::Args;
use gt_lib::sling;
use gt_lib::workspace::Workspace;
use gt_lib::Error;

use crate::output::{clean, one_line, Ctx};
use clap::builder::styling::{AnsiColor, Style};
use gt_lib::problems;

#[derive(Debug, Args)]
pub struct AgentsArgs {
    /// How many ended sessions to show besides the open ones.
    #[arg(long, default_value_t = 10)]
    recent: usize,
}

pub fn agents(ctx: &Ctx, a: AgentsArgs) -> Result<(), Error> {
    let ws = ctx.workspace()?;
    let list = sling::agents(&ws, a.recent)?;
    if ctx.json {
        return ctx.print_json(&list);
    }
    if list.is_empty() {
        ctx.say("No agent sessions yet: gt sling \"a task\" RIG");
        return Ok(());
    }
    let now = ws.town.clock().now();
    for l in render_agents(ctx, &list, now) {
        ctx.out(&l);
    }
    Ok(())
}

/// One line per session: agent, bead, liveness, state, last activity,
/// problem, runtime, end reason.
pub fn render_agents(
    ctx: &Ctx,
    list: &[sling::AgentView],
    now: time::OffsetDateTime,
) -> Vec<String> {
    let mut out = vec![ctx.dim(&format!(
        "{:<22} {:<10} {:<12} {:<26} {:<14} {:<19} {:<10} {}",
        "AGENT", "BEAD", "LIVE", "STATE", "LAST ACTIVITY", "PROBLEM", "RUNTIME", "ENDED"
    ))];
    for v in list {
        let live = match (v.live.as_str(), v.exit_code) {
            ("exited", Some(c)) => format!("exited({c})"),
            ("remote", _) => format!("on {}", v.host.as_deref().unwrap_or("?")),
            (l, _) => l.to_string(),
        };
        // An ended row shows its own end, never what its polecat does now.
        let ended = v.ended_at.is_some();
        let state = v
            .state
            .map(|s| s.as_str())
            .or(v.polecat_state.filter(|_| !ended).map(|s| s.as_str()))
            .unwrap_or("-");
        // How it was learned, e.g. `idle (hook)`, `waiting_for_input (screen)`.
        let state = match v.state_source.filter(|_| v.state.is_some()) {
            Some(src) => format!("{state} ({src})"),
            None => state.to_string(),
        };
        let last = if v.last_activity.is_some() {
            problems::ago(now, v.last_activity.as_deref())
        } else {
            "-".to_string()
        };
        let problem = match v.problem {
            Some(p) => ctx.paint(
                Style::new().fg_color(Some(AnsiColor::Red.into())).bold(),
                &format!("{:<19}", p.as_str()),
            ),
            None => format!("{:<19}", "-"),
        };
        out.push(format!(
            "{} {:<10} {:<12} {:<26} {:<14} {} {:<10} {}",
            ctx.bold(&format!("{:<22}", one_line(&v.agent))),
            one_line(&v.bead),
            live,
            state,
            last,
            problem,
            one_line(&v.runtime),
            ended_text(v)
        ));
    }
    out
}

/// The ENDED column: the end reason, and the last line of the kept screen
/// when the pane is gone (at most 60 characters of it).
fn ended_text(v: &sling::AgentView) -> String {
    let reason = one_line(v.end_reason.as_deref().unwrap_or(""));
    match v.last_screen.as_deref() {
        Some(l) => {
            let l = one_line(l);
            let short: String = l.chars().take(60).collect();
            let more = if short.len() < l.len() { "…" } else { "" };
            format!("{reason} — {short}{more}").trim_start().to_string()
        }
        None => reason,
    }
}

#[derive(Debug, Args)]
pub struct PeekArgs {
    /// RIG/POLECAT
    agent: String,
    #[arg(short = 'n', long, default_value_t = 30)]
    lines: usize,
}

pub fn peek(ctx: &Ctx, a: PeekArgs) -> Result<(), Error> {
    let ws = ctx.workspace()?;
    let last_lines = |text: &str| {
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(a.lines)..].join("\n")
    };
    // Running on another host: the screen that host stored.
    if let Some((host, stored)) = sling::remote_screen(&ws, &a.agent)? {
        let screen = last_lines(&stored.screen);
        if ctx.json {
            return ctx.print_json(&gt_lib::views::Screen {
                session: sling::remote_session_name(&a.agent)?,
                agent: a.agent,
                screen,
                ended: None,
                remote: Some(gt_lib::views::RemoteScreen {
                    host,
                    session_id: stored.session_id,
                    captured_at: stored.captured_at,
                }),
            });
        }
        ctx.say(&ctx.dim(&format!(
            "{} runs on host {}; its screen as that host stored it at {}:",
            one_line(&a.agent),
            one_line(&host),
            stored.captured_at
        )));
        ctx.out(&clean(&screen));
        return Ok(());
    }
    let name = match sling::agent_session(&ws, &a.agent) {
        Ok(name) => name,
        // The pane is gone: the last screen gt kept of its latest session.
        Err(e @ Error::Refused(_)) => {
            let Some(kept) = sling::last_screen(&ws, &a.agent)? else {
                return Err(e);
            };
            let screen = last_lines(&kept.screen);
            if ctx.json {
                return ctx.print_json(&gt_lib::views::Screen {
                    agent: a.agent,
                    screen,
                    session: kept.tmux_session,
                    ended: Some(gt_lib::views::EndedScreen {
                        session_id: kept.session,
                        why: kept.why,
                        captured_at: kept.captured_at,
                    }),
                    remote: None,
                });
            }
            ctx.say(&ctx.dim(&format!(
                "{} has no live session; its last screen (session {}, {}, at {}):",
                one_line(&a.agent),
                kept.session,
                one_line(&kept.why),
                kept.captured_at
            )));
            ctx.out(&clean(&screen));
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let screen = ws.host.tmux.capture_pane(&name, a.lines.min(10_000))?;
    if ctx.json {
        return ctx.print_json(&gt_lib::views::Screen {
            agent: a.agent,
            screen,
            session: name,
            ended: None,
            remote: None,
        });
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
    let ws = ctx.workspace()?;
    let mut cmd = tmux_attach(&ws, &a.agent)?;
    crate::output::require_terminal("gt attach", "gt peek AGENT shows the screen without one")?;
    let err = cmd.exec();
    Err(Error::Environment(format!("cannot run tmux: {err}")))
}

/// The one way gt attaches a terminal to an agent's session (`gt attach`
/// replaces itself with it, the dashboard's `a` runs it until detach): tmux
/// on the town's private socket, outside any tmux the caller is in.
pub fn tmux_attach(ws: &Workspace, agent: &str) -> Result<std::process::Command, Error> {
    let name = sling::agent_session(ws, agent)?;
    let argv = ws.host.tmux.attach_command(&name)?;
    let mut cmd = std::process::Command::new(&argv[0]);
    cmd.args(&argv[1..]).env_remove("TMUX");
    Ok(cmd)
}
