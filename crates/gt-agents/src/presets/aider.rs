//! Aider: `--message` is one-shot (it exits), so the instruction is typed once
//! the startup banner's last line shows. In 0.86 the banner ends at
//! `Repo-map:` (there is no "Use /help" line), then the `> ` prompt.
//! `--analytics-disable`: otherwise `--yes-always` says yes to its analytics question.

use super::{Preset, ScreenPatterns};
use crate::runtime::PromptDelivery;

pub(super) const PRESET: Preset = Preset {
    name: "aider",
    args: &["--yes-always", "--no-check-update", "--analytics-disable"],
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
        errors: &[],
    },
};
