//! `gt rig add|list|show|remove`.

use std::io::IsTerminal;

use clap::Subcommand;
use gt_lib::rig::{self, AddRig};
use gt_lib::store::RigStore;
use gt_lib::Error;

use crate::output::{one_line, Ctx};

#[derive(Debug, Subcommand)]
pub enum RigCmd {
    /// Add a rig: clone SOURCE (a git URL or a local repository) into the town.
    Add {
        name: String,
        source: String,
        /// The target branch (default: the repository's default branch).
        #[arg(long)]
        branch: Option<String>,
        /// Bead id prefix for the rig (default: derived from its name).
        #[arg(long)]
        prefix: Option<String>,
        /// Agents may work in this rig unattended: see `gt rig trust`.
        #[arg(long)]
        trust: bool,
    },
    /// Read or set a rig's refinery settings (merge.*, push, gates.*).
    Config(crate::cmd::mq::RigConfigArgs),
    /// Fetch a rig's upstream (every rig without RIG) and fast-forward its
    /// target branch when it has nothing the upstream lacks.
    Fetch { rig: Option<String> },
    /// List rigs.
    List,
    /// Show a rig: branch, prefix, polecats, open beads.
    Show { name: String },
    /// Agents may work in this rig unattended: writes each installed
    /// runtime's folder trust (Claude Code, Codex, Gemini CLI) for the rig's
    /// worktrees, now and for every new one. Without it a runtime's trust
    /// dialog is reported, never answered.
    Trust {
        rig: String,
        /// Withdraw the trust gt wrote.
        #[arg(long)]
        revoke: bool,
    },
    /// Remove a rig (refuses while it holds unmerged work, unless --force).
    Remove {
        name: String,
        /// Remove anyway; unmerged branches are kept in a bundle file.
        #[arg(long)]
        force: bool,
    },
}

pub fn run(ctx: &Ctx, c: RigCmd) -> Result<(), Error> {
    let ws = ctx.workspace()?;
    match c {
        RigCmd::Add {
            name,
            source,
            branch,
            prefix,
            trust,
        } => {
            let bar = (!ctx.json && !ctx.quiet && std::io::stderr().is_terminal()).then(|| {
                let b = indicatif::ProgressBar::new_spinner();
                b.set_message(format!("cloning {}", one_line(&source)));
                b.enable_steady_tick(std::time::Duration::from_millis(120));
                b
            });
            let mut progress = |line: &str| {
                if let Some(b) = &bar {
                    b.set_message(one_line(line));
                }
            };
            let req = AddRig {
                name: &name,
                source: &source,
                branch: branch.as_deref(),
                prefix: prefix.as_deref(),
            };
            let result = rig::add(&ws, &req, &ctx.actor()?, &mut progress);
            if let Some(b) = bar {
                b.finish_and_clear();
            }
            let r = result?;
            let trusted = trust
                .then(|| {
                    gt_lib::trust::trust_rig(
                        &ws,
                        &r.name,
                        &gt_lib::trust::TrustEnv::of(&ctx.caller),
                        false,
                        &ctx.actor()?,
                    )
                })
                .transpose()?;
            if ctx.json {
                return ctx.print_json(&rig::details(&ws, &r.name)?);
            }
            if let Some(t) = &trusted {
                say_trust(ctx, t);
            }
            ctx.say(&format!(
                "Added rig {} from {} (branch {}, bead prefix {})",
                ctx.bold(&r.name),
                one_line(&r.source),
                r.branch,
                r.prefix
            ));
            Ok(())
        }
        RigCmd::Config(a) => crate::cmd::mq::rig_config(ctx, &ws, a),
        RigCmd::Trust { rig, revoke } => {
            let t = gt_lib::trust::trust_rig(
                &ws,
                &rig,
                &gt_lib::trust::TrustEnv::of(&ctx.caller),
                revoke,
                &ctx.actor()?,
            )?;
            if ctx.json {
                return ctx.print_json(&t);
            }
            say_trust(ctx, &t);
            Ok(())
        }
        RigCmd::Fetch { rig } => {
            let names = match rig {
                Some(r) => vec![ws.store.get_rig(&r)?.name],
                None => ws.store.list_rigs()?.into_iter().map(|r| r.name).collect(),
            };
            let actor = ctx.actor()?;
            let mut reports = Vec::new();
            for n in &names {
                reports.push(rig::fetch(&ws, n, &actor)?);
            }
            if ctx.json {
                return ctx.print_json(&reports);
            }
            for r in &reports {
                let what = match r.outcome {
                    rig::FetchOutcome::UpToDate => "up to date".to_string(),
                    rig::FetchOutcome::FastForwarded => format!(
                        "{} {} → {}",
                        r.branch,
                        &r.before[..r.before.len().min(12)],
                        &r.after[..r.after.len().min(12)]
                    ),
                    rig::FetchOutcome::Ahead => format!("{} is ahead of its upstream", r.branch),
                    rig::FetchOutcome::Diverged => {
                        format!("{} and its upstream diverged (left alone)", r.branch)
                    }
                };
                ctx.out(&format!("{:<16} {what}", ctx.bold(&r.rig)));
            }
            Ok(())
        }
        RigCmd::List => {
            let rigs = ws.store.list_rigs()?;
            if ctx.json {
                return ctx.print_json(&rigs);
            }
            if rigs.is_empty() {
                ctx.say("No rigs yet: gt rig add NAME SOURCE");
            }
            for r in rigs {
                ctx.out(&format!(
                    "{:<16} {:<12} {:<6} {}",
                    ctx.bold(&r.name),
                    r.branch,
                    r.prefix,
                    ctx.dim(&one_line(&r.source))
                ));
            }
            Ok(())
        }
        RigCmd::Show { name } => {
            let d = rig::details(&ws, &name)?;
            if ctx.json {
                return ctx.print_json(&d);
            }
            ctx.out(&format!(
                "{}  {}",
                ctx.bold(&d.rig.name),
                ctx.dim(&d.path.display().to_string())
            ));
            ctx.out(&format!("source: {}", one_line(&d.rig.source)));
            ctx.out(&format!(
                "branch: {}   prefix: {}   agent: {}   open beads: {}",
                d.rig.branch,
                d.rig.prefix,
                d.rig.agent.as_deref().unwrap_or("(town default)"),
                d.open_beads
            ));
            if d.polecats.is_empty() {
                ctx.out("polecats: none yet");
            } else {
                ctx.out("polecats:");
                for p in &d.polecats {
                    ctx.out(&format!(
                        "  {:<12} {:<8} {}",
                        p.name,
                        p.state,
                        p.bead.as_deref().unwrap_or("")
                    ));
                }
            }
            Ok(())
        }
        RigCmd::Remove { name, force } => {
            let r = rig::remove(&ws, &name, force, &ctx.actor()?)?;
            if ctx.json {
                return ctx.print_json(&r);
            }
            ctx.say(&format!("Removed rig {}", r.name));
            for w in &r.kept_worktrees {
                ctx.out(&format!(
                    "A worktree git could not read was kept, untouched, in {}",
                    w.display()
                ));
            }
            if let Some(b) = &r.bundle {
                ctx.out(&format!(
                    "Kept {} unmerged branch(es) in {} (restore with: git clone {} or git fetch {} 'refs/heads/*:refs/heads/*')",
                    r.kept_branches.len(),
                    b.display(),
                    b.display(),
                    b.display()
                ));
            }
            Ok(())
        }
    }
}

fn say_trust(ctx: &Ctx, t: &gt_lib::trust::RigTrust) {
    let what = if t.trusted {
        "trusted"
    } else {
        "no longer trusted"
    };
    ctx.say(&format!(
        "Rig {} is {what} for agents ({} folder(s)).",
        ctx.bold(&t.rig),
        t.folders.len()
    ));
    if t.runtimes.is_empty() {
        ctx.say("No agent runtime with folder trust is installed (claude, codex, gemini).");
    }
    for w in &t.runtimes {
        let file = one_line(&w.file.display().to_string());
        match &w.error {
            Some(e) => ctx.say(&format!(
                "{}: left {file} alone: {}",
                w.runtime.program(),
                one_line(e)
            )),
            None => ctx.say(&format!(
                "{}: {file} ({} change(s))",
                w.runtime.program(),
                w.changed.len()
            )),
        }
    }
}
