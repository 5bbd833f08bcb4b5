//! Amp: only `-x` (execute mode, one-shot) takes a prompt argument, so the
//! instruction is typed into the prompt box. No resume: threads live on Amp's
//! servers and are not scoped to a directory.

use super::{Preset, ScreenPatterns, PLAIN};
use crate::runtime::{Completion, PromptDelivery};
use crate::screen::DialogReason;

pub(super) const PRESET: Preset = Preset {
    name: "amp",
    args: &["--dangerously-allow-all"],
    prompt: PromptDelivery::TypeWhenReady,
    prompt_flag: None,
    ready_pattern: Some("╭─"),
    resume_args: &[],
    instructions_file: Some("AGENTS.md"),
    rate_limit_pattern: None,
    env: &["AMP_*"],
    screen: ScreenPatterns {
        ready: &[],
        busy: &[],
        dialogs: &[("Would you like to log in to Amp?", DialogReason::Login)],
        errors: &[],
        prompt_lines: &[],
    },
    completion: Completion::GtDone,
    own_files: &[],
    traits: PLAIN,
};
