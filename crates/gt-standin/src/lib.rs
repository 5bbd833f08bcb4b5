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
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use gt_core::error::{Error, Result};

mod agent;

use agent::{one_line, Agent};

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

#[cfg(test)]
mod tests;
