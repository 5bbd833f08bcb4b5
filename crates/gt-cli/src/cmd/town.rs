//! `gt init`, `gt status`.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::builder::styling::{AnsiColor, Style};
use clap::Args;
use gt_lib::clock::parse_duration;
use gt_lib::feed::{self, TownStatus};
use gt_lib::hosts::HostState;
use gt_lib::problems::{self, AgentState, Liveness, Problem, Thresholds};
use gt_lib::town::Town;
use gt_lib::Error;
use time::OffsetDateTime;

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
    /// Keep the town's shared state in this PostgreSQL database (an empty
    /// one) instead of `.gt/town.db`: postgres://USER[:PASSWORD]@HOST[:PORT]/DB
    /// [?sslmode=disable|prefer|require|verify-ca|verify-full]. Without a
    /// password in it: PGPASSWORD, else ~/.pgpass (docs/store-postgres.md).
    #[arg(long, value_name = "URL")]
    store: Option<String>,
    /// This host's name in the town (default: `local`; with --store, this
    /// machine's hostname).
    #[arg(long, value_name = "NAME")]
    host: Option<String>,
    /// How many agents this host runs at once (default: unlimited).
    #[arg(long, value_name = "N")]
    capacity: Option<String>,
}

#[derive(Debug, Args)]
pub struct JoinArgs {
    /// The town's PostgreSQL store (the URL its first host was made with).
    #[arg(value_name = "URL")]
    store: String,
    /// Where this host's part of the town goes (clones, worktrees, logs).
    path: PathBuf,
    /// This host's name in the town (default: this machine's hostname).
    #[arg(long, value_name = "NAME")]
    host: Option<String>,
    /// How many agents this host runs at once (default: unlimited).
    #[arg(long, value_name = "N")]
    capacity: Option<String>,
    /// Use a non-empty directory (never deletes anything).
    #[arg(long)]
    force: bool,
}

/// The host name for a shared town when none is given: this machine's.
fn machine_host_name() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .unwrap_or_default();
    gt_lib::hosts::host_name_from(name.trim())
}

fn capacity(v: Option<&str>) -> Result<Option<u32>, Error> {
    v.map(gt_lib::hosts::parse_capacity)
        .transpose()
        .map(Option::flatten)
}

pub fn join(ctx: &Ctx, a: JoinArgs) -> Result<(), Error> {
    let actor = ctx.actor()?;
    let name = a.host.unwrap_or_else(machine_host_name);
    let choice = gt_lib::town::HostChoice {
        name: Some(&name),
        capacity: capacity(a.capacity.as_deref())?,
    };
    let town = Town::join(&a.store, &a.path, a.force, &choice, &ctx.caller, &actor)?;
    if ctx.json {
        return ctx.print_json(&serde_json::json!({
            "name": town.name(),
            "path": town.root(),
            "prefix": town.config.town.prefix,
            "host": town.host_name(),
            "capacity": choice.capacity,
        }));
    }
    ctx.say(&format!(
        "Joined town {} as host {} at {}",
        ctx.bold(&one_line(town.name())),
        ctx.bold(town.host_name()),
        town.root().display()
    ));
    ctx.say("Next: gt up   (this host's deacon takes work queued for it)");
    Ok(())
}

pub fn init(ctx: &Ctx, a: InitArgs) -> Result<(), Error> {
    let path = match a.path {
        Some(p) => p,
        None => std::env::current_dir()
            .map_err(|e| Error::io("cannot read the current directory", e))?,
    };
    let actor = ctx.actor()?;
    let derived;
    let host = match (&a.host, &a.store) {
        (Some(h), _) => Some(h.as_str()),
        (None, Some(_)) => {
            derived = machine_host_name();
            Some(derived.as_str())
        }
        (None, None) => None,
    };
    let choice = gt_lib::town::HostChoice {
        name: host,
        capacity: capacity(a.capacity.as_deref())?,
    };
    let town = Town::init_with_store(
        &path,
        a.name.as_deref(),
        a.force,
        a.store.as_deref(),
        &choice,
        &ctx.caller,
        &actor,
    )?;
    if ctx.json {
        return ctx.print_json(&gt_lib::views::TownCreated {
            name: town.name().to_string(),
            path: town.root().to_path_buf(),
            prefix: town.config.town.prefix.clone(),
        });
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
pub struct StatusArgs {
    /// Only the problems: agents that need someone, with what to do.
    #[arg(long)]
    problems: bool,
    /// Check again every --interval until interrupted (JSON: one object per line).
    #[arg(long)]
    watch: bool,
    /// How often --watch checks.
    #[arg(long, default_value = "2s", value_name = "DURATION")]
    interval: String,
    /// An agent alive but unchanged this long is stalled.
    #[arg(long, default_value = "10m", value_name = "DURATION")]
    stall_after: String,
    /// An agent at its prompt holding work, quiet this long, is idle with work.
    #[arg(long, default_value = "2m", value_name = "DURATION")]
    idle_after: String,
}

/// Parses a threshold like `10m` into a std duration.
pub fn threshold(s: &str) -> Result<std::time::Duration, Error> {
    let d = parse_duration(s)?;
    std::time::Duration::try_from(d)
        .map_err(|_| Error::invalid(format!("duration '{s}' must not be negative")))
}

pub fn status(ctx: &Ctx, a: StatusArgs) -> Result<(), Error> {
    let ws = ctx.workspace()?;
    let th = Thresholds {
        stall: threshold(&a.stall_after)?,
        idle: threshold(&a.idle_after)?,
    };
    let interval = threshold(&a.interval)?.max(std::time::Duration::from_millis(200));
    let clear = a.watch && !ctx.json && std::io::stdout().is_terminal();
    loop {
        let st = feed::town_status(&ws, &th)?;
        if ctx.json {
            let value = if a.problems {
                serde_json::to_value(&st.problems)
            } else {
                serde_json::to_value(&st)
            }
            .map_err(|e| Error::Internal(format!("cannot render JSON: {e}")))?;
            if a.watch {
                ctx.out(&value.to_string());
            } else {
                ctx.print_json(&value)?;
            }
        } else {
            let now = ws.town.clock().now();
            let lines = if a.problems {
                render_problems(ctx, &st.problems, now)
            } else {
                render_status(ctx, &st, now)
            };
            if clear {
                // Home and clear, then the screen: no alternate screen, so
                // nothing to restore however the watch ends.
                ctx.out("\x1b[H\x1b[2J");
            }
            for l in lines {
                ctx.out(&l);
            }
        }
        if !a.watch {
            return Ok(());
        }
        std::thread::sleep(interval);
    }
}

/// The problems, one block each: what, who, since when, and what to do.
pub fn render_problems(ctx: &Ctx, problems: &[Problem], now: OffsetDateTime) -> Vec<String> {
    if problems.is_empty() {
        return vec!["No problems: every agent with work is alive and moving.".to_string()];
    }
    let mut out = Vec::new();
    for p in problems {
        out.push(format!(
            "{} {:<20} {:<10} since {:<8} {}",
            ctx.paint(
                Style::new().fg_color(Some(AnsiColor::Red.into())).bold(),
                &format!("{:<18}", p.kind.as_str())
            ),
            one_line(&p.agent),
            one_line(p.bead.as_deref().unwrap_or("-")),
            problems::ago(now, p.since.as_deref()),
            one_line(&p.detail)
        ));
        out.push(format!("{:<19}→ {}", "", one_line(&p.suggested_action)));
    }
    out
}

/// The whole status screen.
pub fn render_status(ctx: &Ctx, st: &TownStatus, now: OffsetDateTime) -> Vec<String> {
    let mut out = vec![format!(
        "Town {}  {}",
        ctx.bold(&one_line(&st.town.name)),
        ctx.dim(&st.town.path.display().to_string())
    )];
    let deacon = match st.deacon.state {
        "up" => format!(
            "up (heartbeat {})",
            problems::ago(now, st.deacon.heartbeat_at.as_deref())
        ),
        "down" => ctx.paint(
            Style::new().fg_color(Some(AnsiColor::Red.into())).bold(),
            &format!(
                "DOWN (last heartbeat {})",
                problems::ago(now, st.deacon.heartbeat_at.as_deref())
            ),
        ),
        "stale" => ctx.paint(
            Style::new().fg_color(Some(AnsiColor::Red.into())).bold(),
            &format!(
                "STALE (running, but its last heartbeat was {})",
                problems::ago(now, st.deacon.heartbeat_at.as_deref())
            ),
        ),
        "stopped" => "stopped (gt up starts it)".to_string(),
        _ => "not started (gt up)".to_string(),
    };
    out.push(format!("Deacon: {deacon}"));
    if !st.hosts.is_empty() {
        let hosts: Vec<String> = st
            .hosts
            .iter()
            .map(|h| {
                let state = format!("{} {}", one_line(&h.name), h.state.as_str());
                let state = if h.state == HostState::Up {
                    state
                } else {
                    ctx.paint(
                        Style::new().fg_color(Some(AnsiColor::Red.into())).bold(),
                        &state,
                    )
                };
                let this = if h.this { ", this host" } else { "" };
                format!("{state} ({} agents{this})", h.agents)
            })
            .collect();
        out.push(format!("Hosts: {}", hosts.join("; ")));
    }
    if !st.problems.is_empty() {
        out.push(String::new());
        out.push(ctx.bold(&format!("Problems ({}):", st.problems.len())));
        out.extend(
            render_problems(ctx, &st.problems, now)
                .into_iter()
                .map(|l| format!("  {l}")),
        );
    }
    out.push(String::new());
    if st.rigs.is_empty() {
        out.push("Rigs: none yet (gt rig add NAME URL)".to_string());
    }
    for r in &st.rigs {
        let states: Vec<String> = r.polecats.iter().map(|(s, n)| format!("{n} {s}")).collect();
        out.push(format!(
            "Rig {}  polecats: {}  merge queue: {}",
            ctx.bold(&one_line(&r.name)),
            if states.is_empty() {
                "none".to_string()
            } else {
                states.join(", ")
            },
            r.merge_queue
        ));
        for a in r.agents.iter().filter(|a| a.state != AgentState::Idle) {
            out.push(
                format!(
                    "  {:<20} {:<18} {:<10} last activity {}{}",
                    one_line(&a.agent),
                    a.state.as_str(),
                    one_line(a.bead.as_deref().unwrap_or("-")),
                    problems::ago(now, a.last_activity.as_deref()),
                    a.activity_source
                        .map(|s| format!(" ({s})"))
                        .unwrap_or_default()
                ) + &match (&a.live, &a.host) {
                    (Liveness::Remote, Some(h)) => format!("  on host {}", one_line(h)),
                    _ => String::new(),
                },
            );
        }
    }
    let parts: Vec<String> = gt_lib::bead::Status::ALL
        .iter()
        .filter_map(|s| {
            let n = st.beads.get(s.as_str()).copied().unwrap_or(0);
            (n > 0).then(|| format!("{n} {}", s.as_str()))
        })
        .collect();
    let total = st.beads.get("total").copied().unwrap_or(0);
    if parts.is_empty() {
        out.push("Beads: none yet".to_string());
    } else {
        out.push(format!("Beads: {} ({total} in all)", parts.join(", ")));
    }
    out.push(format!(
        "Merge queue: {} waiting or landing",
        st.merge_queue
    ));
    if let Some(n) = st.unread_mail_for_human {
        out.push(format!("Mail for human: {n} unread"));
    }
    if let Some(n) = st.open_escalations {
        out.push(format!("Escalations: {n} open"));
    }
    if let Some(n) = st.open_convoys.filter(|n| *n > 0) {
        out.push(format!("Convoys: {n} open"));
    }
    if st.costs.sessions > 0 {
        out.push(format!(
            "Costs: {} session(s): {}",
            st.costs.sessions,
            crate::cmd::costs::totals_line(&st.costs)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use gt_lib::deacon::DeaconStatus;
    use gt_lib::feed::{RigStatus, TownRef};
    use gt_lib::polecat::PolecatState;
    use gt_lib::problems::{AgentActivity, ProblemKind};
    use std::collections::BTreeMap;

    fn at(s: &str) -> OffsetDateTime {
        gt_lib::clock::parse_ts(s).unwrap()
    }

    pub(crate) fn sample_status() -> TownStatus {
        let zombie = Problem {
            reason: None,
            agent: "web/nux".into(),
            rig: "web".into(),
            polecat: "nux".into(),
            kind: ProblemKind::Zombie,
            bead: Some("web-4k2".into()),
            session: Some("gt-web-P-nux".into()),
            since: Some("2026-01-01T11:46:00.000000Z".into()),
            last_activity: Some("2026-01-01T11:46:00.000000Z".into()),
            detail: "tmux session gt-web-P-nux is gone; web-4k2 is still in_progress".into(),
            suggested_action: "gt resume web-4k2".into(),
        };
        let agent = |name: &str, state, bead: Option<&str>, last: &str, problem| AgentActivity {
            agent: format!("web/{name}"),
            rig: "web".into(),
            polecat: name.into(),
            polecat_state: PolecatState::Working,
            state,
            bead: bead.map(String::from),
            bead_status: None,
            session: None,
            session_id: None,
            runtime: Some("claude".into()),
            live: Liveness::Running,
            exit_code: None,
            last_activity: Some(last.into()),
            activity_source: Some("screen"),
            state_source: Some("screen"),
            problem,
            host: None,
        };
        let mut polecats = BTreeMap::new();
        polecats.insert("working", 1);
        polecats.insert("zombie", 1);
        polecats.insert("idle", 1);
        let mut beads = BTreeMap::new();
        for (s, n) in [
            ("open", 5),
            ("in_progress", 2),
            ("closed", 7),
            ("total", 14),
        ] {
            beads.insert(s, n);
        }
        TownStatus {
            town: TownRef {
                name: "mytown".into(),
                path: "/home/me/town".into(),
            },
            checked_at: "2026-01-01T12:00:00.000000Z".into(),
            healthy: false,
            deacon: DeaconStatus {
                state: "down",
                up: false,
                stale: false,
                pid: None,
                started_at: Some("2025-12-31T20:00:00.000000Z".into()),
                uptime_secs: None,
                heartbeat_at: Some("2025-12-31T22:00:00.000000Z".into()),
                last_patrol_at: None,
                patrols: 3,
                actions: 0,
                interval: "30s".into(),
                log: "/home/me/town/.gt/deacon.log".into(),
            },
            rigs: vec![RigStatus {
                name: "web".into(),
                polecats,
                agents: vec![
                    agent(
                        "nux",
                        AgentState::Zombie,
                        Some("web-4k2"),
                        "2026-01-01T11:46:00.000000Z",
                        Some(zombie.clone()),
                    ),
                    agent(
                        "slit",
                        AgentState::Working,
                        Some("web-9a1"),
                        "2026-01-01T11:59:50.000000Z",
                        None,
                    ),
                    agent(
                        "toast",
                        AgentState::Idle,
                        None,
                        "2026-01-01T10:00:00.000000Z",
                        None,
                    ),
                ],
                merge_queue: 2,
            }],
            beads,
            merge_queue: 2,
            unread_mail_for_human: Some(1),
            open_escalations: None,
            open_convoys: Some(0),
            problems: vec![zombie],
            hosts: Vec::new(),
            costs: gt_lib::store::costs::CostTotals {
                sessions: 2,
                input_tokens: 1555,
                output_tokens: 277,
                cache_read_tokens: 39,
                cache_write_tokens: 0,
                cost_micros: Some(11768),
                sessions_without_cost: 1,
            },
        }
    }

    #[test]
    fn status_screen_snapshot() {
        let ctx = Ctx::new(None, false, false, true);
        let lines = render_status(&ctx, &sample_status(), at("2026-01-01T12:00:00Z"));
        insta::assert_snapshot!(lines.join("\n"));
    }

    #[test]
    fn status_problems_snapshot() {
        let ctx = Ctx::new(None, false, false, true);
        let st = sample_status();
        let lines = render_problems(&ctx, &st.problems, at("2026-01-01T12:00:00Z"));
        insta::assert_snapshot!(lines.join("\n"));
        assert_eq!(
            render_problems(&ctx, &[], at("2026-01-01T12:00:00Z")).len(),
            1
        );
    }

    #[test]
    fn status_json_shape() {
        let v = serde_json::to_value(sample_status()).unwrap();
        for k in [
            "town",
            "checked_at",
            "healthy",
            "deacon",
            "rigs",
            "beads",
            "merge_queue",
            "unread_mail_for_human",
            "open_escalations",
            "open_convoys",
            "problems",
            "costs",
        ] {
            assert!(v.get(k).is_some(), "status JSON lacks {k}");
        }
        assert_eq!(v["rigs"][0]["name"], "web");
        assert_eq!(v["rigs"][0]["polecats"]["zombie"], 1);
        assert_eq!(v["problems"][0]["kind"], "zombie");
        assert_eq!(v["problems"][0]["suggested_action"], "gt resume web-4k2");
        assert!(v["open_escalations"].is_null());
        assert_eq!(v["costs"]["input_tokens"], 1555);
        assert_eq!(v["costs"]["cost_micros"], 11768);
    }
}
