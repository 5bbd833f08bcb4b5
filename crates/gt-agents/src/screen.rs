//! The one screen classifier: what an agent's captured tmux screen shows.
//!
//! Every caller (`problems`, `gt agent-state`, `gt agents`, nudge, sling, the
//! deacon) asks [`classify`], so no two of them can disagree. It reads the
//! last lines only: a dialog or prompt that scrolled away is history.
//!
//! Order: a dialog or question wins (an agent waiting on one is not working,
//! whatever else the screen says), then a rate limit, an error, a busy marker,
//! and last the ready marker or a bare prompt.

use serde::{Deserialize, Serialize};

use crate::presets::{screen_patterns, ScreenPatterns};
use crate::runtime::Runtime;

/// Why an agent waits for input (JSON: snake_case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DialogReason {
    /// "Do you trust the files in this folder?", "Trust this folder?".
    FolderTrust,
    /// Claude Code's bypass-permissions warning.
    BypassPermissions,
    /// "Detected a custom API key".
    ApiKeyApproval,
    /// A login question (Amp).
    Login,
    /// A permission question about one action ("Do you want to proceed?").
    Permission,
    /// Any other confirmation: yes/no, a numbered menu, "Enter to confirm".
    Confirm,
}

impl DialogReason {
    /// The stable name (as in JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            DialogReason::FolderTrust => "folder_trust",
            DialogReason::BypassPermissions => "bypass_permissions",
            DialogReason::ApiKeyApproval => "api_key_approval",
            DialogReason::Login => "login",
            DialogReason::Permission => "permission",
            DialogReason::Confirm => "confirm",
        }
    }

    /// The reason called `s` ([`DialogReason::as_str`]).
    pub fn parse(s: &str) -> Option<DialogReason> {
        ALL_REASONS.iter().copied().find(|r| r.as_str() == s)
    }
}

const ALL_REASONS: &[DialogReason] = &[
    DialogReason::FolderTrust,
    DialogReason::BypassPermissions,
    DialogReason::ApiKeyApproval,
    DialogReason::Login,
    DialogReason::Permission,
    DialogReason::Confirm,
];

/// What a screen shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScreenState {
    /// Says it is busy (e.g. `esc to interrupt`).
    Working,
    /// At its input prompt, waiting for instructions.
    Idle,
    /// A dialog or question: why, and the line that asks.
    WaitingForInput { reason: DialogReason, line: String },
    /// The runtime's rate-limit text.
    RateLimited,
    /// The CLI's own error text.
    Error,
    /// Nothing recognised.
    Unknown,
}

/// The screen texts one classification looks for.
#[derive(Debug, Clone, Default)]
pub struct Patterns {
    /// The runtime's ready text, if it has one.
    pub ready: Option<String>,
    /// The runtime's rate-limit text, if it has one.
    pub rate_limit: Option<String>,
    /// The preset's own texts (none for a custom agent).
    pub preset: ScreenPatterns,
}

impl Patterns {
    /// Everything known about `runtime`'s screens.
    pub fn for_runtime(runtime: &Runtime) -> Patterns {
        Patterns {
            ready: runtime.ready_pattern.clone(),
            rate_limit: runtime.rate_limit_pattern.clone(),
            preset: if runtime.builtin {
                screen_patterns(&runtime.name)
            } else {
                ScreenPatterns::default()
            },
        }
    }

    /// Only a ready text (an unknown runtime): the generic rules plus it.
    pub fn ready_only(ready: Option<&str>) -> Patterns {
        Patterns {
            ready: ready.map(str::to_string),
            ..Patterns::default()
        }
    }

    /// [`Patterns::for_runtime`] when the runtime is known, else generic.
    pub fn for_optional(runtime: Option<&Runtime>) -> Patterns {
        runtime.map(Patterns::for_runtime).unwrap_or_default()
    }
}

/// Dialog titles that say why (lowercase), looked for in the last
/// [`DIALOG_LINES`] lines.
const TITLED_DIALOGS: &[(&str, DialogReason)] = &[
    (
        "do you trust the files in this folder?",
        DialogReason::FolderTrust,
    ),
    ("trust this folder?", DialogReason::FolderTrust),
    ("detected a custom api key", DialogReason::ApiKeyApproval),
    ("would you like to log in", DialogReason::Login),
];

/// Question and menu lines (lowercase), looked for in the last
/// [`TAIL_LINES`] lines, bottom up.
const QUESTION_MARKERS: &[(&str, DialogReason)] = &[
    ("do you want to proceed", DialogReason::Permission),
    ("do you want to make this edit", DialogReason::Permission),
    ("do you want to allow", DialogReason::Permission),
    ("do you want to create", DialogReason::Permission),
    ("do you want to run", DialogReason::Permission),
    ("allow this command", DialogReason::Permission),
    ("waiting for your approval", DialogReason::Permission),
    ("(y/n)", DialogReason::Confirm),
    ("[y/n]", DialogReason::Confirm),
    ("(yes/no)", DialogReason::Confirm),
    ("[yes/no]", DialogReason::Confirm),
    ("[(y)es, (n)o]", DialogReason::Confirm),
    ("(y)es/(n)o", DialogReason::Confirm),
    ("yes, i accept", DialogReason::Confirm),
    ("no, exit", DialogReason::Confirm),
    ("enter to confirm", DialogReason::Confirm),
    ("press enter to continue", DialogReason::Confirm),
    ("waiting for your input", DialogReason::Confirm),
];

/// Generic busy markers (lowercase).
const BUSY_MARKERS: &[&str] = &["esc to interrupt", "ctrl+c to interrupt", "esc to cancel"];

/// How many non-empty bottom lines a question or busy marker is looked for in.
const TAIL_LINES: usize = 8;
/// How many non-empty bottom lines a titled dialog is looked for in (a
/// dialog box puts its title above its menu).
const DIALOG_LINES: usize = 16;
/// How many non-empty bottom lines the ready marker is looked for in.
const READY_LINES: usize = 5;

/// Classifies a captured screen with `patterns`.
pub fn classify(screen: &str, patterns: &Patterns) -> ScreenState {
    let lines: Vec<&str> = screen
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect();
    let last = |n: usize| &lines[lines.len().saturating_sub(n)..];
    let tail = last(TAIL_LINES);
    let found = |l: &str, pats: &[&str]| pats.iter().any(|p| !p.is_empty() && l.contains(p));

    // 1. A dialog whose title says why: the preset's own, then generic ones.
    let dialog_tail = last(DIALOG_LINES);
    if let Some(w) = titled_dialog(dialog_tail, patterns) {
        return w;
    }
    // 2. A question line, bottom up.
    for l in tail.iter().rev() {
        let low = l.to_lowercase();
        if let Some((_, reason)) = QUESTION_MARKERS.iter().find(|(m, _)| low.contains(m)) {
            return ScreenState::WaitingForInput {
                reason: *reason,
                line: l.trim().to_string(),
            };
        }
    }
    // 3. A numbered menu with its selection marker (`❯ 1. Yes`).
    if let Some(l) = tail.iter().rev().find(|l| is_menu_selection(l)) {
        return ScreenState::WaitingForInput {
            reason: DialogReason::Confirm,
            line: l.trim().to_string(),
        };
    }
    // 4. Rate limited, 5. an error: in what the CLI printed since its last
    // prompt line, when it has one (aider's retries scroll above its next
    // `>` once it has recovered).
    let recent = since_prompt(tail, patterns.preset.prompt_lines);
    if let Some(p) = patterns
        .rate_limit
        .as_deref()
        .filter(|p| !p.trim().is_empty())
    {
        if recent.iter().any(|l| l.contains(p)) {
            return ScreenState::RateLimited;
        }
    }
    if recent.iter().any(|l| found(l, patterns.preset.errors)) {
        return ScreenState::Error;
    }
    // 6. Working.
    if tail.iter().any(|l| {
        let low = l.to_lowercase();
        BUSY_MARKERS.iter().any(|m| low.contains(m)) || found(l, patterns.preset.busy)
    }) {
        return ScreenState::Working;
    }
    // 7. At the prompt.
    let ready5 = last(READY_LINES);
    let ready = patterns.ready.as_deref().filter(|p| !p.trim().is_empty());
    if ready5
        .iter()
        .any(|l| ready.is_some_and(|p| l.contains(p)) || found(l, patterns.preset.ready))
    {
        return ScreenState::Idle;
    }
    match lines.last().map(|l| l.trim()) {
        Some(l) if l.ends_with('>') || l.ends_with('❯') || l.ends_with('›') => {
            ScreenState::Idle
        }
        _ => ScreenState::Unknown,
    }
}

/// A titled dialog in `lines`: the preset's, then the generic titles.
fn titled_dialog(lines: &[&str], patterns: &Patterns) -> Option<ScreenState> {
    for l in lines.iter().rev() {
        let hit = patterns
            .preset
            .dialogs
            .iter()
            .find(|(p, _)| !p.is_empty() && l.contains(p))
            .map(|(_, r)| *r)
            .or_else(|| {
                let low = l.to_lowercase();
                TITLED_DIALOGS
                    .iter()
                    .find(|(m, _)| low.contains(m))
                    .map(|(_, r)| *r)
            });
        if let Some(reason) = hit {
            return Some(ScreenState::WaitingForInput {
                reason,
                line: l.trim().to_string(),
            });
        }
    }
    None
}

/// A menu line with the selection marker on its first entry, e.g. `❯ 1. Yes`
/// (also `> 1.` and `› 1.`, any box border before it).
fn is_menu_selection(line: &str) -> bool {
    let t = line.trim_start_matches(|c: char| c.is_whitespace() || c == '│' || c == '|');
    for marker in ['❯', '›', '>'] {
        if let Some(rest) = t.strip_prefix(marker) {
            let rest = rest.trim_start();
            let digits = rest.chars().take_while(char::is_ascii_digit).count();
            if digits > 0 && rest[digits..].starts_with('.') {
                return true;
            }
        }
    }
    false
}

/// The lines below the last prompt line (a line that is one of `prompts`,
/// or one of them followed by a space and the typed text); all of `lines`
/// when there is none or the CLI has no prompt line.
fn since_prompt<'a, 'b>(lines: &'a [&'b str], prompts: &[&str]) -> &'a [&'b str] {
    let is_prompt = |l: &str| {
        let l = l.trim();
        prompts.iter().any(|p| {
            !p.is_empty()
                && l.strip_prefix(p)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
        })
    };
    match lines.iter().rposition(|l| is_prompt(l)) {
        Some(i) => &lines[i + 1..],
        None => lines,
    }
}

/// Whether one of the ready texts shows in the last lines, or the last line
/// is the preset's own prompt line (aider's `>`).
fn shows_ready(screen: &str, patterns: &Patterns) -> bool {
    let lines: Vec<&str> = screen.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines
        .last()
        .is_some_and(|l| patterns.preset.prompt_lines.contains(&l.trim()))
    {
        return true;
    }
    let ready = patterns.ready.as_deref().filter(|p| !p.trim().is_empty());
    lines[lines.len().saturating_sub(READY_LINES)..]
        .iter()
        .any(|l| {
            ready.is_some_and(|p| l.contains(p))
                || patterns
                    .preset
                    .ready
                    .iter()
                    .any(|p| !p.is_empty() && l.contains(p))
        })
}

/// Two consecutive captures of one screen, read together (`gt agent-state`):
/// a dialog on the second is waiting-for-input; idle needs the ready text on
/// both and nothing moving between them; anything else is working.
///
/// Idle here also needs a ready text (the runtime's or its preset's, or the
/// preset's own prompt line): a bare prompt character of an unknown CLI is
/// not enough to type into.
pub fn classify_pair(first: &str, second: &str, patterns: &Patterns) -> ScreenState {
    match classify(second, patterns) {
        ScreenState::Idle if first == second && shows_ready(second, patterns) => ScreenState::Idle,
        ScreenState::Idle | ScreenState::Unknown => ScreenState::Working,
        other => other,
    }
}

#[cfg(test)]
mod tests;
