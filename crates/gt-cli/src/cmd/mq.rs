//! `gt mq …` (the merge queue), `gt refinery run`, `gt rebase` and
//! `gt rig config`.

use clap::{Args, Subcommand};
use gt_lib::refinery::{self, QueueEntry, RefineryReport};
use gt_lib::workspace::Workspace;
use gt_lib::Error;

use crate::output::{one_line, ts, Ctx};

#[derive(Debug, Subcommand)]
pub enum MqCmd {
    /// Merge requests, oldest first.
    List {
        /// Only this rig.
        #[arg(long)]
        rig: Option<String>,
    },
    /// One merge request, with its failure if any.
    Show { id: String },
    /// Queue a failed or conflicting merge request again.
    Retry { id: String },
    /// Take a queued, failed or conflicting merge request out of the queue.
    Remove { id: String },
}

#[derive(Debug, Subcommand)]
pub enum RefineryCmd {
    /// Land what is queued (in the foreground), then return.
    Run {
        /// Process what is queued once and exit (the only mode here; the
        /// deacon runs the refinery continuously).
        #[arg(long)]
        once: bool,
        /// Only this rig.
        #[arg(long)]
        rig: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct RebaseArgs {
    /// Resolve conflicting lines in favour of your branch's changes.
    #[arg(long)]
    prefer_mine: bool,
}

#[derive(Debug, Args)]
pub struct RigConfigArgs {
    pub rig: String,
    /// merge.strategy, merge.batch, merge.on_failure, push, gates.<name>, gates.timeout.
    pub key: Option<String>,
    /// The new value (omit to read the key).
    pub value: Option<String>,
    /// Remove the key.
    #[arg(long, conflicts_with = "value")]
    pub unset: bool,
}

fn parse_id(id: &str) -> Result<i64, Error> {
    id.trim_start_matches("mr-")
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            Error::invalid(format!(
                "'{}' is not a merge request id (a number, as gt mq list shows)",
                id.escape_debug()
            ))
        })
}

pub fn run(ctx: &Ctx, c: MqCmd) -> Result<(), Error> {
    if let MqCmd::Show { id } | MqCmd::Retry { id } | MqCmd::Remove { id } = &c {
        parse_id(id)?;
    }
    let ws = ctx.workspace()?;
    match c {
        MqCmd::List { rig } => {
            let all = refinery::list(&ws, rig.as_deref())?;
            if ctx.json {
                return ctx.print_json(&all);
            }
            if all.is_empty() {
                ctx.say("The merge queue is empty.");
            } else if !ctx.quiet {
                ctx.out(&ctx.dim(&format!(
                    "{:>4}  {:<9} {:<10} {:<12} {}",
                    "ID", "STATUS", "RIG", "BEAD", "BRANCH"
                )));
            }
            for e in &all {
                print_line(ctx, e);
            }
            Ok(())
        }
        MqCmd::Show { id } => {
            let e = refinery::show(&ws, parse_id(&id)?)?;
            if ctx.json {
                return ctx.print_json(&e);
            }
            print_line(ctx, &e);
            ctx.out(&format!(
                "base {}  head {}",
                short(&e.mr.base_commit),
                short(&e.mr.head_commit)
            ));
            if let Some(c) = &e.merged_commit {
                ctx.out(&format!("merged as {c}"));
            }
            ctx.out(&format!(
                "attempts {}  created {}  updated {}",
                e.attempts,
                ts(&e.mr.created_at),
                ts(&e.mr.updated_at)
            ));
            if !e.conflict_files.is_empty() {
                ctx.out(&format!(
                    "conflicting files: {}",
                    one_line(&e.conflict_files.join(", "))
                ));
            }
            if let Some(f) = &e.failure {
                ctx.out("failure:");
                for l in f.lines() {
                    ctx.out(&format!("  {}", one_line(l)));
                }
            }
            Ok(())
        }
        MqCmd::Retry { id } => {
            let e = refinery::retry(&ws, parse_id(&id)?, &ctx.actor()?)?;
            if ctx.json {
                return ctx.print_json(&e);
            }
            ctx.say(&format!("Merge request {} queued again", e.mr.id));
            Ok(())
        }
        MqCmd::Remove { id } => {
            let e = refinery::remove(&ws, parse_id(&id)?, &ctx.actor()?)?;
            if ctx.json {
                return ctx.print_json(&e);
            }
            ctx.say(&format!(
                "Merge request {} removed; branch {} is kept",
                e.mr.id,
                one_line(&e.mr.branch)
            ));
            Ok(())
        }
    }
}

fn short(c: &str) -> &str {
    &c[..c.len().min(12)]
}

fn print_line(ctx: &Ctx, e: &QueueEntry) {
    ctx.out(&format!(
        "{:>4}  {:<9} {:<10} {:<12} {}{}",
        e.mr.id,
        e.mr.status,
        one_line(&e.mr.rig),
        one_line(&e.mr.bead),
        one_line(&e.mr.branch),
        e.merged_commit
            .as_deref()
            .map(|c| format!("  -> {}", short(c)))
            .unwrap_or_default()
    ));
}

pub fn refinery(ctx: &Ctx, c: RefineryCmd) -> Result<(), Error> {
    let RefineryCmd::Run { once: _, rig } = c;
    let ws = ctx.workspace()?;
    let r = refinery::run_once(&ws, rig.as_deref(), &ctx.actor()?)?;
    if ctx.json {
        return ctx.print_json(&r);
    }
    print_report(ctx, &r);
    Ok(())
}

fn print_report(ctx: &Ctx, r: &RefineryReport) {
    if r.rigs.is_empty() {
        ctx.say("Nothing to merge.");
    }
    for rr in &r.rigs {
        if let Some(host) = &rr.runs_on {
            ctx.say(&format!(
                "{}: its refinery runs on host {host} (that host holds the rig's lease)",
                rr.rig
            ));
            continue;
        }
        ctx.say(&format!(
            "{}: {} merged, {} failed, {} conflict(s), {} re-slung ({} batch(es), {} gate run(s))",
            rr.rig,
            rr.merged.len(),
            rr.failed.len(),
            rr.conflicts.len(),
            rr.reslung.len(),
            rr.batches,
            rr.gate_runs
        ));
        for w in &rr.warnings {
            ctx.say(&format!("  warning: {}", one_line(w)));
        }
    }
    for c in &r.convoys_landed {
        ctx.say(&format!("Convoy {} ({}) landed", c.id, one_line(&c.name)));
    }
}

pub fn rebase(ctx: &Ctx, a: RebaseArgs) -> Result<(), Error> {
    let ws = ctx.workspace()?;
    let cwd =
        std::env::current_dir().map_err(|e| Error::io("cannot read the current directory", e))?;
    let r = refinery::rebase_polecat(&ws, &cwd, a.prefer_mine)?;
    if ctx.json {
        return ctx.print_json(&r);
    }
    ctx.say(&format!(
        "Rebased {} onto {} ({}): {} commit(s), head {}",
        r.branch,
        short(&r.onto),
        r.agent,
        r.commits,
        short(&r.head)
    ));
    Ok(())
}

/// Every setting the refinery uses for the rig, marking the ones left at
/// their default.
fn print_effective(ctx: &Ctx, set: &serde_json::Map<String, serde_json::Value>) {
    let s = refinery::RigSettings::from_config(set);
    let text = |v: serde_json::Value| match v {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    };
    let mut rows: Vec<(String, String)> = vec![
        (
            "merge.strategy".into(),
            text(serde_json::to_value(s.strategy).unwrap_or_default()),
        ),
        ("merge.batch".into(), s.batch.to_string()),
        (
            "merge.on_failure".into(),
            text(serde_json::to_value(s.on_failure).unwrap_or_default()),
        ),
        ("push".into(), s.push.to_string()),
        ("gates.timeout".into(), s.gate_timeout.as_secs().to_string()),
    ];
    for (name, cmd) in &s.gates {
        rows.push((format!("gates.{name}"), cmd.clone()));
    }
    for (k, v) in rows {
        let origin = if set.contains_key(&k) {
            ""
        } else {
            "  (default)"
        };
        ctx.out(&format!("{k} = {}{}", one_line(&v), ctx.dim(origin)));
    }
    if s.gates.is_empty() {
        ctx.out(&ctx.dim("no gates: gt rig config RIG gates.NAME \"COMMAND\" adds one"));
    }
}

pub fn rig_config(ctx: &Ctx, ws: &Workspace, a: RigConfigArgs) -> Result<(), Error> {
    use gt_lib::store::merge::MergeStore;
    let Some(key) = a.key else {
        gt_lib::store::RigStore::get_rig(&ws.store, &a.rig)?;
        let all = ws.store.rig_config(&a.rig)?;
        if ctx.json {
            return ctx.print_json(&all);
        }
        print_effective(ctx, &all);
        return Ok(());
    };
    if a.value.is_none() && !a.unset {
        refinery::check_config_key(&key)?;
        gt_lib::store::RigStore::get_rig(&ws.store, &a.rig)?;
        let all = ws.store.rig_config(&a.rig)?;
        let v = all.get(&key).cloned().unwrap_or(serde_json::Value::Null);
        if ctx.json {
            return ctx.print_json(&gt_lib::views::RigConfigValue { key, value: v });
        }
        match v {
            serde_json::Value::Null => ctx.say(&format!("{key} is not set")),
            serde_json::Value::String(s) => ctx.out(&one_line(&s)),
            other => ctx.out(&other.to_string()),
        }
        return Ok(());
    }
    let all = refinery::set_config(ws, &a.rig, &key, a.value.as_deref(), &ctx.actor()?)?;
    if ctx.json {
        return ctx.print_json(&all);
    }
    match &a.value {
        Some(v) => ctx.say(&format!("{}: {key} = {}", a.rig, one_line(v))),
        None => ctx.say(&format!("{}: {key} unset", a.rig)),
    }
    Ok(())
}
