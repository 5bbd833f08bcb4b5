//! The scripted stand-in agent: a real program that runs in a tmux pane like
//! any AI coding agent, so tests and `gt demo` can exercise the whole loop
//! (sling → agent → done → merge) without an AI account.
//!
//! The `gt` binary exposes it as the hidden subcommand
//! `gt agent-standin [--behavior B] [--delay-ms N] [--file PATH] [--text TEXT]`,
//! which builds [`StandinOptions`] and calls [`run`].
//!
//! What the stand-in does:
//! 1. Prints a banner saying it is a scripted stand-in, not an AI.
//! 2. Learns its work from `<gt> hook --json` (bead id/title/description,
//!    branch, rig, polecat) and the environment (`GT_BEAD`, `GT_AGENT`,
//!    `GT_BRANCH`, `GT_TOWN`); the hook wins where both are present, and a
//!    failing or missing hook falls back to the environment.
//! 3. Acts out its [`Behavior`] in its working directory (a git worktree):
//!    appends a line to `standin/<bead-id>.md` (or `--file`), commits it with
//!    `git add -A` + `git commit -m "<bead-id>: <title>"`, and calls
//!    `<gt> done`, depending on the behaviour.
//!
//! Every external program is spawned with [`std::process::Command`], each
//! argument separate, never through a shell, with stdin closed. Children get
//! the overrides of [`StandinOptions::env`] on top of the process
//! environment. Nothing panics: errors are printed to the pane and become
//! exit code 1 (the `crash` behaviour exits 3 on purpose).

use std::collections::HashMap;
use std::fmt;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use gt_core::error::{Error, Result};

/// Environment variable that may name the behaviour (the CLI flag wins).
pub const BEHAVIOR_ENV: &str = "GT_STANDIN_BEHAVIOR";
/// Default pause of the `slow` behaviour.
pub const DEFAULT_DELAY: Duration = Duration::from_millis(2000);
/// Printed (without a newline) before the stand-in waits idle, so
/// screen-based "ready" detection sees a prompt.
pub const READY_MARKER: &str = "standin> ";
/// The question of the `prompt` behaviour, printed without a newline.
pub const PROMPT_QUESTION: &str = "Do you want to proceed? (y/n) ";
/// Exit code of the `crash` behaviour.
pub const CRASH_EXIT_CODE: i32 = 3;
/// The file every `conflict` stand-in rewrites (relative to the worktree).
pub const SHARED_FILE: &str = "standin/shared.txt";
/// Identity used for commits when git has none configured.
pub const FALLBACK_USER_NAME: &str = "gt-standin";
pub const FALLBACK_USER_EMAIL: &str = "standin@gastown.invalid";

/// Longest sleep of one step of an idle wait.
const IDLE_STEP: Duration = Duration::from_secs(60);
/// Longest title kept in a commit message.
const MAX_SUBJECT_CHARS: usize = 200;

/// What the stand-in does once it knows its bead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Behavior {
    /// Work, commit, `gt done`, exit 0.
    #[default]
    Finish,
    /// Leave an uncommitted change and exit 3 (no `gt done`).
    Crash,
    /// Print a line and the ready marker, then sleep forever.
    Hang,
    /// Work and commit, exit 0 without `gt done`.
    ExitWithoutDone,
    /// Ask `Do you want to proceed? (y/n) `; "y" → like finish, else exit 0.
    Prompt,
    /// Like finish after sleeping [`StandinOptions::delay`].
    Slow,
    /// Like finish, but rewrites line 1 of [`SHARED_FILE`] with the bead id.
    Conflict,
}

impl Behavior {
    /// Every behaviour, in the order of the documentation.
    pub const ALL: [Behavior; 7] = [
        Behavior::Finish,
        Behavior::Crash,
        Behavior::Hang,
        Behavior::ExitWithoutDone,
        Behavior::Prompt,
        Behavior::Slow,
        Behavior::Conflict,
    ];

    /// The name used on the command line and in [`BEHAVIOR_ENV`].
    pub fn as_str(self) -> &'static str {
        match self {
            Behavior::Finish => "finish",
            Behavior::Crash => "crash",
            Behavior::Hang => "hang",
            Behavior::ExitWithoutDone => "exit-without-done",
            Behavior::Prompt => "prompt",
            Behavior::Slow => "slow",
            Behavior::Conflict => "conflict",
        }
    }

    /// The behaviour named by `GT_STANDIN_BEHAVIOR`; `None` when it is unset,
    /// empty or not a valid name (use [`Behavior::from_env_checked`] to see
    /// the error).
    pub fn from_env() -> Option<Behavior> {
        Self::from_env_checked().ok().flatten()
    }

    /// Like [`Behavior::from_env`], but an invalid value is an error.
    pub fn from_env_checked() -> Result<Option<Behavior>> {
        match std::env::var(BEHAVIOR_ENV) {
            Ok(v) if v.trim().is_empty() => Ok(None),
            Ok(v) => v.parse().map(Some),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(Error::invalid(format!("{BEHAVIOR_ENV} is not valid UTF-8")))
            }
        }
    }
}

impl fmt::Display for Behavior {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Behavior {
    type Err = Error;

    /// Accepts the names of [`Behavior::as_str`], case-insensitively, with
    /// `_` allowed for `-`.
    fn from_str(s: &str) -> Result<Self> {
        let norm = s.trim().to_ascii_lowercase().replace('_', "-");
        Behavior::ALL
            .into_iter()
            .find(|b| b.as_str() == norm)
            .ok_or_else(|| {
                let names: Vec<&str> = Behavior::ALL.iter().map(|b| b.as_str()).collect();
                Error::invalid(format!(
                    "unknown stand-in behavior '{}' (expected one of: {})",
                    one_line(s),
                    names.join(", ")
                ))
            })
    }
}

/// How to run the stand-in.
#[derive(Debug, Clone)]
pub struct StandinOptions {
    pub behavior: Behavior,
    /// Pause of the `slow` behaviour (`--delay-ms`).
    pub delay: Duration,
    /// Pause before working, for any behaviour (`--delay-ms` given
    /// explicitly): lets a crash or an exit happen after the start.
    pub start_delay: Option<Duration>,
    /// File to append to, relative to the working directory (`--file`);
    /// default `standin/<bead-id>.md`. Ignored by `conflict`.
    pub file: Option<String>,
    /// Text to write (`--text`); default a line with the bead id and title.
    pub text: Option<String>,
    /// The gt binary to call (`hook --json`, `done`).
    pub gt: PathBuf,
    /// Environment overrides: read before the process environment (an empty
    /// value counts as unset and hides the process's value) and set on every
    /// child process (git, gt).
    pub env: HashMap<String, String>,
    /// Working directory (the worktree); `None` = the current directory.
    pub dir: Option<PathBuf>,
    /// For tests: the `hang` behaviour returns 0 after this long instead of
    /// sleeping forever. `None` = forever.
    pub hang_for: Option<Duration>,
}

impl StandinOptions {
    /// Defaults for `behavior`: delay 2 s, default file and text, `gt` = the
    /// current executable, no overrides, the current directory, hang forever.
    pub fn new(behavior: Behavior) -> Self {
        StandinOptions {
            behavior,
            delay: DEFAULT_DELAY,
            start_delay: None,
            file: None,
            text: None,
            gt: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("gt")),
            env: HashMap::new(),
            dir: None,
            hang_for: None,
        }
    }
}

impl Default for StandinOptions {
    fn default() -> Self {
        Self::new(Behavior::default())
    }
}

/// Runs the stand-in, reading answers (the `prompt` behaviour) from stdin
/// and printing progress to `out` (the tmux pane). Returns the process exit
/// code to use.
pub fn run(opts: &StandinOptions, out: &mut dyn Write) -> i32 {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    run_with_input(opts, &mut input, out)
}

/// [`run`] with an explicit input for the `prompt` behaviour.
pub fn run_with_input(opts: &StandinOptions, input: &mut dyn BufRead, out: &mut dyn Write) -> i32 {
    let mut agent = Agent {
        opts,
        dir: PathBuf::new(),
        out,
    };
    agent.banner();
    match agent.main(input) {
        Ok(code) => code,
        Err(e) => {
            agent.say(&format!("error: {}", one_line(&e.to_string())));
            agent.say("exiting with code 1");
            1
        }
    }
}

/// What the stand-in works on.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Work {
    bead: String,
    title: String,
    description: String,
    branch: Option<String>,
    agent: Option<String>,
}

/// The fields of `gt hook --json` the stand-in uses.
#[derive(Debug, Default)]
struct HookInfo {
    bead: Option<String>,
    title: Option<String>,
    description: Option<String>,
    branch: Option<String>,
    agent: Option<String>,
    rig: Option<String>,
    polecat: Option<String>,
}

struct Agent<'a> {
    opts: &'a StandinOptions,
    dir: PathBuf,
    out: &'a mut dyn Write,
}

impl Agent<'_> {
    fn main(&mut self, input: &mut dyn BufRead) -> Result<i32> {
        self.dir = match &self.opts.dir {
            Some(d) => d.clone(),
            None => std::env::current_dir()
                .map_err(|e| Error::io("cannot read the current directory", e))?,
        };
        let behavior = self.opts.behavior;

        if behavior == Behavior::Hang {
            match self.learn() {
                Ok(w) => self.say(&format!("holding {}: {}", w.bead, w.title)),
                Err(e) => self.say(&format!("no work found ({})", one_line(&e.to_string()))),
            }
            self.say("behavior hang: not going to do anything");
            return Ok(self.idle());
        }

        let work = self.learn()?;
        self.say(&format!("working on {}: {} ...", work.bead, work.title));
        if let Some(first) = work.description.lines().find(|l| !l.trim().is_empty()) {
            self.say(&format!("  {}", one_line(first)));
        }

        if let (Some(d), false) = (self.opts.start_delay, behavior == Behavior::Slow) {
            self.say(&format!("waiting {} ms before working ...", d.as_millis()));
            std::thread::sleep(d);
        }
        match behavior {
            Behavior::Slow => {
                self.say(&format!(
                    "behavior slow: thinking for {} ms ...",
                    self.opts.delay.as_millis()
                ));
                std::thread::sleep(self.opts.delay);
            }
            Behavior::Prompt => {
                let target = self.target(&work);
                self.say(&format!(
                    "behavior prompt: I want to write {} and commit it.",
                    target.display()
                ));
                self.write_raw(PROMPT_QUESTION);
                let mut answer = String::new();
                let read = input
                    .read_line(&mut answer)
                    .map_err(|e| Error::io("cannot read the answer", e))?;
                let yes = matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes");
                if read == 0 || !yes {
                    self.say("not proceeding; exiting without gt done");
                    return Ok(0);
                }
                self.say("proceeding");
            }
            _ => {}
        }

        if behavior == Behavior::Conflict {
            self.rebase();
        }
        let file = self.write_work(&work)?;
        if behavior == Behavior::Crash {
            self.say(&format!(
                "behavior crash: simulated crash with uncommitted changes in {} (exit {CRASH_EXIT_CODE})",
                file.display()
            ));
            return Ok(CRASH_EXIT_CODE);
        }

        self.commit(&work)?;
        if behavior == Behavior::ExitWithoutDone {
            self.say("behavior exit-without-done: exiting without gt done");
            return Ok(0);
        }
        self.done()
    }

    /// Learns the bead from `gt hook --json`, falling back to the environment.
    fn learn(&mut self) -> Result<Work> {
        let env_bead = self.var("GT_BEAD");
        let env_agent = self.var("GT_AGENT");
        let env_branch = self.var("GT_BRANCH");
        if let Some(town) = self.var("GT_TOWN") {
            self.say(&format!("town {}", one_line(&town)));
        }
        let hook = match self.hook() {
            Ok(h) => h,
            Err(msg) => {
                self.say(&format!(
                    "gt hook unavailable ({msg}); using GT_BEAD/GT_AGENT/GT_BRANCH"
                ));
                HookInfo::default()
            }
        };
        if let (Some(h), Some(e)) = (&hook.bead, &env_bead) {
            if h != e {
                self.say(&format!(
                    "note: GT_BEAD is {} but gt hook says {}; using {}",
                    one_line(e),
                    one_line(h),
                    one_line(h)
                ));
            }
        }
        let bead = hook.bead.or(env_bead).ok_or_else(|| {
            Error::refused("no work: GT_BEAD is not set and `gt hook --json` named no bead")
        })?;
        let bead = one_line(&bead);
        let title = hook
            .title
            .map(|t| one_line(&t))
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| format!("work on {bead}"));
        let agent = hook
            .agent
            .or_else(|| match (&hook.rig, &hook.polecat) {
                (Some(r), Some(p)) => Some(format!("polecat {p} of rig {r}")),
                _ => None,
            })
            .or(env_agent)
            .map(|a| one_line(&a));
        let branch = hook.branch.or(env_branch).map(|b| one_line(&b));
        let work = Work {
            bead,
            title,
            description: hook.description.unwrap_or_default(),
            branch,
            agent,
        };
        let mut who = String::new();
        if let Some(a) = &work.agent {
            who.push_str(&format!("agent {a}, "));
        }
        if let Some(b) = &work.branch {
            who.push_str(&format!("branch {b}, "));
        }
        self.say(&format!("{who}bead {}", work.bead));
        Ok(work)
    }

    /// Runs `<gt> hook --json`; the error is a short message for the pane.
    fn hook(&mut self) -> std::result::Result<HookInfo, String> {
        let mut cmd = self.command(self.opts.gt.as_os_str());
        cmd.args(["hook", "--json"]);
        let output = output_of(&mut cmd)
            .map_err(|e| format!("cannot run {}: {e}", self.opts.gt.display()))?;
        if !output.status.success() {
            return Err(format!(
                "{}, {}",
                output.status,
                first_line(&output.stderr).unwrap_or_else(|| "no message".into())
            ));
        }
        let v: serde_json::Value =
            serde_json::from_slice(&output.stdout).map_err(|e| format!("unreadable JSON: {e}"))?;
        if !v.is_object() {
            return Err("JSON is not an object".into());
        }
        let s = |v: &serde_json::Value| {
            v.as_str()
                .filter(|s| !s.trim().is_empty())
                .map(str::to_string)
        };
        let bead = &v["bead"];
        Ok(HookInfo {
            bead: s(&bead["id"]),
            title: s(&bead["title"]),
            description: s(&bead["description"]),
            branch: s(&v["branch"]),
            agent: s(&v["agent"]),
            rig: s(&v["rig"]),
            polecat: s(&v["polecat"]),
        })
    }

    /// The file the work goes to, relative to the working directory.
    fn target(&self, work: &Work) -> PathBuf {
        if self.opts.behavior == Behavior::Conflict {
            return PathBuf::from(SHARED_FILE);
        }
        match &self.opts.file {
            Some(f) => PathBuf::from(f),
            None => Path::new("standin").join(format!("{}.md", file_component(&work.bead))),
        }
    }

    /// Writes the work to its file; returns the file (relative).
    fn write_work(&mut self, work: &Work) -> Result<PathBuf> {
        let rel = self.target(work);
        let path = self.dir.join(&rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::io(format!("cannot create {}", parent.display()), e))?;
        }
        if self.opts.behavior == Behavior::Conflict {
            let old = match std::fs::read_to_string(&path) {
                Ok(s) => s,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
                Err(e) => return Err(Error::io(format!("cannot read {}", path.display()), e)),
            };
            let mut lines: Vec<&str> = old.lines().collect();
            if lines.is_empty() {
                lines.push(&work.bead);
            } else {
                lines[0] = &work.bead;
            }
            let mut new = lines.join("\n");
            new.push('\n');
            std::fs::write(&path, new)
                .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
            self.say(&format!("wrote line 1 of {}", rel.display()));
        } else {
            let mut text = match &self.opts.text {
                Some(t) => t.clone(),
                None => format!("- {}: {}", work.bead, work.title),
            };
            if !text.ends_with('\n') {
                text.push('\n');
            }
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| Error::io(format!("cannot open {}", path.display()), e))?;
            f.write_all(text.as_bytes())
                .and_then(|_| f.flush())
                .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
            self.say(&format!("wrote {}", rel.display()));
        }
        Ok(rel)
    }

    /// `<gt> rebase --prefer-mine`: a re-slung `conflict` stand-in first
    /// puts its branch on the current target, keeping its own side of
    /// conflicting lines (a no-op on a fresh branch). A failure is reported
    /// and the work goes on.
    fn rebase(&mut self) {
        self.say("rebasing on the latest target (gt rebase --prefer-mine)");
        let mut cmd = self.command(self.opts.gt.as_os_str());
        cmd.args(["rebase", "--prefer-mine"]);
        match output_of(&mut cmd) {
            Ok(o) if o.status.success() => self.relay(&o.stdout),
            Ok(o) => {
                self.relay(&o.stderr);
                self.say("gt rebase failed; going on without it");
            }
            Err(e) => self.say(&format!("cannot run gt rebase: {e}")),
        }
    }

    /// `git add -A` and `git commit -m "<bead>: <title>"` (nothing to commit
    /// — a rebased branch that already has the change — is fine).
    fn commit(&mut self, work: &Work) -> Result<()> {
        self.git(&["add", "-A"])?;
        if self.git(&["diff", "--cached", "--quiet"]).is_ok() {
            self.say("nothing new to commit");
            return Ok(());
        }
        let subject: String = work.title.chars().take(MAX_SUBJECT_CHARS).collect();
        let message = format!("{}: {}", work.bead, subject);
        let name_cfg = format!("user.name={FALLBACK_USER_NAME}");
        let email_cfg = format!("user.email={FALLBACK_USER_EMAIL}");
        let mut args: Vec<&str> = Vec::new();
        if !self.git_config_set("user.name") {
            args.extend(["-c", &name_cfg]);
        }
        if !self.git_config_set("user.email") {
            args.extend(["-c", &email_cfg]);
        }
        args.extend(["commit", "-q", "-m", &message]);
        self.git(&args)?;
        let head = self
            .git(&["rev-parse", "--short", "HEAD"])
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        self.say(&format!("committed {head} \"{message}\""));
        Ok(())
    }

    /// Whether git has a value for `key` (any scope) in the worktree.
    fn git_config_set(&self, key: &str) -> bool {
        let mut cmd = self.command("git".as_ref());
        cmd.args(["config", "--get", key]);
        matches!(output_of(&mut cmd), Ok(o) if o.status.success()
            && !String::from_utf8_lossy(&o.stdout).trim().is_empty())
    }

    fn git(&self, args: &[&str]) -> Result<Output> {
        let mut cmd = self.command("git".as_ref());
        cmd.args(args);
        let sub = args
            .iter()
            .find(|a| !a.starts_with('-') && !a.contains('='))
            .copied()
            .unwrap_or("");
        let program = format!("git {sub}");
        let output = output_of(&mut cmd).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::Environment("git is not installed".into())
            } else {
                Error::io(format!("cannot run {program}"), e)
            }
        })?;
        if !output.status.success() {
            let message = first_line(&output.stderr)
                .or_else(|| first_line(&output.stdout))
                .unwrap_or_else(|| output.status.to_string());
            return Err(Error::Command { program, message });
        }
        Ok(output)
    }

    /// Runs `<gt> done`; exit code 0 when it succeeds, 1 otherwise.
    fn done(&mut self) -> Result<i32> {
        self.say("calling gt done");
        let mut cmd = self.command(self.opts.gt.as_os_str());
        cmd.arg("done");
        let output = output_of(&mut cmd).map_err(|e| {
            Error::Environment(format!("cannot run {}: {e}", self.opts.gt.display()))
        })?;
        self.relay(&output.stdout);
        if !output.status.success() {
            self.relay(&output.stderr);
            self.say(&format!(
                "gt done failed ({}); exiting with code 1",
                output.status
            ));
            return Ok(1);
        }
        self.say("done; exiting");
        Ok(0)
    }

    /// Prints the ready marker and waits (forever unless `hang_for`).
    fn idle(&mut self) -> i32 {
        self.write_raw(READY_MARKER);
        let start = Instant::now();
        loop {
            let step = match self.opts.hang_for {
                None => IDLE_STEP,
                Some(limit) => match limit.checked_sub(start.elapsed()) {
                    Some(left) if !left.is_zero() => left.min(IDLE_STEP),
                    _ => break,
                },
            };
            std::thread::sleep(step);
        }
        self.write_raw("\n");
        self.say("hang limit reached; exiting");
        0
    }

    /// A variable from the overrides, else the process environment; empty
    /// counts as unset.
    fn var(&self, key: &str) -> Option<String> {
        let v = match self.opts.env.get(key) {
            Some(v) => Some(v.clone()),
            None => std::env::var(key).ok(),
        };
        v.filter(|v| !v.trim().is_empty())
    }

    fn command(&self, program: &std::ffi::OsStr) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(&self.dir)
            .envs(&self.opts.env)
            .stdin(Stdio::null());
        cmd
    }

    fn banner(&mut self) {
        let rule = "=".repeat(64);
        self.line(&rule);
        self.line(" gt stand-in agent: a scripted program, NOT an AI");
        self.line(&format!(" behavior: {}", self.opts.behavior));
        self.line(&rule);
    }

    /// Prints a progress line prefixed with `stand-in agent: `.
    fn say(&mut self, msg: &str) {
        self.line(&format!("stand-in agent: {msg}"));
    }

    fn line(&mut self, s: &str) {
        self.write_raw(&format!("{s}\n"));
    }

    /// Writes and flushes; a pane that is gone is not an error worth dying for.
    fn write_raw(&mut self, s: &str) {
        let _ = self.out.write_all(s.as_bytes());
        let _ = self.out.flush();
    }

    /// Prints a child's output, line by line, made inert for a terminal.
    fn relay(&mut self, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        for l in text.lines().filter(|l| !l.trim().is_empty()) {
            self.line(&format!("  {}", one_line(l)));
        }
    }
}

/// Runs a command to completion, retrying briefly when the program is being
/// written by someone else (ETXTBSY, e.g. a script another thread just
/// created while a third forked).
fn output_of(cmd: &mut Command) -> std::io::Result<Output> {
    let mut tries = 0u64;
    loop {
        match cmd.output() {
            Err(e) if is_text_busy(&e) && tries < 10 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(10 * tries));
            }
            r => return r,
        }
    }
}

fn is_text_busy(e: &std::io::Error) -> bool {
    // ETXTBSY is 26 on Linux, macOS and the BSDs.
    cfg!(unix) && e.raw_os_error() == Some(26)
}

/// Text on one line with control characters replaced: safe to print on a
/// terminal and to use as a commit subject.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

fn first_line(bytes: &[u8]) -> Option<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(one_line)
        .find(|l| !l.is_empty())
}

/// A bead id made safe as one file name component (no separators, no `..`).
fn file_component(id: &str) -> String {
    let mut s: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.starts_with('.') {
        s.insert(0, '_');
    }
    if s.is_empty() {
        s.push_str("bead");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use tempfile::TempDir;

    const HOOK_JSON: &str = r#"{"bead":{"id":"hq-abc","title":"Test task","description":""},"branch":"polecat/nux/hq-abc","rig":"r","polecat":"nux"}"#;

    struct Fixture {
        _tmp: TempDir,
        repo: PathBuf,
        gt: PathBuf,
        log: PathBuf,
        env: HashMap<String, String>,
    }

    impl Fixture {
        fn new() -> Fixture {
            let tmp = tempfile::tempdir().expect("tempdir");
            let home = tmp.path().join("home");
            let repo = tmp.path().join("repo");
            std::fs::create_dir_all(&home).expect("home");
            std::fs::create_dir_all(&repo).expect("repo");
            let mut env = HashMap::new();
            env.insert("HOME".to_string(), home.display().to_string());
            env.insert(
                "XDG_CONFIG_HOME".to_string(),
                home.join(".config").display().to_string(),
            );
            env.insert("GIT_CONFIG_NOSYSTEM".to_string(), "1".to_string());
            // Hide any gt session of the developer running the tests.
            for k in ["GT_BEAD", "GT_AGENT", "GT_BRANCH", "GT_TOWN"] {
                env.insert(k.to_string(), String::new());
            }

            let log = tmp.path().join("gt-calls.log");
            let gt = tmp.path().join("fake-gt");
            let script = format!(
                "#!/bin/sh\n\
                 printf '%s\\n' \"$*\" >> \"$(dirname \"$0\")/gt-calls.log\"\n\
                 case \"$1\" in\n\
                 hook)\n\
                   if [ -n \"$FAKE_GT_HOOK_FAIL\" ]; then echo 'not a polecat' >&2; exit 1; fi\n\
                   printf '%s\\n' '{HOOK_JSON}' ;;\n\
                 done)\n\
                   if [ -n \"$FAKE_GT_DONE_FAIL\" ]; then echo 'done refused: boom' >&2; exit 2; fi\n\
                   echo 'Done: queued for merge' ;;\n\
                 esac\n\
                 exit 0\n"
            );
            std::fs::write(&gt, script).expect("write fake gt");
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&gt, std::fs::Permissions::from_mode(0o755))
                    .expect("chmod");
            }

            let f = Fixture {
                _tmp: tmp,
                repo,
                gt,
                log,
                env,
            };
            f.git(&["-c", "init.defaultBranch=main", "init", "-q"]);
            std::fs::write(f.repo.join("README.md"), "hello\n").expect("readme");
            f.git(&["add", "-A"]);
            f.git(&[
                "-c",
                "user.name=Setup",
                "-c",
                "user.email=setup@example.invalid",
                "commit",
                "-q",
                "-m",
                "initial",
            ]);
            f
        }

        fn opts(&self, behavior: Behavior) -> StandinOptions {
            StandinOptions {
                behavior,
                delay: Duration::from_millis(10),
                start_delay: None,
                file: None,
                text: None,
                gt: self.gt.clone(),
                env: self.env.clone(),
                dir: Some(self.repo.clone()),
                hang_for: None,
            }
        }

        fn git(&self, args: &[&str]) -> String {
            let out = Command::new("git")
                .args(args)
                .current_dir(&self.repo)
                .envs(&self.env)
                .stdin(Stdio::null())
                .output()
                .expect("run git");
            assert!(
                out.status.success(),
                "git {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).to_string()
        }

        fn commits(&self) -> usize {
            self.git(&["rev-list", "--count", "HEAD"])
                .trim()
                .parse()
                .expect("count")
        }

        fn calls(&self) -> Vec<String> {
            std::fs::read_to_string(&self.log)
                .unwrap_or_default()
                .lines()
                .map(str::to_string)
                .collect()
        }

        fn called_done(&self) -> bool {
            self.calls().iter().any(|c| c == "done")
        }

        fn dirty(&self) -> String {
            self.git(&["status", "--porcelain"])
        }
    }

    fn run_capture(opts: &StandinOptions, input: &str) -> (i32, String) {
        let mut out = Vec::new();
        let mut inp = input.as_bytes();
        let code = run_with_input(opts, &mut inp, &mut out);
        (code, String::from_utf8_lossy(&out).to_string())
    }

    #[test]
    fn standin_behavior_names_round_trip() {
        for b in Behavior::ALL {
            assert_eq!(b.as_str().parse::<Behavior>().unwrap(), b);
            assert_eq!(b.to_string(), b.as_str());
        }
        assert_eq!(
            " Exit_Without_Done ".parse::<Behavior>().unwrap(),
            Behavior::ExitWithoutDone
        );
        let err = "dance".parse::<Behavior>().unwrap_err();
        assert!(err.to_string().contains("dance"), "{err}");
        assert_eq!(Behavior::default(), Behavior::Finish);
    }

    #[test]
    fn standin_file_component_is_safe() {
        assert_eq!(file_component("hq-abc"), "hq-abc");
        assert_eq!(file_component("../../etc"), "_.._.._etc");
        assert_eq!(file_component("a/b c"), "a_b_c");
        assert_eq!(file_component(""), "bead");
    }

    #[test]
    fn standin_finish_commits_and_calls_done() {
        let f = Fixture::new();
        let (code, out) = run_capture(&f.opts(Behavior::Finish), "");
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("NOT an AI"), "{out}");
        assert!(out.contains("working on hq-abc"), "{out}");
        assert_eq!(f.commits(), 2);
        assert_eq!(
            f.git(&["log", "-1", "--format=%s"]).trim(),
            "hq-abc: Test task"
        );
        let files = f.git(&["show", "--name-only", "--format=", "HEAD"]);
        assert_eq!(files.trim(), "standin/hq-abc.md");
        let content = std::fs::read_to_string(f.repo.join("standin/hq-abc.md")).unwrap();
        assert!(content.contains("Test task"), "{content}");
        // No identity configured (empty HOME): the fallback one is used.
        assert_eq!(
            f.git(&["log", "-1", "--format=%an <%ae>"]).trim(),
            "gt-standin <standin@gastown.invalid>"
        );
        assert_eq!(
            f.calls(),
            vec!["hook --json".to_string(), "done".to_string()]
        );
        assert!(f.dirty().is_empty());
        assert!(out.contains("Done: queued for merge"), "{out}");
    }

    #[test]
    fn standin_keeps_a_configured_identity() {
        let f = Fixture::new();
        f.git(&["config", "user.name", "Alice"]);
        f.git(&["config", "user.email", "alice@example.invalid"]);
        let (code, out) = run_capture(&f.opts(Behavior::Finish), "");
        assert_eq!(code, 0, "{out}");
        assert_eq!(
            f.git(&["log", "-1", "--format=%an <%ae>"]).trim(),
            "Alice <alice@example.invalid>"
        );
    }

    #[test]
    fn standin_exit_without_done_commits_only() {
        let f = Fixture::new();
        let mut opts = f.opts(Behavior::ExitWithoutDone);
        opts.file = Some("notes/x.txt".into());
        opts.text = Some("hello from the stand-in".into());
        let (code, out) = run_capture(&opts, "");
        assert_eq!(code, 0, "{out}");
        assert_eq!(f.commits(), 2);
        assert_eq!(
            std::fs::read_to_string(f.repo.join("notes/x.txt")).unwrap(),
            "hello from the stand-in\n"
        );
        assert!(!f.called_done(), "{:?}", f.calls());
        assert!(f.dirty().is_empty());
    }

    #[test]
    fn standin_crash_leaves_dirty_worktree() {
        let f = Fixture::new();
        let (code, out) = run_capture(&f.opts(Behavior::Crash), "");
        assert_eq!(code, CRASH_EXIT_CODE, "{out}");
        assert_eq!(f.commits(), 1);
        assert!(f.dirty().contains("standin/"), "{}", f.dirty());
        assert!(!f.called_done());
    }

    #[test]
    fn standin_hang_does_not_return() {
        let f = Fixture::new();
        let mut opts = f.opts(Behavior::Hang);
        opts.hang_for = Some(Duration::from_millis(1500));
        let (tx, rx) = mpsc::channel();
        let handle = std::thread::spawn(move || {
            let mut out = Vec::new();
            let mut inp: &[u8] = b"";
            let code = run_with_input(&opts, &mut inp, &mut out);
            let _ = tx.send((code, String::from_utf8_lossy(&out).to_string()));
        });
        assert!(matches!(
            rx.recv_timeout(Duration::from_millis(300)),
            Err(mpsc::RecvTimeoutError::Timeout)
        ));
        let (code, out) = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("hang ends at its test limit");
        handle.join().expect("thread");
        assert_eq!(code, 0);
        assert!(out.contains(READY_MARKER), "{out}");
        assert_eq!(f.commits(), 1);
        assert!(f.dirty().is_empty());
        assert!(!f.called_done());
    }

    #[test]
    fn standin_prompt_yes_finishes() {
        let f = Fixture::new();
        let (code, out) = run_capture(&f.opts(Behavior::Prompt), "y\n");
        assert_eq!(code, 0, "{out}");
        assert!(out.contains(PROMPT_QUESTION), "{out}");
        assert_eq!(f.commits(), 2);
        assert!(f.called_done());
    }

    #[test]
    fn standin_prompt_no_or_eof_stops() {
        for answer in ["n\n", ""] {
            let f = Fixture::new();
            let (code, out) = run_capture(&f.opts(Behavior::Prompt), answer);
            assert_eq!(code, 0, "{out}");
            assert_eq!(f.commits(), 1);
            assert!(f.dirty().is_empty());
            assert!(!f.called_done());
        }
    }

    #[test]
    fn standin_slow_finishes() {
        let f = Fixture::new();
        let (code, out) = run_capture(&f.opts(Behavior::Slow), "");
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("thinking for 10 ms"), "{out}");
        assert_eq!(f.commits(), 2);
        assert!(f.called_done());
    }

    #[test]
    fn standin_conflict_rewrites_line_one_of_shared_file() {
        let f = Fixture::new();
        std::fs::create_dir_all(f.repo.join("standin")).unwrap();
        std::fs::write(f.repo.join(SHARED_FILE), "old\nkeep\n").unwrap();
        f.git(&["add", "-A"]);
        f.git(&[
            "-c",
            "user.name=S",
            "-c",
            "user.email=s@x.invalid",
            "commit",
            "-qm",
            "shared",
        ]);
        let (code, out) = run_capture(&f.opts(Behavior::Conflict), "");
        assert_eq!(code, 0, "{out}");
        assert_eq!(
            std::fs::read_to_string(f.repo.join(SHARED_FILE)).unwrap(),
            "hq-abc\nkeep\n"
        );
        assert_eq!(f.commits(), 3);
        assert!(f.called_done());
    }

    #[test]
    fn standin_done_failure_exits_1_with_stderr() {
        let f = Fixture::new();
        let mut opts = f.opts(Behavior::Finish);
        opts.env.insert("FAKE_GT_DONE_FAIL".into(), "1".into());
        let (code, out) = run_capture(&opts, "");
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("done refused: boom"), "{out}");
        assert_eq!(f.commits(), 2);
    }

    #[test]
    fn standin_falls_back_to_env_when_hook_fails() {
        let f = Fixture::new();
        let mut opts = f.opts(Behavior::Finish);
        opts.env.insert("FAKE_GT_HOOK_FAIL".into(), "1".into());
        opts.env.insert("GT_BEAD".into(), "hq-env".into());
        let (code, out) = run_capture(&opts, "");
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("gt hook unavailable"), "{out}");
        assert_eq!(
            f.git(&["log", "-1", "--format=%s"]).trim(),
            "hq-env: work on hq-env"
        );
        assert!(f.repo.join("standin/hq-env.md").exists());
    }

    #[test]
    fn standin_without_any_work_exits_1() {
        let f = Fixture::new();
        let mut opts = f.opts(Behavior::Finish);
        opts.env.insert("FAKE_GT_HOOK_FAIL".into(), "1".into());
        let (code, out) = run_capture(&opts, "");
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("no work"), "{out}");
        assert_eq!(f.commits(), 1);
        assert!(!f.called_done());
    }

    #[test]
    fn standin_missing_gt_binary_is_an_error_not_a_panic() {
        let f = Fixture::new();
        let mut opts = f.opts(Behavior::Finish);
        opts.gt = f.repo.join("no-such-gt");
        opts.env.insert("GT_BEAD".into(), "hq-x".into());
        let (code, out) = run_capture(&opts, "");
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("cannot run"), "{out}");
    }
}
