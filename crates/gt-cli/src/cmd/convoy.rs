//! `gt convoy create|add|list|show`.

use clap::Subcommand;
use gt_lib::convoy::{self, Convoy};
use gt_lib::Error;

use crate::output::{one_line, Ctx};

#[derive(Debug, Subcommand)]
pub enum ConvoyCmd {
    /// Create a convoy, optionally with beads.
    Create { name: String, beads: Vec<String> },
    /// Add beads to a convoy (by id or name).
    Add {
        convoy: String,
        #[arg(required = true, num_args = 1..)]
        beads: Vec<String>,
    },
    /// Convoys with their progress.
    List,
    /// A convoy's beads: status, polecat, merge state.
    Show { convoy: String },
}

fn line(ctx: &Ctx, c: &Convoy) {
    ctx.out(&format!(
        "{:>4}  {:<7} {}/{}  {}",
        c.id,
        c.status,
        c.closed,
        c.total,
        one_line(&c.name)
    ));
}

pub fn run(ctx: &Ctx, c: ConvoyCmd) -> Result<(), Error> {
    let ws = ctx.workspace()?;
    let actor = ctx.actor()?;
    match c {
        ConvoyCmd::Create { name, beads } => {
            let c = convoy::create(&ws, &name, &beads, &actor)?;
            if ctx.json {
                return ctx.print_json(&c);
            }
            if ctx.quiet {
                ctx.out(&c.id.to_string());
                return Ok(());
            }
            ctx.out(&format!(
                "Created convoy {} ({}) with {} bead(s)",
                c.id,
                one_line(&c.name),
                c.total
            ));
            Ok(())
        }
        ConvoyCmd::Add { convoy: key, beads } => {
            let c = convoy::add(&ws, &key, &beads, &actor)?;
            if ctx.json {
                return ctx.print_json(&c);
            }
            ctx.say(&format!(
                "Convoy {} ({}) now tracks {} bead(s)",
                c.id,
                one_line(&c.name),
                c.total
            ));
            Ok(())
        }
        ConvoyCmd::List => {
            let all = convoy::list(&ws, &actor)?;
            if ctx.json {
                return ctx.print_json(&all);
            }
            if all.is_empty() {
                ctx.say("No convoys yet: gt convoy create NAME BEAD...");
            }
            for c in &all {
                line(ctx, c);
            }
            Ok(())
        }
        ConvoyCmd::Show { convoy: key } => {
            let v = convoy::show(&ws, &key, &actor)?;
            if ctx.json {
                return ctx.print_json(&v);
            }
            ctx.out(&format!(
                "{} ({})  {}  progress {}",
                ctx.bold(&one_line(&v.convoy.name)),
                v.convoy.id,
                v.convoy.status,
                v.progress
            ));
            for b in &v.items {
                ctx.out(&format!(
                    "  {:<12} {:<11} {:<16} {:<9} {}",
                    one_line(&b.id),
                    b.status,
                    one_line(b.polecat.as_deref().unwrap_or("-")),
                    b.merge.map_or("-", |m| m.as_str()),
                    one_line(&b.title)
                ));
            }
            Ok(())
        }
    }
}
