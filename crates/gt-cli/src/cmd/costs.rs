//! `gt costs`: token usage and cost per agent, rig, bead or day; and the
//! Claude Code hook reports (`gt agent-report --hook …`) that record them.

use std::io::{Read, Write};

use clap::Args;
use gt_lib::clock::{format_ts, parse_since};
use gt_lib::costs::{self, HookEvent};
use gt_lib::store::costs::{CostGroup, CostTotals};
use gt_lib::Error;

use crate::output::{one_line, Ctx};

fn group(s: &str) -> Result<CostGroup, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

fn since(s: &str) -> Result<String, String> {
    parse_since(s, time::OffsetDateTime::now_utc())
        .map(|_| s.to_string())
        .map_err(|e| e.to_string())
}

#[derive(Debug, Args)]
pub struct CostsArgs {
    /// Group by agent, rig, bead or day (the UTC day a session started).
    #[arg(long, default_value = "agent", value_parser = group)]
    by: CostGroup,
    /// Only sessions started since a duration ago (30m, 1h, 2d) or a date/time.
    #[arg(long, value_parser = since, value_name = "DATE|DURATION")]
    since: Option<String>,
}

/// Tokens for people: `1555`, `12.3k`, `4.2M`.
fn tokens(n: i64) -> String {
    match n {
        n if n >= 10_000_000 => format!("{:.1}M", n as f64 / 1e6),
        n if n >= 100_000 => format!("{:.1}k", n as f64 / 1e3),
        n => n.to_string(),
    }
}

/// One human line of totals: tokens in/out/cache and the cost.
pub fn totals_line(t: &CostTotals) -> String {
    let cost = match (t.cost_micros, t.sessions_without_cost) {
        (Some(c), 0) => costs::dollars(c),
        (Some(c), n) => format!("{} (+{n} session(s) without a cost)", costs::dollars(c)),
        (None, _) => "cost not reported".to_string(),
    };
    format!(
        "{} in, {} out, {} cache read, {} cache write; {cost}",
        tokens(t.input_tokens),
        tokens(t.output_tokens),
        tokens(t.cache_read_tokens),
        tokens(t.cache_write_tokens),
    )
}

pub fn run(ctx: &Ctx, a: CostsArgs) -> Result<(), Error> {
    let ws = ctx.workspace()?;
    let since = match &a.since {
        Some(s) => Some(format_ts(parse_since(s, ws.town.clock().now())?)),
        None => None,
    };
    let v = costs::costs(&ws, a.by, since)?;
    if ctx.json {
        return ctx.print_json(&v);
    }
    if v.rows.is_empty() {
        ctx.out("No usage recorded yet.");
        return Ok(());
    }
    for r in &v.rows {
        ctx.out(&format!(
            "{:<24} {:>3} session(s)  {}",
            one_line(&r.key),
            r.totals.sessions,
            totals_line(&r.totals)
        ));
    }
    ctx.out(&format!(
        "{:<24} {:>3} session(s)  {}",
        ctx.bold("total"),
        v.totals.sessions,
        totals_line(&v.totals)
    ));
    Ok(())
}

/// `gt agent-report --hook EVENT`: reads the hook payload on stdin and
/// records what it says. Never fails (a failing hook shows as "hook failed"
/// in the agent's screen): a problem is one line on stderr, exit 0.
pub fn hook(ctx: &Ctx, event: &str, tee: bool) -> Result<(), Error> {
    let result = (|| -> Result<costs::HookReport, Error> {
        let event: HookEvent = event.parse()?;
        let mut payload = Vec::new();
        let max = match event {
            HookEvent::ModelRequest => gt_lib::agent_hooks::MODEL_REQUEST_MAX,
            _ => costs::HOOK_PAYLOAD_MAX,
        };
        let mut stdin = std::io::stdin().lock();
        (&mut stdin)
            .take(max)
            .read_to_end(&mut payload)
            .map_err(|e| Error::io("cannot read the hook payload", e))?;
        // The rest of a payload too large to judge is read and dropped, so
        // the runtime's write never fails.
        let _ = std::io::copy(&mut stdin, &mut std::io::sink());
        if tee {
            // First, so the next command of the pipe is not kept waiting.
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(&payload).and_then(|_| out.flush());
        }
        let ws = ctx.workspace()?;
        costs::hook_report(&ws, event, &payload)
    })();
    if let Err(e) = result {
        eprintln!("gt agent-report --hook: {}", one_line(&e.to_string()));
    }
    Ok(())
}
