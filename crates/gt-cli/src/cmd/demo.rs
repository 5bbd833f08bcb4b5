//! `gt demo`: the whole loop in a temporary town, with the stand-in agent.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use gt_lib::Error;

use driver::{DemoEvent, DemoOptions};

use crate::output::{one_line, Ctx};

mod driver;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Build the demo in this new directory (kept afterwards).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Keep the temporary town to explore it afterwards.
    #[arg(long)]
    keep: bool,
    /// How long the stand-in agent "thinks" per task, in milliseconds.
    #[arg(long, default_value_t = 1500)]
    think_ms: u64,
}

pub fn run(ctx: &Ctx, a: DemoArgs) -> Result<(), Error> {
    let exe = std::env::current_exe().map_err(|e| Error::io("cannot find the gt binary", e))?;
    let opts = DemoOptions {
        dir: a.dir,
        keep: a.keep,
        think: Duration::from_millis(a.think_ms.min(60_000)),
        timeout: Duration::from_secs(120),
        caller: ctx.caller.clone(),
    };
    if !ctx.json {
        ctx.out(&ctx.bold("Gas Town demo — the agent here is a scripted stand-in, not an AI."));
    }
    let mut on = |e: DemoEvent| {
        if ctx.json {
            return;
        }
        match e {
            DemoEvent::Step(s) => ctx.out(&format!("• {s}")),
            DemoEvent::Slung(s) => ctx.out(&format!(
                "  slung {} to {} on branch {}: {}",
                ctx.bold(&s.bead),
                s.agent,
                s.branch,
                one_line(&s.title)
            )),
            DemoEvent::Progress(list) => {
                let parts: Vec<String> = list
                    .iter()
                    .map(|(id, st)| format!("{id} {}", ctx.status(*st)))
                    .collect();
                ctx.out(&format!("  progress: {}", parts.join("  ")));
            }
        }
    };
    let report = driver::run(&opts, &exe, &mut on)?;
    if ctx.json {
        return ctx.print_json(&report);
    }
    ctx.out("");
    ctx.out(&ctx.bold("What happened"));
    for b in &report.beads {
        ctx.out(&format!(
            "  {} [{}] {} — by {} on {}",
            ctx.bold(&b.id),
            ctx.status(b.status),
            one_line(&b.title),
            b.agent,
            b.branch
        ));
        for c in &b.commits {
            ctx.out(&format!(
                "      commit {} {}",
                &c.id[..c.id.len().min(10)],
                one_line(&c.subject)
            ));
        }
    }
    ctx.out(&ctx.bold("On main now (landed by the refinery, verified)"));
    for c in &report.main_log {
        ctx.out(&format!(
            "  {} {}",
            &c.id[..c.id.len().min(10)],
            one_line(&c.subject)
        ));
    }
    ctx.out(&format!(
        "  {} merge requests; {} events recorded; {:.1}s in all.",
        report.merge_requests,
        report.events,
        report.elapsed_ms as f64 / 1000.0
    ));
    if report.kept {
        ctx.out(&format!(
            "  The town is kept at {} — explore it with: gt --town {} trail",
            report.town.display(),
            report.town.display()
        ));
    } else {
        ctx.out("  (The temporary town was removed; run gt demo --keep to explore it.)");
    }
    Ok(())
}
