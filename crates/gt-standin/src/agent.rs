//! The stand-in at work: learning its bead, acting out its behaviour in
//! its worktree (edit, commit, `gt done`), and the helpers that run programs.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use gt_core::error::{Error, Result};

use crate::*;

/// What the stand-in works on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Work {
    bead: String,
    title: String,
    description: String,
    branch: Option<String>,
    agent: Option<String>,
}

/// The fields of `gt hook --json` the stand-in uses.
#[derive(Debug, Default)]
pub(crate) struct HookInfo {
    bead: Option<String>,
    title: Option<String>,
    description: Option<String>,
    branch: Option<String>,
    agent: Option<String>,
    rig: Option<String>,
    polecat: Option<String>,
}

pub(crate) struct Agent<'a> {
    pub(crate) opts: &'a StandinOptions,
    pub(crate) dir: PathBuf,
    pub(crate) out: &'a mut dyn Write,
}

impl Agent<'_> {
    pub(crate) fn main(&mut self, input: &mut dyn BufRead) -> Result<i32> {
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
    pub(crate) fn learn(&mut self) -> Result<Work> {
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
    pub(crate) fn hook(&mut self) -> std::result::Result<HookInfo, String> {
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
    pub(crate) fn target(&self, work: &Work) -> PathBuf {
        if self.opts.behavior == Behavior::Conflict {
            return PathBuf::from(SHARED_FILE);
        }
        match &self.opts.file {
            Some(f) => PathBuf::from(f),
            None => Path::new("standin").join(format!("{}.md", file_component(&work.bead))),
        }
    }

    /// Writes the work to its file; returns the file (relative).
    pub(crate) fn write_work(&mut self, work: &Work) -> Result<PathBuf> {
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
    pub(crate) fn rebase(&mut self) {
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
    pub(crate) fn commit(&mut self, work: &Work) -> Result<()> {
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
    pub(crate) fn git_config_set(&self, key: &str) -> bool {
        let mut cmd = self.command("git".as_ref());
        cmd.args(["config", "--get", key]);
        matches!(output_of(&mut cmd), Ok(o) if o.status.success()
            && !String::from_utf8_lossy(&o.stdout).trim().is_empty())
    }

    pub(crate) fn git(&self, args: &[&str]) -> Result<Output> {
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
    pub(crate) fn done(&mut self) -> Result<i32> {
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
    pub(crate) fn idle(&mut self) -> i32 {
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
    pub(crate) fn var(&self, key: &str) -> Option<String> {
        let v = match self.opts.env.get(key) {
            Some(v) => Some(v.clone()),
            None => std::env::var(key).ok(),
        };
        v.filter(|v| !v.trim().is_empty())
    }

    pub(crate) fn command(&self, program: &std::ffi::OsStr) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(&self.dir)
            .envs(&self.opts.env)
            .stdin(Stdio::null());
        cmd
    }

    pub(crate) fn banner(&mut self) {
        let rule = "=".repeat(64);
        self.line(&rule);
        self.line(" gt stand-in agent: a scripted program, NOT an AI");
        self.line(&format!(" behavior: {}", self.opts.behavior));
        self.line(&rule);
    }

    /// Prints a progress line prefixed with `stand-in agent: `.
    pub(crate) fn say(&mut self, msg: &str) {
        self.line(&format!("stand-in agent: {msg}"));
    }

    pub(crate) fn line(&mut self, s: &str) {
        self.write_raw(&format!("{s}\n"));
    }

    /// Writes and flushes; a pane that is gone is not an error worth dying for.
    pub(crate) fn write_raw(&mut self, s: &str) {
        let _ = self.out.write_all(s.as_bytes());
        let _ = self.out.flush();
    }

    /// Prints a child's output, line by line, made inert for a terminal.
    pub(crate) fn relay(&mut self, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        for l in text.lines().filter(|l| !l.trim().is_empty()) {
            self.line(&format!("  {}", one_line(l)));
        }
    }
}

/// Runs a command to completion, retrying briefly when the program is being
/// written by someone else (ETXTBSY, e.g. a script another thread just
/// created while a third forked).
pub(crate) fn output_of(cmd: &mut Command) -> std::io::Result<Output> {
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

pub(crate) fn is_text_busy(e: &std::io::Error) -> bool {
    // ETXTBSY is 26 on Linux, macOS and the BSDs.
    cfg!(unix) && e.raw_os_error() == Some(26)
}

/// Text on one line with control characters replaced: safe to print on a
/// terminal and to use as a commit subject.
pub(crate) fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

pub(crate) fn first_line(bytes: &[u8]) -> Option<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(one_line)
        .find(|l| !l.is_empty())
}

/// A bead id made safe as one file name component (no separators, no `..`).
pub(crate) fn file_component(id: &str) -> String {
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
