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

/// Where a runtime's usage is read from, as recorded with it.
pub fn source_name(runtime: &str) -> Option<&'static str> {
    Some(match runtime {
        "claude" => claude::SOURCE,
        "codex" => codex::SOURCE,
        "gemini" => gemini::SOURCE,
        "aider" => aider::SOURCE,
        "opencode" => opencode::SOURCE,
        _ => return None,
    })
}

/// Parses `text` as `runtime`'s usage file (`claude`: a transcript JSONL;
/// `codex`: a rollout JSONL; `gemini`: a chat JSONL; `aider`: its chat
/// history or screen; `opencode`: its messages' `data`, one per line). `None`
/// for another runtime or text without usage.
pub fn parse(runtime: &str, text: &str) -> Option<Usage> {
    match runtime {
        "claude" => claude::parse_transcript(text),
        "codex" => codex::parse_rollout(text).map(|r| r.usage),
        "gemini" => gemini::parse_chat(text).map(|c| c.usage),
        "aider" => aider::parse_history(text),
        "opencode" => opencode::parse_messages(text),
        _ => None,
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
