//! Claude Code: its transcript (`~/.claude/projects/<dir>/<session_id>.jsonl`,
//! named by the hooks' `transcript_path`).
//!
//! Each `assistant` line carries `message.usage` (`input_tokens`,
//! `output_tokens`, `cache_read_input_tokens`, `cache_creation_input_tokens`).
//! One API response can be written as several lines (one per content block)
//! with the same usage: a response is counted once, keyed by the line's
//! `requestRef` (2.1.332), else `message.id`. Sidechain (subagent) lines are
//! real requests and count. The transcript has no per-message cost; a
//! `cost-state` line (written when a session ends or is saved, with the
//! session's `totalCostUSD`) gives the cost when it is the newest usage
//! fact in the file, i.e. no assistant line follows it.

use std::collections::HashSet;

use serde_json::Value;

use super::{count, json_lines, micros, Usage, MAX_INPUT_BYTES};

pub const SOURCE: &str = "claude-transcript";

/// Totals of a transcript; `None` when it has no assistant usage.
pub fn parse_transcript(text: &str) -> Option<Usage> {
    if text.len() > MAX_INPUT_BYTES {
        return None;
    }
    let mut seen: HashSet<String> = HashSet::new();
    let mut u = Usage::default();
    let mut any = false;
    let mut cost: Option<i64> = None;
    for line in json_lines(text) {
        match line.get("type").and_then(Value::as_str) {
            Some("assistant") => {
                let Some(msg) = line.get("message") else {
                    continue;
                };
                let Some(usage) = msg.get("usage").filter(|x| x.is_object()) else {
                    continue;
                };
                let key = line
                    .get("requestRef")
                    .and_then(Value::as_str)
                    .map(|r| format!("r:{r}"))
                    .or_else(|| {
                        msg.get("id")
                            .and_then(Value::as_str)
                            .map(|m| format!("m:{m}"))
                    });
                if let Some(k) = key {
                    if !seen.insert(k) {
                        continue;
                    }
                }
                let field = |n: &str| count(usage.get(n)).unwrap_or(0);
                u.input_tokens = u.input_tokens.saturating_add(field("input_tokens"));
                u.output_tokens = u.output_tokens.saturating_add(field("output_tokens"));
                u.cache_read_tokens = u
                    .cache_read_tokens
                    .saturating_add(field("cache_read_input_tokens"));
                u.cache_write_tokens = u
                    .cache_write_tokens
                    .saturating_add(field("cache_creation_input_tokens"));
                if let Some(m) = msg.get("model").and_then(Value::as_str) {
                    if !m.is_empty() && m.len() <= 200 && !m.chars().any(char::is_control) {
                        u.model = Some(m.to_string());
                    }
                }
                any = true;
                // A response after the last cost-state: that cost is stale.
                cost = None;
            }
            Some("cost-state") => {
                let unknown = line
                    .get("hasUnknownModelCost")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                cost = if unknown {
                    None
                } else {
                    line.get("totalCostUSD")
                        .and_then(Value::as_f64)
                        .and_then(micros)
                };
            }
            _ => {}
        }
    }
    u.cost_micros = cost;
    any.then_some(u)
}

/// The conversation id a transcript belongs to (`sessionId` of its lines).
pub fn transcript_session_id(text: &str) -> Option<String> {
    json_lines(text)
        .take(50)
        .find_map(|l| l.get("sessionId").and_then(Value::as_str).map(String::from))
}
