//! Aider: `--message` is one-shot (it exits), so the instruction is typed once
//! the startup banner's last line shows. In 0.86 the banner ends at
//! `Repo-map:` (there is no "Use /help" line), then the `> ` prompt.
//! `--analytics-disable`: otherwise `--yes-always` says yes to its analytics
//! question. `--no-gitignore`: otherwise `--yes-always` adds `.aider*` to the
//! repository's `.gitignore`, an uncommitted change in every worktree; gt
//! excludes its files instead ([`OWN_FILES`]).
//!
//! Aider has no shell tool, so it cannot run `gt done`: it completes by its
//! commits and its return to the `> ` prompt (`Completion::CommitsAtPrompt`,
//! see `docs/runtimes.md`). It is configured from the caller's environment
//! the way aider documents: `OPENAI_API_BASE`, `OPENAI_API_KEY`, and an
//! `AIDER_*` variable for every option (`AIDER_MODEL`, `AIDER_EDIT_FORMAT`).

use super::{Preset, ScreenPatterns, PLAIN};
use crate::runtime::{Completion, PromptDelivery, Traits};
use crate::usage::UsageSource;

pub(super) const PRESET: Preset = Preset {
    name: "aider",
    args: &[
        "--yes-always",
        "--no-check-update",
        "--analytics-disable",
        "--no-gitignore",
    ],
    prompt: PromptDelivery::TypeWhenReady,
    prompt_flag: None,
    ready_pattern: Some("Repo-map:"),
    resume_args: &["--restore-chat-history"],
    instructions_file: None,
    rate_limit_pattern: Some("RateLimitError"),
    env: &["AIDER_*", "OPENAI_*", "ANTHROPIC_*"],
    screen: ScreenPatterns {
        ready: &[],
        busy: &[],
        dialogs: &[],
        // The model API failing: aider (litellm) prints the error and
        // `Retrying in 0.2 seconds...`, doubling the wait each time (a
        // rate limit says `RateLimitError` first). Read only below its last
        // `>` line, so a retry it recovered from is not an error.
        errors: &["Retrying in "],
        prompt_lines: &[">"],
    },
    completion: Completion::CommitsAtPrompt,
    own_files: OWN_FILES,
    traits: Traits {
        usage: UsageSource::AiderHistory,
        ..PLAIN
    },
};

/// What aider writes in the worktree: `.aider.chat.history.md`,
/// `.aider.input.history`, `.aider.tags.cache.v4/`.
pub(super) const OWN_FILES: &[&str] = &["/.aider*"];
