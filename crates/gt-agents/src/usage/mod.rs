//! Reading the token usage (and cost, when there is one) a runtime wrote in
//! its own files: pure parsers over the file's text, one per runtime. Each
//! returns running totals for the conversation, or `None` when the text holds
//! no usage it understands (garbage, a truncated line, another format) —
//! never a panic. Input over [`MAX_INPUT_BYTES`] is refused (`None`).
//!
//! Conventions of the returned [`Usage`]: `input_tokens` never includes
//! cache reads (Anthropic counts them apart; for OpenAI- and Gemini-style
//! counts, which include them, the cached part is subtracted);
//! `cost_micros` is set only when the runtime itself wrote a cost.

pub mod aider;
pub mod claude;
pub mod codex;
pub mod gemini;
pub mod opencode;

pub use gt_core::costs::Usage;

/// The largest file text a parser reads (64 MiB).
pub const MAX_INPUT_BYTES: usize = 64 << 20;

/// Which of a runtime's own files holds its usage: a field of its preset
/// ([`crate::runtime::Traits::usage`]); custom agents keep none gt reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageSource {
    #[default]
    None,
    /// Claude Code's transcript JSONL (`~/.claude/projects/…/<session>.jsonl`).
    ClaudeTranscript,
    /// Codex's rollout JSONL (`$CODEX_HOME/sessions/…`).
    CodexRollout,
    /// Gemini CLI's chat JSONL (`~/.gemini/tmp/<project>/chats/`).
    GeminiChat,
    /// OpenCode's messages in its own database.
    OpencodeDb,
    /// Aider's chat history in the worktree.
    AiderHistory,
}

impl UsageSource {
    /// The name recorded with the usage (`claude-transcript`, …); `None`
    /// when the runtime keeps no usage gt reads.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            UsageSource::None => return None,
            UsageSource::ClaudeTranscript => claude::SOURCE,
            UsageSource::CodexRollout => codex::SOURCE,
            UsageSource::GeminiChat => gemini::SOURCE,
            UsageSource::OpencodeDb => opencode::SOURCE,
            UsageSource::AiderHistory => aider::SOURCE,
        })
    }

    /// Parses `text` as this source's file (a transcript, rollout or chat
    /// JSONL; aider's history or screen; OpenCode's messages' `data`, one per
    /// line). `None` for text without usage.
    pub fn parse(self, text: &str) -> Option<Usage> {
        match self {
            UsageSource::None => None,
            UsageSource::ClaudeTranscript => claude::parse_transcript(text),
            UsageSource::CodexRollout => codex::parse_rollout(text).map(|r| r.usage),
            UsageSource::GeminiChat => gemini::parse_chat(text).map(|c| c.usage),
            UsageSource::AiderHistory => aider::parse_history(text),
            UsageSource::OpencodeDb => opencode::parse_messages(text),
        }
    }
}

/// A JSON number as a non-negative token count (floats, negatives and
/// absurd values are not counts).
pub(crate) fn count(v: Option<&serde_json::Value>) -> Option<i64> {
    let n = v?.as_u64()?;
    i64::try_from(n).ok().filter(|n| *n < (1 << 53))
}

/// Lines of `text` that parse as JSON objects (others are skipped: a file
/// being written may end in half a line).
pub(crate) fn json_lines(text: &str) -> impl Iterator<Item = serde_json::Value> + '_ {
    text.lines().filter_map(|l| {
        let l = l.trim();
        if !l.starts_with('{') {
            return None;
        }
        serde_json::from_str::<serde_json::Value>(l)
            .ok()
            .filter(|v| v.is_object())
    })
}

/// Dollars (a JSON float) as micro-dollars, rounded; `None` unless finite,
/// non-negative and below a billion dollars.
pub(crate) fn micros(usd: f64) -> Option<i64> {
    (usd.is_finite() && (0.0..1e9).contains(&usd)).then(|| (usd * 1e6).round() as i64)
}

#[cfg(test)]
mod tests;
