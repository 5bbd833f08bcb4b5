//! `gt init`, `gt status`.

use std::path::PathBuf;

use clap::Args;
use gt_lib::store::BeadStore;
use gt_lib::town::Town;
use gt_lib::Error;
use serde_json::json;

use crate::output::{one_line, Ctx};

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to create the town (default: the current directory).
    path: Option<PathBuf>,
    /// The town's name (default: the directory's name).
    #[arg(long)]
    name: Option<String>,
    /// Make a town in a non-empty directory (never deletes anything).
    #[arg(long)]
    force: bool,
}

pub fn init(ctx: &Ctx, a: InitArgs) -> Result<(), Error> {
    let path = match a.path {
        Some(p) => p,
        None => std::env::current_dir()
            .map_err(|e| Error::io("cannot read the current directory", e))?,
    };
    let actor = ctx.actor()?;
    let town = Town::init(&path, a.name.as_deref(), a.force, &actor)?;
    if ctx.json {
        return ctx.print_json(&json!({
            "name": town.name(),
            "path": town.root(),
            "prefix": town.config.town.prefix,
        }));
    }
    ctx.say(&format!(
        "Created town {} at {}",
        ctx.bold(&one_line(town.name())),
        town.root().display()
    ));
    ctx.say("Next: gt bead create \"first task\"   (gt --help for more)");
    Ok(())
}

#[derive(Debug, Args)]
pub struct StatusArgs {}

pub fn status(ctx: &Ctx, _a: StatusArgs) -> Result<(), Error> {
    let town = ctx.town()?;
    let store = town.store()?;
    let counts = store.count_by_status()?;
    let total: u64 = counts.iter().map(|(_, n)| n).sum();
    if ctx.json {
        let mut beads = serde_json::Map::new();
        for (s, n) in &counts {
            beads.insert(s.as_str().into(), json!(n));
        }
        beads.insert("total".into(), json!(total));
        return ctx.print_json(&json!({
            "town": { "name": town.name(), "path": town.root() },
            "beads": beads,
        }));
    }
    ctx.out(&format!(
        "Town {}  {}",
        ctx.bold(&one_line(town.name())),
        ctx.dim(&town.root().display().to_string())
    ));
    let parts: Vec<String> = counts
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| format!("{n} {}", ctx.status(*s)))
        .collect();
    if parts.is_empty() {
        ctx.out("Beads: none yet");
    } else {
        ctx.out(&format!("Beads: {} ({total} in all)", parts.join(", ")));
    }
    Ok(())
}
