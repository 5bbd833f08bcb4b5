//! Codex CLI: `codex "..."` is the initial prompt of the interactive TUI;
//! `codex resume --last PROMPT` continues the latest session of this directory.

use super::{Preset, ScreenPatterns, PLAIN};
use crate::runtime::{Completion, PromptDelivery, Traits};
use crate::screen::DialogReason;
use crate::usage::UsageSource;

pub(super) const PRESET: Preset = Preset {
    name: "codex",
    args: &["--dangerously-bypass-approvals-and-sandbox", "--no-daemon"],
    prompt: PromptDelivery::Argument,
    prompt_flag: None,
    ready_pattern: Some("? for shortcuts"),
    resume_args: &["resume", "--last"],
    instructions_file: Some("AGENTS.md"),
    rate_limit_pattern: Some("hit your usage limit"),
    env: &["OPENAI_*", "CODEX_*"],
    screen: ScreenPatterns {
        ready: &["Ask Codex"],
        busy: &["esc to interrupt"],
        dialogs: &[("Trust this folder?", DialogReason::FolderTrust)],
        // The model API failing: codex retries (`Reconnecting... 1/5`), then
        // shows the error above its prompt (idle).
        errors: &["Reconnecting..."],
        prompt_lines: &[],
    },
    completion: Completion::GtDone,
    own_files: &[],
    traits: Traits {
        usage: UsageSource::CodexRollout,
        ..PLAIN
    },
};
