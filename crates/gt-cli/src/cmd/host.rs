//! `gt host list|set-capacity`.

use clap::Subcommand;
use gt_lib::hosts;
use gt_lib::Error;

use crate::output::Ctx;

#[derive(Debug, Subcommand)]
pub enum HostCmd {
    /// The town's hosts: state (up, down, dead), capacity, agents, heartbeat.
    List,
    /// How many agents a host runs at once: a number, or `unlimited`.
    SetCapacity { host: String, capacity: String },
}

pub fn run(ctx: &Ctx, c: HostCmd) -> Result<(), Error> {
    let ws = ctx.workspace()?;
    match c {
        HostCmd::List => {
            let list = hosts::list(&ws)?;
            if ctx.json {
                return ctx.print_json(&list);
            }
            ctx.out(&format!(
                "{:<2}{:<20} {:<5} {:>9} {:>6} {:>6}  HEARTBEAT",
                "", "HOST", "STATE", "CAPACITY", "AGENTS", "EPOCH"
            ));
            for h in list {
                let cap = h
                    .capacity
                    .map_or_else(|| "unlimited".to_string(), |c| c.to_string());
                ctx.out(&format!(
                    "{:<2}{} {:<5} {:>9} {:>6} {:>6}  {}",
                    if h.this { "*" } else { "" },
                    ctx.bold(&format!("{:<20}", h.name)),
                    h.state,
                    cap,
                    h.agents,
                    h.epoch,
                    h.heartbeat_at.as_deref().unwrap_or("never")
                ));
            }
            Ok(())
        }
        HostCmd::SetCapacity { host, capacity } => {
            let cap = hosts::parse_capacity(&capacity)?;
            let h = hosts::set_capacity(&ws, &host, cap, &ctx.actor()?)?;
            if ctx.json {
                return ctx.print_json(&h);
            }
            ctx.say(&format!(
                "Host {} capacity = {}",
                h.name,
                h.capacity
                    .map_or_else(|| "unlimited".to_string(), |c| c.to_string())
            ));
            Ok(())
        }
    }
}
