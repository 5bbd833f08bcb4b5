//! `gt polecat add|list|show|remove`.

use clap::Subcommand;
use gt_lib::polecat::{self, parse_address};
use gt_lib::store::RigStore;
use gt_lib::Error;

use crate::output::{ts, Ctx};

#[derive(Debug, Subcommand)]
pub enum PolecatCmd {
    /// Add a polecat with a chosen name: RIG/NAME.
    Add { address: String },
    /// List polecats.
    List {
        #[arg(long)]
        rig: Option<String>,
    },
    /// Show a polecat and its session history: RIG/NAME.
    Show { address: String },
    /// Remove a polecat and its worktree (refuses if it holds work, unless --force).
    Remove {
        address: String,
        /// Save uncommitted work in a WIP commit and remove anyway (branches are kept).
        #[arg(long)]
        force: bool,
    },
}

pub fn run(ctx: &Ctx, c: PolecatCmd) -> Result<(), Error> {
    let ws = ctx.workspace()?;
    match c {
        PolecatCmd::Add { address } => {
            let (rig, name) = parse_address(&address)?;
            let p = ws.store.add_polecat(&rig, &name, &ctx.actor()?)?;
            if ctx.json {
                return ctx.print_json(&p);
            }
            ctx.say(&format!("Added polecat {}", p.address()));
            Ok(())
        }
        PolecatCmd::List { rig } => {
            if let Some(r) = &rig {
                ws.store.get_rig(r)?;
            }
            let list = ws.store.list_polecats(rig.as_deref())?;
            if ctx.json {
                return ctx.print_json(&list);
            }
            for p in list {
                ctx.out(&format!(
                    "{:<24} {:<8} {}",
                    ctx.bold(&p.address()),
                    p.state,
                    p.bead.as_deref().unwrap_or("")
                ));
            }
            Ok(())
        }
        PolecatCmd::Show { address } => {
            let (rig, name) = parse_address(&address)?;
            let d = polecat::details(&ws, &rig, &name)?;
            if ctx.json {
                return ctx.print_json(&d);
            }
            ctx.out(&format!(
                "{}  {}",
                ctx.bold(&d.polecat.address()),
                d.polecat.state
            ));
            ctx.out(&format!("worktree: {}", d.worktree.display()));
            if let Some(b) = &d.polecat.bead {
                ctx.out(&format!("bead: {b}"));
            }
            ctx.out(&format!(
                "completed: {}",
                if d.completed.is_empty() {
                    "-".into()
                } else {
                    d.completed.join(", ")
                }
            ));
            if !d.sessions.is_empty() {
                ctx.out("sessions:");
                for s in &d.sessions {
                    ctx.out(&format!(
                        "  #{:<4} {} {} → {} {}",
                        s.id,
                        s.bead,
                        ts(&s.started_at),
                        s.ended_at.as_deref().map(ts).unwrap_or("(open)".into()),
                        s.end_reason.as_deref().unwrap_or("")
                    ));
                }
            }
            Ok(())
        }
        PolecatCmd::Remove { address, force } => {
            let (rig, name) = parse_address(&address)?;
            let kept = polecat::remove(&ws, &rig, &name, force, &ctx.actor()?)?;
            if ctx.json {
                return ctx.print_json(&gt_lib::views::PolecatRemoved {
                    kept_branches: kept,
                    removed: address,
                });
            }
            ctx.say(&format!("Removed polecat {address}"));
            if !kept.is_empty() {
                ctx.out(&format!(
                    "Its unmerged branches stay in the rig repository: {}",
                    kept.join(", ")
                ));
            }
            Ok(())
        }
    }
}
