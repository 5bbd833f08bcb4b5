//! Gemini CLI: `-i/--prompt-interactive` runs the prompt and stays interactive.

use super::{Preset, ScreenPatterns, PLAIN};
use crate::runtime::{Completion, PromptDelivery, Traits};
use crate::screen::DialogReason;
use crate::usage::UsageSource;

pub(super) const PRESET: Preset = Preset {
    name: "gemini",
    args: &["--approval-mode", "yolo"],
    prompt: PromptDelivery::Argument,
    prompt_flag: Some("--prompt-interactive"),
    ready_pattern: Some("Type your message"),
    resume_args: &["--resume", "latest"],
    instructions_file: Some("GEMINI.md"),
    rate_limit_pattern: Some("Usage limit reached"),
    env: &["GEMINI_*", "GOOGLE_*"],
    screen: ScreenPatterns {
        ready: &[],
        busy: &["esc to cancel"],
        dialogs: &[(
            "Do you trust the files in this folder?",
            DialogReason::FolderTrust,
        )],
        errors: &[],
        prompt_lines: &[],
    },
    completion: Completion::GtDone,
    own_files: &[],
    traits: Traits {
        hides_git_config: true,
        model_request_hook: true,
        usage: UsageSource::GeminiChat,
        ..PLAIN
    },
};
