//! Codex: its rollout files (`$CODEX_HOME/sessions/YYYY/MM/DD/rollout-….jsonl`).
//!
//! The first line, `session_meta`, names the conversation (`payload.id`) and
//! the directory it ran in (`payload.cwd`: a polecat's worktree, which is how
//! gt finds a session's rollout). `event_msg` lines of type `token_count`
//! carry `info.total_token_usage`, a running total: the last one counts.
//! OpenAI counts `input_tokens` including `cached_input_tokens`; the cached
//! part is subtracted. No cost is written.

use serde_json::Value;

use super::{count, json_lines, Usage, MAX_INPUT_BYTES};

pub const SOURCE: &str = "codex-rollout";

/// What a rollout says about itself and its totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollout {
    /// `session_meta.payload.id`.
    pub id: Option<String>,
    /// `session_meta.payload.cwd`.
    pub cwd: Option<String>,
    pub usage: Usage,
}

/// The conversation id and directory of a rollout, from its first lines.
pub fn rollout_meta(text: &str) -> Option<(Option<String>, Option<String>)> {
    let meta = json_lines(text)
        .take(5)
        .find(|l| l.get("type").and_then(Value::as_str) == Some("session_meta"))?;
    let p = meta.get("payload")?;
    let s = |k: &str| p.get(k).and_then(Value::as_str).map(String::from);
    Some((s("id"), s("cwd")))
}

/// Totals of a rollout; `None` when it has no token count.
pub fn parse_rollout(text: &str) -> Option<Rollout> {
    if text.len() > MAX_INPUT_BYTES {
        return None;
    }
    let (id, cwd) = rollout_meta(text).unwrap_or((None, None));
    let mut last: Option<Usage> = None;
    let mut model: Option<String> = None;
    for line in json_lines(text) {
        let Some(p) = line.get("payload") else {
            continue;
        };
        match line.get("type").and_then(Value::as_str) {
            Some("turn_context") => {
                if let Some(m) = p.get("model").and_then(Value::as_str) {
                    if !m.is_empty() && m.len() <= 200 && !m.chars().any(char::is_control) {
                        model = Some(m.to_string());
                    }
                }
            }
            Some("event_msg") if p.get("type").and_then(Value::as_str) == Some("token_count") => {
                let Some(t) = p.get("info").and_then(|i| i.get("total_token_usage")) else {
                    continue;
                };
                let f = |n: &str| count(t.get(n)).unwrap_or(0);
                let cached = f("cached_input_tokens");
                last = Some(Usage {
                    input_tokens: f("input_tokens").saturating_sub(cached).max(0),
                    output_tokens: f("output_tokens"),
                    cache_read_tokens: cached,
                    cache_write_tokens: f("cache_write_input_tokens"),
                    cost_micros: None,
                    model: None,
                });
            }
            _ => {}
        }
    }
    let mut usage = last?;
    usage.model = model;
    Some(Rollout { id, cwd, usage })
}
