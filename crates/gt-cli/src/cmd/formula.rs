//! `gt formula list|show|validate|run` and `gt mol status` (see
//! docs/formulas.md).

use std::collections::BTreeMap;

use clap::{Args, Subcommand};
use gt_lib::formula::{self, RunRequest};
use gt_lib::Error;

use crate::output::{one_line, Ctx};

#[derive(Debug, Subcommand)]
pub enum FormulaCmd {
    /// The town's formulas (`<town>/formulas/*.toml`) and the built-ins.
    List,
    /// A formula: its variables and steps with what each needs.
    Show { name: String },
    /// Check a formula: ids, needs, cycles, variables (file:line: message).
    Validate { name: String },
    /// Make a molecule of a formula: an epic, a queued bead per step, a convoy.
    Run(RunArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    name: String,
    /// A variable of the formula (repeatable).
    #[arg(long = "var", value_name = "KEY=VALUE")]
    vars: Vec<String>,
    /// The rig the steps work in (default: the town's only rig).
    #[arg(long)]
    rig: Option<String>,
    /// The agent runtime of steps that name none.
    #[arg(long)]
    agent: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum MolCmd {
    /// A molecule's steps with their state.
    Status { id: String },
    /// Close the steps that have not started as cancelled (started ones go on).
    Cancel { id: String },
}

pub fn parse_vars(vars: &[String]) -> Result<BTreeMap<String, String>, Error> {
    let mut out = BTreeMap::new();
    for v in vars {
        let Some((k, val)) = v.split_once('=') else {
            return Err(Error::invalid(format!(
                "--var '{}' must be KEY=VALUE",
                v.escape_debug()
            )));
        };
        if out.insert(k.trim().to_string(), val.to_string()).is_some() {
            return Err(Error::invalid(format!("--var {} is given twice", k.trim())));
        }
    }
    Ok(out)
}

pub fn run(ctx: &Ctx, c: FormulaCmd) -> Result<(), Error> {
    let ws = ctx.workspace()?;
    match c {
        FormulaCmd::List => {
            let all = formula::list(&ws)?;
            if ctx.json {
                return ctx.print_json(&all);
            }
            for f in &all {
                ctx.out(&format!(
                    "{:<16} {:<8} {:>2} steps  {}",
                    f.name,
                    f.source,
                    f.steps,
                    one_line(&f.description)
                ));
            }
            Ok(())
        }
        FormulaCmd::Show { name } => {
            let f = formula::load(&ws, &name)?;
            if ctx.json {
                return ctx.print_json(&f);
            }
            ctx.out(&format!(
                "{}: {}",
                ctx.bold(&f.name),
                one_line(&f.description)
            ));
            for v in &f.vars {
                let how = match (&v.default, v.required) {
                    (_, true) => "required".to_string(),
                    (Some(d), _) => format!("default {}", one_line(d)),
                    (None, false) => "optional".to_string(),
                };
                ctx.out(&format!(
                    "  var {:<12} {how}  {}",
                    v.name,
                    one_line(v.description.as_deref().unwrap_or(""))
                ));
            }
            for s in &f.steps {
                let needs = if s.needs.is_empty() {
                    String::new()
                } else {
                    format!("  (needs {})", s.needs.join(", "))
                };
                ctx.out(&format!(
                    "  step {:<12} {}{needs}",
                    s.id,
                    one_line(&s.title)
                ));
            }
            Ok(())
        }
        FormulaCmd::Validate { name } => {
            let f = formula::load(&ws, &name)?;
            if ctx.json {
                return ctx.print_json(&f);
            }
            ctx.out(&format!("{name}: valid, {} step(s)", f.steps.len()));
            Ok(())
        }
        FormulaCmd::Run(a) => {
            let req = RunRequest {
                formula: a.name,
                vars: parse_vars(&a.vars)?,
                rig: a.rig,
                agent: a.agent,
            };
            let m = formula::run(&ws, &req, &ctx.actor()?)?;
            print_run(ctx, &m)
        }
    }
}

/// `gt formula run`'s (and `gt sling --formula`'s) output.
pub fn print_run(ctx: &Ctx, m: &formula::MoleculeRun) -> Result<(), Error> {
    if ctx.json {
        return ctx.print_json(&m);
    }
    if ctx.quiet {
        ctx.out(&m.molecule);
        return Ok(());
    }
    ctx.out(&format!(
        "Molecule {} (convoy {}): {} step(s) queued; the deacon starts each when what it needs has landed",
        ctx.bold(&m.molecule),
        m.convoy,
        m.steps.len()
    ));
    for s in &m.steps {
        ctx.out(&format!("  {:<12} {}", s.id, s.bead));
    }
    Ok(())
}

pub fn mol(ctx: &Ctx, c: MolCmd) -> Result<(), Error> {
    let ws = ctx.workspace()?;
    match c {
        MolCmd::Status { id } => {
            let st = formula::status(&ws, &id)?;
            if ctx.json {
                return ctx.print_json(&st);
            }
            ctx.out(&format!(
                "{} {} ({}), {} landed",
                ctx.bold(&st.molecule),
                one_line(&st.title),
                st.formula,
                st.progress
            ));
            for s in &st.steps {
                let wait = if s.blocked { "  waits" } else { "" };
                ctx.out(&format!(
                    "  {:<12} {:<10} {:<12}{wait}  {}",
                    s.id,
                    s.bead,
                    s.status.as_str(),
                    one_line(&s.title)
                ));
            }
            Ok(())
        }
        MolCmd::Cancel { id } => {
            let c = formula::cancel(&ws, &id, &ctx.actor()?)?;
            if ctx.json {
                return ctx.print_json(&c);
            }
            ctx.out(&format!(
                "Molecule {}: {} step(s) cancelled, {} started or landed left alone",
                c.molecule,
                c.cancelled.len(),
                c.left.len()
            ));
            Ok(())
        }
    }
}
