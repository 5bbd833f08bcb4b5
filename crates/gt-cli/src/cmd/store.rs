//! `gt store migrate --to URL`.

use clap::Subcommand;
use gt_lib::Error;

use crate::output::Ctx;

#[derive(Debug, Subcommand)]
pub enum StoreCmd {
    /// Move this SQLite town to an empty PostgreSQL database (stop the town
    /// first: gt down --all). Every table is copied and checked (counts and
    /// a checksum each); the SQLite file is kept as .gt/town.db.migrated.
    Migrate {
        /// The PostgreSQL database: postgres://USER[:PASSWORD]@HOST[:PORT]/DB
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

pub fn run(ctx: &Ctx, c: StoreCmd) -> Result<(), Error> {
    let StoreCmd::Migrate { to } = c;
    let mut town = ctx.town()?;
    let m = town.migrate_store_to(&to, &ctx.caller, &ctx.actor()?)?;
    if ctx.json {
        return ctx.print_json(&m);
    }
    let rows: usize = m.tables.iter().map(|t| t.rows).sum();
    ctx.say(&format!(
        "Moved the town to {}: {} tables, {rows} rows, each checked (count and checksum)",
        m.to,
        m.tables.len()
    ));
    ctx.say(&format!("The SQLite file is kept as {}", m.kept.display()));
    Ok(())
}
