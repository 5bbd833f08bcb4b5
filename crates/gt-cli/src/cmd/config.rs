//! `gt config get|set|list`.

use std::io::Write;

use clap::Subcommand;
use gt_lib::Error;

use crate::output::{one_line, Ctx};

#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Print one key's value.
    Get { key: String },
    /// Set a key (validated; unknown keys are refused).
    Set { key: String, value: String },
    /// Every key with its value.
    List,
    /// Custom agents.
    #[command(subcommand)]
    Agent(AgentCmd),
    /// Set the town's default agent (same as `config set town.default_agent NAME`).
    DefaultAgent { name: String },
}

#[derive(Debug, Subcommand)]
pub enum AgentCmd {
    /// Define a custom agent: NAME "COMMAND [ARGS...]" (never run through a shell).
    Set { name: String, command: String },
    /// List presets and custom agents.
    List,
    /// Remove a custom agent.
    Remove { name: String },
}

pub fn run(ctx: &Ctx, c: ConfigCmd) -> Result<(), Error> {
    let mut town = ctx.town()?;
    // A town of several hosts: the settings in force are the store's.
    if town.is_shared() {
        let store = town.store()?;
        town.apply_shared(&store)?;
    }
    match c {
        ConfigCmd::DefaultAgent { name } => run(
            ctx,
            ConfigCmd::Set {
                key: "town.default_agent".into(),
                value: name,
            },
        ),
        ConfigCmd::Agent(AgentCmd::Set { name, command }) => {
            town.set_agent(&name, &command, &ctx.actor()?)?;
            let rt = town.config.runtime(&name)?;
            warn_if_missing(&rt);
            if ctx.json {
                return ctx.print_json(&rt);
            }
            ctx.say(&format!("agent {name} = {}", one_line(&command)));
            Ok(())
        }
        ConfigCmd::Agent(AgentCmd::Remove { name }) => {
            town.remove_agent(&name, &ctx.actor()?)?;
            ctx.say(&format!("removed agent {name}"));
            Ok(())
        }
        ConfigCmd::Agent(AgentCmd::List) => {
            let mut all = gt_lib::runtime::presets();
            for name in town.config.agents.keys() {
                all.push(town.config.runtime(name)?);
            }
            if ctx.json {
                return ctx.print_json(&all);
            }
            let default = town.config.default_agent().unwrap_or("claude");
            for r in all {
                let mut argv = vec![r.command.clone()];
                argv.extend(r.args.iter().cloned());
                ctx.out(&format!(
                    "{} {:<10} {:<7} {}",
                    if r.name == default { "*" } else { " " },
                    r.name,
                    if r.builtin { "preset" } else { "custom" },
                    one_line(&argv.join(" "))
                ));
            }
            Ok(())
        }
        ConfigCmd::Get { key } => {
            let v = town.config.get(&key)?;
            if ctx.json {
                ctx.print_json(&gt_lib::views::ConfigValue { key, value: v })
            } else {
                ctx.out(&one_line(&v));
                Ok(())
            }
        }
        ConfigCmd::Set { key, value } => {
            let actor = ctx.actor()?;
            town.set_config(&key, &value, &actor)?;
            let v = town.config.get(&key)?;
            if key == "town.default_agent" {
                warn_if_missing(&town.config.runtime(&v)?);
            }
            if ctx.json {
                ctx.print_json(&gt_lib::views::ConfigValue { key, value: v })
            } else {
                ctx.say(&format!("{key} = {}", one_line(&v)));
                Ok(())
            }
        }
        ConfigCmd::List => {
            let rows = town.config.list();
            if ctx.json {
                let map: gt_lib::views::ConfigList = rows
                    .iter()
                    .map(|(k, v, _)| (k.to_string(), v.clone()))
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

/// Warns on stderr when an agent's program cannot be found on PATH. The
/// setting is saved all the same: the program may be installed later.
fn warn_if_missing(rt: &gt_lib::runtime::Runtime) {
    let path = std::env::var_os("PATH");
    if gt_lib::workspace::find_program(&rt.command, path.as_deref()).is_none() {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(
            err,
            "warning: {} is not on PATH (or not executable); sessions of agent {} will fail to start until it is",
            one_line(&rt.command),
            rt.name
        );
    }
}
