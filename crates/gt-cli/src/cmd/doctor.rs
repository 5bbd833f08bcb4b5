//! `gt doctor [--fix]`: is this machine and this town fit to run agents?
//!
//! Doctor is a list of checks ([`CHECKS`]); each looks at one thing and
//! returns a [`Finding`]: ok, warn or fail, a one-line detail and a hint.
//! With `--fix` a check may repair what it found, but only when the repair
//! loses nothing (a stale socket file, never a process or a database).
//! Adding a check is one function and one line in [`CHECKS`].

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;

use clap::Args;
use gt_lib::town::Town;
use gt_lib::workspace::find_program;
use gt_lib::Error;
use serde::Serialize;

use crate::output::{one_line, Ctx};

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Repair what can be repaired without losing anything.
    #[arg(long)]
    fix: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

#[derive(Debug, Serialize)]
pub struct Finding {
    pub name: &'static str,
    pub status: Level,
    pub detail: String,
    pub hint: Option<String>,
    /// `--fix` repaired what this check found.
    pub fixed: bool,
}

impl Finding {
    fn new(status: Level, detail: impl Into<String>) -> Self {
        Finding {
            name: "",
            status,
            detail: detail.into(),
            hint: None,
            fixed: false,
        }
    }
    fn ok(detail: impl Into<String>) -> Self {
        Self::new(Level::Ok, detail)
    }
    fn warn(detail: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::new(Level::Warn, detail).hint(hint)
    }
    fn fail(detail: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::new(Level::Fail, detail).hint(hint)
    }
    fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// What the checks look at.
struct Env {
    /// The town, when doctor runs in one; `Err` when it could not be opened.
    town: Option<Result<Town, Error>>,
    path: Option<OsString>,
    caller: gt_lib::caller::CallerEnv,
    fix: bool,
}

type CheckFn = fn(&Env) -> Finding;

/// Every check, in the order they are shown.
const CHECKS: &[(&str, CheckFn)] = &[
    ("tmux", check_tmux),
    ("git", check_git),
    ("town", check_town),
    ("database", check_database),
    ("state-dirs", check_state_dirs),
    ("tmux-socket", check_socket),
    ("orphan-processes", check_orphans),
    ("rig-config", check_rig_config),
    ("runtimes", check_runtimes),
];

#[derive(Debug, Serialize)]
struct Report {
    ok: bool,
    checks: Vec<Finding>,
}

pub fn run(ctx: &Ctx, a: DoctorArgs) -> Result<(), Error> {
    let town = match ctx.town() {
        Ok(t) => Some(Ok(t)),
        Err(Error::NotInTown) if ctx.town_flag.is_none() => None,
        Err(e) => Some(Err(e)),
    };
    let env = Env {
        town,
        path: ctx.caller.path().map(OsString::from),
        caller: ctx.caller.clone(),
        fix: a.fix,
    };
    let checks: Vec<Finding> = CHECKS
        .iter()
        .map(|(name, check)| Finding {
            name,
            ..check(&env)
        })
        .collect();
    let failed = checks.iter().filter(|c| c.status == Level::Fail).count();
    let warned = checks.iter().filter(|c| c.status == Level::Warn).count();
    if ctx.json {
        ctx.print_json(&Report {
            ok: failed == 0,
            checks,
        })?;
    } else {
        for c in &checks {
            let mark = match c.status {
                Level::Ok => "ok  ",
                Level::Warn => "warn",
                Level::Fail => "FAIL",
            };
            let fixed = if c.fixed { " (fixed)" } else { "" };
            if !ctx.quiet || c.status != Level::Ok {
                ctx.out(&format!(
                    "{mark}  {:<17} {}{fixed}",
                    c.name,
                    one_line(&c.detail)
                ));
                if let Some(h) = c.hint.as_deref().filter(|_| c.status != Level::Ok) {
                    ctx.out(&format!("      {:<17} hint: {}", "", one_line(h)));
                }
            }
        }
        ctx.say(&format!(
            "{} checks: {failed} failed, {warned} warning(s)",
            checks.len()
        ));
    }
    if failed > 0 {
        use std::io::Write;
        let _ = std::io::stdout().flush();
        std::process::exit(1);
    }
    Ok(())
}

fn town(env: &Env) -> Option<&Town> {
    env.town.as_ref().and_then(|t| t.as_ref().ok())
}

fn not_in_town() -> Finding {
    Finding::ok("skipped: not inside a town")
}

/// `program ARGS` → its first line of output, or why it could not run.
fn version_of(env: &Env, program: &str, args: &[&str]) -> Result<String, String> {
    let Some(exe) = find_program(program, env.path.as_deref()) else {
        return Err(format!("{program} is not on PATH"));
    };
    // From `/`: nothing of a worktree doctor may run in (its repo config)
    // is read.
    let out = Command::new(&exe)
        .args(args)
        .current_dir("/")
        .env_remove("TMUX")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().next().unwrap_or("").trim().to_string();
    if !out.status.success() || line.is_empty() {
        return Err(format!("{} {} failed", exe.display(), args.join(" ")));
    }
    Ok(line)
}

/// The first `MAJOR.MINOR` in `text` (`tmux 3.3a` → (3, 3)).
fn major_minor(text: &str) -> Option<(u32, u32)> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let mut parts = text[start..].split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().and_then(|m| m.parse().ok()).unwrap_or(0);
    Some((major, minor))
}

fn tool_check(env: &Env, program: &str, args: &[&str], least: (u32, u32), why: &str) -> Finding {
    match version_of(env, program, args) {
        Err(e) => Finding::fail(e, format!("install {program} ({why})")),
        Ok(line) => match major_minor(&line) {
            Some(v) if v >= least => Finding::ok(line),
            Some(_) => Finding::warn(
                format!("{line} is older than {}.{}", least.0, least.1),
                format!("upgrade {program}; older versions are not tested"),
            ),
            None => Finding::warn(
                format!("cannot read the version from '{line}'"),
                format!("check that {program} on PATH is the real {program}"),
            ),
        },
    }
}

fn check_tmux(env: &Env) -> Finding {
    tool_check(env, "tmux", &["-V"], (3, 0), "agents run in tmux sessions")
}

fn check_git(env: &Env) -> Finding {
    tool_check(
        env,
        "git",
        &["--version"],
        (2, 30),
        "rigs are git repositories",
    )
}

fn check_town(env: &Env) -> Finding {
    match &env.town {
        None => Finding::warn(
            "not inside a town: only the machine was checked",
            "run gt doctor in a town, or pass --town PATH",
        ),
        Some(Err(e)) => Finding::fail(
            e.to_string(),
            e.hint()
                .unwrap_or_else(|| "fix the town's gt.toml, or pass --town PATH".into()),
        ),
        Some(Ok(t)) => Finding::ok(format!("{} at {}", t.name(), t.root().display())),
    }
}

fn check_database(env: &Env) -> Finding {
    let Some(t) = town(env) else {
        return not_in_town();
    };
    let store = match t.store() {
        Ok(s) => s,
        Err(e) => {
            return Finding::fail(
                e.to_string(),
                e.hint()
                    .unwrap_or_else(|| "restore .gt/town.db from a backup".into()),
            )
        }
    };
    // Backend-neutral upkeep (for SQLite: `PRAGMA quick_check` and
    // `user_version`); the wording is the one `gt doctor` always printed.
    use gt_lib::store::StoreMaintenance;
    // A town whose store is a server says so (its check is that every
    // table of the schema is there; the server checks its own pages).
    let server = t.config.store.url.is_some();
    match store.integrity_problems(10) {
        Ok(problems) if problems.is_empty() && server => Finding::ok(format!(
            "{}: every table there, schema version {}",
            store.location(),
            store.schema_version().unwrap_or(0)
        )),
        Ok(problems) if problems.is_empty() => Finding::ok(format!(
            "quick_check ok, schema version {}",
            store.schema_version().unwrap_or(0)
        )),
        Ok(problems) => Finding::fail(
            format!("quick_check: {}", problems.join("; ")),
            "the database is damaged: restore .gt/town.db from a backup (gt bead export keeps beads)",
        ),
        Err(e) => Finding::fail(
            format!("quick_check failed: {e}"),
            "restore .gt/town.db from a backup",
        ),
    }
}

/// `.gt/logs` and `.gt/run`, which `gt init` made; `--fix` makes them again
/// (empty folders: nothing to lose).
fn check_state_dirs(env: &Env) -> Finding {
    let Some(t) = town(env) else {
        return not_in_town();
    };
    let missing: Vec<PathBuf> = ["logs", "run"]
        .iter()
        .map(|d| t.state_dir().join(d))
        .filter(|p| !p.is_dir())
        .collect();
    if missing.is_empty() {
        return Finding::ok(".gt/logs and .gt/run are there");
    }
    let names: Vec<String> = missing.iter().map(|p| p.display().to_string()).collect();
    let detail = format!("missing: {}", names.join(", "));
    if env.fix {
        for p in &missing {
            if let Err(e) = std::fs::create_dir(p) {
                return Finding::warn(
                    format!("{detail}; cannot create {}: {e}", p.display()),
                    "check the permissions of the town directory",
                );
            }
        }
        return Finding {
            fixed: true,
            ..Finding::ok(detail)
        };
    }
    Finding::warn(detail, "gt doctor --fix creates them (nothing is lost)")
}

/// Where tmux keeps the socket of `-L name`.
fn socket_path(name: &str) -> PathBuf {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(0);
    let base = std::env::var_os("TMUX_TMPDIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    base.join(format!("tmux-{uid}")).join(name)
}

fn check_socket(env: &Env) -> Finding {
    let Some(t) = town(env) else {
        return not_in_town();
    };
    let name = gt_lib::tmux::socket_name_for(t.root());
    let path = socket_path(&name);
    if !path.exists() {
        return Finding::ok(format!("no tmux server ({name})"));
    }
    let Some(tmux) = find_program("tmux", env.path.as_deref()) else {
        return Finding::ok(format!("socket {} (tmux not on PATH)", path.display()));
    };
    let alive = Command::new(tmux)
        .args(["-L", &name, "-f", "/dev/null", "list-sessions"])
        .env_remove("TMUX")
        .output()
        .map(|o| o.status.success() || !String::from_utf8_lossy(&o.stderr).contains("no server"))
        .unwrap_or(true);
    if alive {
        return Finding::ok(format!("tmux server {name} is running"));
    }
    let detail = format!("stale tmux socket {} (no server behind it)", path.display());
    if env.fix {
        return match std::fs::remove_file(&path) {
            Ok(()) => Finding {
                fixed: true,
                ..Finding::ok(detail)
            },
            Err(e) => Finding::warn(
                format!("{detail}; cannot remove it: {e}"),
                "remove the file by hand",
            ),
        };
    }
    Finding::warn(detail, "gt doctor --fix removes it (nothing is lost)")
}

/// Processes started for this town's agents (their environment names the
/// town and a session) whose tmux session no longer exists.
fn check_orphans(env: &Env) -> Finding {
    let Some(t) = town(env) else {
        return not_in_town();
    };
    use gt_lib::tmux::Tmux;
    let live: Vec<String> = match gt_lib::tmux::TmuxCli::for_town(t.root()).list_sessions() {
        Ok(l) => l.into_iter().map(|s| s.name).collect(),
        // Without the list every agent would look orphaned.
        Err(e) => {
            return Finding::warn(
                format!("skipped: cannot list the town's tmux sessions: {e}"),
                "check tmux (see the tmux check)",
            )
        }
    };
    let root = t.root().to_string_lossy().into_owned();
    let me = std::process::id();
    let mut orphans: Vec<(u32, String)> = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Finding::ok("skipped: /proc is not readable");
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let var = |key: &str| -> Option<String> {
            environ
                .split(|b| *b == 0)
                .find_map(|kv| kv.strip_prefix(format!("{key}=").as_bytes()))
                .map(|v| String::from_utf8_lossy(v).into_owned())
        };
        if var("GT_TOWN").as_deref() != Some(root.as_str()) {
            continue;
        }
        let Some(session) = var("GT_SESSION") else {
            continue;
        };
        if !live.contains(&session) {
            orphans.push((pid, session));
        }
    }
    if orphans.is_empty() {
        return Finding::ok("no agent process outlived its session");
    }
    orphans.sort();
    let list: Vec<String> = orphans
        .iter()
        .map(|(pid, s)| format!("{pid} ({s})"))
        .collect();
    Finding::warn(
        format!(
            "{} agent process(es) without a session: {}",
            orphans.len(),
            list.join(", ")
        ),
        "check their work is saved, then end them with kill PID (--fix never kills a process)",
    )
}

/// Each rig's repository config against the record gt keeps of it (see
/// `repo_guard`); `--fix` puts the recorded one back, as a patrol would.
fn check_rig_config(env: &Env) -> Finding {
    let Some(t) = town(env) else {
        return not_in_town();
    };
    let ws = match gt_lib::workspace::Workspace::open(t.clone(), env.caller.clone()) {
        Ok(ws) => ws,
        Err(e) => {
            return Finding::fail(
                format!("cannot open the town: {e}"),
                "see the database check",
            )
        }
    };
    let drifts = match gt_lib::repo_guard::check_all(&ws) {
        Ok(d) => d,
        Err(e) => return Finding::fail(format!("cannot read a rig's config: {e}"), "gt rig list"),
    };
    if drifts.is_empty() {
        return Finding::ok("every rig's repository config is as gt recorded it");
    }
    let what: Vec<String> = drifts.iter().map(|d| d.summary()).collect();
    if env.fix {
        let mut failed = Vec::new();
        for d in &drifts {
            if let Err(e) = gt_lib::repo_guard::enforce(&ws, &d.rig, "doctor") {
                failed.push(format!("{}: {e}", d.rig));
            }
        }
        if failed.is_empty() {
            let mut f = Finding::ok(format!("reverted: {}", what.join("; ")));
            f.fixed = true;
            return f;
        }
        return Finding::fail(
            format!("could not revert: {}", failed.join("; ")),
            "look at <rig>/.repo.git/config by hand",
        );
    }
    Finding::fail(
        format!("changed behind gt's back: {}", what.join("; ")),
        "gt doctor --fix puts the recorded config back (the deacon's next patrol does too)",
    )
}

fn check_runtimes(env: &Env) -> Finding {
    let mut runtimes = gt_lib::runtime::presets();
    let mut default = "claude".to_string();
    if let Some(t) = town(env) {
        for name in t.config.agents.keys() {
            if let Ok(r) = t.config.runtime(name) {
                runtimes.push(r);
            }
        }
        if let Some(d) = t.config.default_agent() {
            default = d.to_string();
        }
    }
    let on_path = |cmd: &str| find_program(cmd, env.path.as_deref()).is_some();
    let found: Vec<&str> = runtimes
        .iter()
        .filter(|r| on_path(&r.command))
        .map(|r| r.name.as_str())
        .collect();
    let found_text = if found.is_empty() {
        "none".to_string()
    } else {
        found.join(", ")
    };
    let default_found = runtimes
        .iter()
        .find(|r| r.name == default)
        .is_some_and(|r| on_path(&r.command));
    if default_found {
        Finding::ok(format!("on PATH: {found_text} (default agent {default})"))
    } else if found.is_empty() {
        Finding::warn(
            format!("no agent runtime on PATH (default agent {default})"),
            "install one (claude, codex, ...) or define your own: gt config agent set NAME COMMAND",
        )
    } else {
        Finding::warn(
            format!("the default agent {default} is not on PATH; on PATH: {found_text}"),
            format!("install {default}, or gt config default-agent NAME"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_tool_output() {
        assert_eq!(major_minor("tmux 3.3a"), Some((3, 3)));
        assert_eq!(major_minor("tmux next-3.5"), Some((3, 5)));
        assert_eq!(major_minor("git version 2.47.3"), Some((2, 47)));
        assert_eq!(major_minor("tmux 2"), Some((2, 0)));
        assert_eq!(major_minor("no digits"), None);
        assert!((2, 47) >= (2, 30) && (2, 9) < (2, 30));
    }
}
