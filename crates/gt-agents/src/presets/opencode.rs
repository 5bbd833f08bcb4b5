//! OpenCode: the TUI's `--prompt` submits a first prompt. No resume:
//! `--continue` may pick another worktree's session of the same repository.

use super::{Preset, ScreenPatterns, PLAIN};
use crate::runtime::{Completion, PromptDelivery, Traits};
use crate::usage::UsageSource;

pub(super) const PRESET: Preset = Preset {
    name: "opencode",
    args: &["--auto"],
    prompt: PromptDelivery::Argument,
    prompt_flag: Some("--prompt"),
    ready_pattern: None,
    resume_args: &[],
    instructions_file: Some("AGENTS.md"),
    rate_limit_pattern: None,
    env: &["OPENCODE_*", "OPENAI_*"],
    screen: ScreenPatterns {
        ready: &["Ask anything", "ctrl+p commands"],
        busy: &["esc interrupt"],
        dialogs: &[],
        // The model API failing: opencode retries and says so in its footer,
        // `[retrying in 2s attempt #2]` while it counts down (1.18.33), then
        // `[retrying attempt #2]`.
        errors: &["[retrying in ", "[retrying attempt #"],
        prompt_lines: &[],
    },
    completion: Completion::GtDone,
    own_files: &[],
    traits: Traits {
        usage: UsageSource::OpencodeDb,
        ..PLAIN
    },
};
