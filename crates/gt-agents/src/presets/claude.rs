//! Claude Code: `claude "query"` starts the interactive REPL with a first prompt.
//! In bypass mode its footer reads `bypass permissions on`, not `? for shortcuts`.

use super::{Preset, ScreenPatterns, PLAIN};
use crate::runtime::{Completion, PromptDelivery, Traits};
use crate::screen::DialogReason;
use crate::usage::UsageSource;

pub(super) const PRESET: Preset = Preset {
    name: "claude",
    args: &["--dangerously-skip-permissions"],
    prompt: PromptDelivery::Argument,
    prompt_flag: None,
    ready_pattern: Some("? for shortcuts"),
    resume_args: &[],
    instructions_file: Some("CLAUDE.md"),
    rate_limit_pattern: Some("limit · resets"),
    env: &["ANTHROPIC_*", "CLAUDE_*", "DISABLE_*", "IS_SANDBOX"],
    screen: ScreenPatterns {
        ready: &["bypass permissions on"],
        busy: &["esc to interrupt"],
        dialogs: &[
            (
                "Do you trust the files in this folder?",
                DialogReason::FolderTrust,
            ),
            // 2.1.332's folder trust ("Accessing workspace: … Quick safety
            // check: Is this a project you created or one you trust?").
            (
                "Is this a project you created or one you trust?",
                DialogReason::FolderTrust,
            ),
            ("Yes, I trust this folder", DialogReason::FolderTrust),
            ("Bypass Permissions mode", DialogReason::BypassPermissions),
            ("Detected a custom API key", DialogReason::ApiKeyApproval),
            ("Settings Warning", DialogReason::Confirm),
        ],
        errors: &["No conversation found to continue"],
        prompt_lines: &[],
    },
    completion: Completion::GtDone,
    own_files: &[],
    traits: Traits {
        lifecycle_hooks: true,
        root_needs_sandbox: true,
        usage: UsageSource::ClaudeTranscript,
        ..PLAIN
    },
};
