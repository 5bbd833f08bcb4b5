//! `gt trail`: recent events, newest last.

use clap::Args;
use gt_lib::clock::{format_ts, parse_since};
use gt_lib::event::{Event, EventQuery};
use gt_lib::store::EventStore;
use gt_lib::Error;

use crate::output::{one_line, Ctx};

#[derive(Debug, Args)]
pub struct TrailArgs {
    /// How many events (the newest N).
    #[arg(short = 'n', long, default_value_t = 20)]
    limit: usize,
    /// Only events since a duration ago (30m, 1h, 2d) or a date/time.
    #[arg(long)]
    since: Option<String>,
    /// Only events by this actor.
    #[arg(long)]
    agent: Option<String>,
    /// Only events of this rig.
    #[arg(long)]
    rig: Option<String>,
    /// Only events about this bead.
    #[arg(long)]
    bead: Option<String>,
    /// Only events of this kind (`bead` matches every `bead.*`); repeatable.
    #[arg(long)]
    kind: Vec<String>,
}

pub fn run(ctx: &Ctx, a: TrailArgs) -> Result<(), Error> {
    let town = ctx.town()?;
    let store = town.store()?;
    let since = match &a.since {
        Some(s) => Some(format_ts(parse_since(s, town.clock().now())?)),
        None => None,
    };
    let events = store.events(&EventQuery {
        since,
        actor: a.agent,
        rig: a.rig,
        bead: a.bead,
        kinds: a.kind,
        limit: Some(a.limit),
        ..Default::default()
    })?;
    if ctx.json {
        return ctx.print_json(&events);
    }
    for e in &events {
        ctx.out(&render_event(ctx, e, town.is_shared()));
    }
    Ok(())
}

/// One human line: time, actor, summary; with `hosts` (a town of several
/// hosts) the host that made the change comes after the time.
pub fn render_event(ctx: &Ctx, e: &Event, hosts: bool) -> String {
    let time = crate::output::ts(&e.time);
    let host = if hosts {
        format!("{:<12} ", one_line(e.host.as_deref().unwrap_or("-")))
    } else {
        String::new()
    };
    format!(
        "{}  {host}{:<14} {}",
        ctx.dim(&time),
        one_line(&e.actor),
        one_line(&e.summary)
    )
}
