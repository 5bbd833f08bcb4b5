//! OpenCode: its messages, kept in its SQLite database
//! (`~/.local/share/opencode/opencode.db`, table `message`, column `data`: one
//! JSON object per message; the `session` table's `directory` is where it
//! ran). gt's store backend reads the rows (read-only); this parser takes
//! their `data`, one per line.
//!
//! Each `role: "assistant"` message carries `tokens` (`input` — without cache
//! reads —, `output`, `reasoning`, `cache.read`, `cache.write`) and `cost` in
//! dollars (OpenCode's own figure from the model's configured price, 0 when
//! it has none). Title requests are not messages and do not count.

use serde_json::Value;

use super::{count, json_lines, micros, Usage, MAX_INPUT_BYTES};

pub const SOURCE: &str = "opencode-db";

/// Totals of the messages' `data`, one JSON object per line; `None` when no
/// assistant message has tokens.
pub fn parse_messages(text: &str) -> Option<Usage> {
    if text.len() > MAX_INPUT_BYTES {
        return None;
    }
    let mut u = Usage::default();
    let mut any = false;
    let mut cost: Option<i64> = None;
    for m in json_lines(text) {
        if m.get("role").and_then(Value::as_str) != Some("assistant") {
            continue;
        }
        let Some(t) = m.get("tokens").filter(|t| t.is_object()) else {
            continue;
        };
        let f = |v: Option<&Value>| count(v).unwrap_or(0);
        let cache = t.get("cache");
        // A message still being written has zero tokens: nothing to count.
        if f(t.get("input")) + f(t.get("output")) == 0 {
            continue;
        }
        u.input_tokens = u.input_tokens.saturating_add(f(t.get("input")));
        u.output_tokens = u
            .output_tokens
            .saturating_add(f(t.get("output")))
            .saturating_add(f(t.get("reasoning")));
        u.cache_read_tokens = u
            .cache_read_tokens
            .saturating_add(f(cache.and_then(|c| c.get("read"))));
        u.cache_write_tokens = u
            .cache_write_tokens
            .saturating_add(f(cache.and_then(|c| c.get("write"))));
        if let Some(c) = m.get("cost").and_then(Value::as_f64).and_then(micros) {
            cost = Some(cost.unwrap_or(0).saturating_add(c));
        }
        if let Some(model) = m
            .get("modelID")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && s.len() <= 200 && !s.chars().any(char::is_control))
        {
            u.model = Some(model.to_string());
        }
        any = true;
    }
    // A zero cost is OpenCode's "no price known", not a free model.
    u.cost_micros = cost.filter(|c| *c > 0);
    any.then_some(u)
}
