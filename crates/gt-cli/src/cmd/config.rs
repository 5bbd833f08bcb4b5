//! `gt config get|set|list`.

use clap::Subcommand;
use gt_lib::Error;
use serde_json::json;

use crate::output::{one_line, Ctx};

#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Print one key's value.
    Get { key: String },
    /// Set a key (validated; unknown keys are refused).
    Set { key: String, value: String },
    /// Every key with its value.
    List,
}

pub fn run(ctx: &Ctx, c: ConfigCmd) -> Result<(), Error> {
    let mut town = ctx.town()?;
    match c {
        ConfigCmd::Get { key } => {
            let v = town.config.get(&key)?;
            if ctx.json {
                ctx.print_json(&json!({ "key": key, "value": v }))
            } else {
                ctx.out(&one_line(&v));
                Ok(())
            }
        }
        ConfigCmd::Set { key, value } => {
            let actor = ctx.actor()?;
            town.set_config(&key, &value, &actor)?;
            let v = town.config.get(&key)?;
            if ctx.json {
                ctx.print_json(&json!({ "key": key, "value": v }))
            } else {
                ctx.say(&format!("{key} = {}", one_line(&v)));
                Ok(())
            }
        }
        ConfigCmd::List => {
            let rows = town.config.list();
            if ctx.json {
                let map: serde_json::Map<String, serde_json::Value> = rows
                    .iter()
                    .map(|(k, v, _)| (k.to_string(), json!(v)))
                    .collect();
                return ctx.print_json(&map);
            }
            for (k, v, doc) in rows {
                ctx.out(&format!(
                    "{k} = {}  {}",
                    one_line(&v),
                    ctx.dim(&format!("# {doc}"))
                ));
            }
            Ok(())
        }
    }
}
