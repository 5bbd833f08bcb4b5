//! The preset runtimes, one file per agent CLI. To add one: a new file with a
//! `pub(super) const PRESET: Preset`, listed in [`all`]; its screen texts come
//! from watching the real CLI (see `docs/runtimes.md`).

use crate::runtime::{Completion, PromptDelivery, Runtime, Traits};
use crate::usage::UsageSource;

mod aider;
mod amp;
mod claude;
mod codex;
mod gemini;
mod opencode;

/// Files a preset's CLI writes into the worktree for itself (git exclude
/// patterns): gt keeps them out of git (the rig repository's
/// `info/exclude`), so they never make a worktree dirty or land in a commit.
pub fn own_files(name: &str) -> &'static [&'static str] {
    all()
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.own_files)
        .unwrap_or_default()
}

/// A preset's values, written compactly.
pub struct Preset {
    pub name: &'static str,
    pub args: &'static [&'static str],
    pub prompt: PromptDelivery,
    pub prompt_flag: Option<&'static str>,
    /// The ready text the runtime carries (used to know when to type).
    pub ready_pattern: Option<&'static str>,
    pub resume_args: &'static [&'static str],
    pub instructions_file: Option<&'static str>,
    pub rate_limit_pattern: Option<&'static str>,
    /// The caller's variables this CLI takes (`NAME` or `PREFIX*`), passed
    /// with each session and never stored.
    pub env: &'static [&'static str],
    /// Further screen texts of this CLI, beyond the generic ones.
    pub screen: ScreenPatterns,
    /// How the agent says it is finished: [`Completion::GtDone`] unless the
    /// CLI has no shell tool to run `gt done` with.
    pub completion: Completion,
    /// See [`own_files`].
    pub own_files: &'static [&'static str],
    /// What gt does differently for this CLI.
    pub traits: Traits,
}

/// A preset without traits (the values most presets take).
pub(super) const PLAIN: Traits = Traits {
    lifecycle_hooks: false,
    model_request_hook: false,
    hides_git_config: false,
    root_needs_sandbox: false,
    usage: UsageSource::None,
};

/// A CLI's own screen texts (plain substrings, compared per line).
#[derive(Debug, Clone, Copy, Default)]
pub struct ScreenPatterns {
    /// More texts that mean "at its prompt, waiting for work".
    pub ready: &'static [&'static str],
    /// Texts that mean "working".
    pub busy: &'static [&'static str],
    /// Dialog texts and the reason each stands for.
    pub dialogs: &'static [(&'static str, crate::screen::DialogReason)],
    /// Texts of the CLI's own errors.
    pub errors: &'static [&'static str],
    /// The CLI's own input prompt as a whole last line (trimmed), e.g.
    /// aider's `>`: counts as a ready text when it is the last line.
    pub prompt_lines: &'static [&'static str],
}

impl Preset {
    /// The runtime this preset describes.
    pub fn runtime(&self) -> Runtime {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        Runtime {
            name: self.name.to_string(),
            command: self.name.to_string(),
            args: strings(self.args),
            prompt: self.prompt,
            prompt_flag: self.prompt_flag.map(str::to_string),
            ready_pattern: self.ready_pattern.map(str::to_string),
            resume_args: strings(self.resume_args),
            instructions_file: self.instructions_file.map(str::to_string),
            rate_limit_pattern: self.rate_limit_pattern.map(str::to_string),
            env: strings(self.env),
            completion: self.completion,
            traits: self.traits,
            builtin: true,
        }
    }
}

/// Every preset, in the order they are listed.
pub fn all() -> &'static [Preset] {
    &[
        claude::PRESET,
        codex::PRESET,
        gemini::PRESET,
        opencode::PRESET,
        aider::PRESET,
        amp::PRESET,
    ]
}

/// The screen texts of the preset called `name` (none for a custom agent).
pub fn screen_patterns(name: &str) -> ScreenPatterns {
    all()
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.screen)
        .unwrap_or_default()
}
