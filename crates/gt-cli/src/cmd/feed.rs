//! `gt feed`: the live view of the town. On a terminal a full-screen
//! dashboard; with `--plain` (or when stdout is not a terminal) a
//! line-per-event stream that keeps following, like `tail -f`.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use clap::Args;
use gt_lib::clock::{format_ts, parse_since};
use gt_lib::feed::{FeedFilter, Follower};
use gt_lib::Error;

use crate::cmd::trail::render_event;
use crate::output::Ctx;

/// How often the plain feed looks for new events.
const POLL: Duration = Duration::from_millis(200);

#[derive(Debug, Args)]
pub struct FeedArgs {
    /// A line per event instead of the dashboard (the default when stdout
    /// is not a terminal); with --json, JSON Lines.
    #[arg(long)]
    plain: bool,
    /// Start with every event since a duration ago (30m, 1h, 2d) or a date/time.
    #[arg(long)]
    since: Option<String>,
    /// Without --since: start with the newest N events.
    #[arg(short = 'n', long, default_value_t = 10)]
    lines: usize,
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
    /// An agent alive but unchanged this long is stalled (dashboard).
    #[arg(long, default_value = "10m", value_name = "DURATION")]
    stall_after: String,
    /// An agent at its prompt holding work, quiet this long, is idle with work (dashboard).
    #[arg(long, default_value = "2m", value_name = "DURATION")]
    idle_after: String,
}

pub fn run(ctx: &Ctx, a: FeedArgs) -> Result<(), Error> {
    let town = ctx.town()?;
    let since = match &a.since {
        Some(s) => Some(format_ts(parse_since(s, town.clock().now())?)),
        None => None,
    };
    let filter = FeedFilter {
        actor: a.agent.clone(),
        rig: a.rig.clone(),
        bead: a.bead.clone(),
        kinds: a.kind.clone(),
    };
    if !a.plain && !ctx.json && std::io::stdout().is_terminal() && std::io::stdin().is_terminal() {
        let th = gt_lib::problems::Thresholds {
            stall: crate::cmd::town::threshold(&a.stall_after)?,
            idle: crate::cmd::town::threshold(&a.idle_after)?,
        };
        return crate::tui::run(town, ctx.caller.clone(), filter, since, th);
    }
    let store = town.store()?;
    let hosts = town.is_shared();
    let (mut follower, backlog) = Follower::start(&store, filter, since.as_deref(), a.lines)?;
    let mut out = std::io::stdout().lock();
    let mut write = |events: Vec<gt_lib::event::Event>| -> std::io::Result<()> {
        for e in &events {
            let line = if ctx.json {
                serde_json::to_string(e).unwrap_or_default()
            } else {
                render_event(ctx, e, hosts)
            };
            writeln!(out, "{line}")?;
        }
        out.flush()
    };
    // A closed pipe (`gt feed | head`) ends the feed quietly.
    if write(backlog).is_err() {
        return Ok(());
    }
    // Woken by the store when it can tell (PostgreSQL's LISTEN), else every
    // POLL; read anyway every 25 waits in case a notification was lost.
    let mut quiet = 0u32;
    loop {
        let woke = store.wait_for_events(POLL).unwrap_or(true);
        quiet += 1;
        if !woke && quiet < 25 {
            continue;
        }
        quiet = 0;
        let events = follower.poll(&store)?;
        if !events.is_empty() && write(events).is_err() {
            return Ok(());
        }
    }
}
