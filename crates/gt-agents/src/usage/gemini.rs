//! Gemini CLI: its chat files (`~/.gemini/tmp/<project>/chats/session-….jsonl`;
//! the project directory's `.project_root` holds the path the CLI ran in).
//!
//! The first line names the chat (`sessionId`, `startTime`); each message is
//! a line (`type: "gemini"` ones carry `tokens`: `input`, `output`, `cached`,
//! `thoughts`, `tool`), and a message is written again when it changes, with
//! the same `id`: the last line of an id counts. `{"$set": {"messages": […]}}`
//! lines replace the list. Gemini counts `input` including `cached`; the
//! cached part is subtracted, and thoughts count as output. No cost is written.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{count, json_lines, Usage, MAX_INPUT_BYTES};

pub const SOURCE: &str = "gemini-chat";

/// What a chat file says about itself and its totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chat {
    pub session_id: Option<String>,
    pub start_time: Option<String>,
    pub usage: Usage,
}

#[derive(Default)]
struct Counts {
    input: i64,
    output: i64,
    cached: i64,
    model: Option<String>,
}

fn message(m: &Value, msgs: &mut BTreeMap<String, (usize, Counts)>, order: &mut usize) {
    if m.get("type").and_then(Value::as_str) != Some("gemini") {
        return;
    }
    let (Some(id), Some(t)) = (m.get("id").and_then(Value::as_str), m.get("tokens")) else {
        return;
    };
    if !t.is_object() || id.len() > 200 {
        return;
    }
    let f = |n: &str| count(t.get(n)).unwrap_or(0);
    let model = m
        .get("model")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && s.len() <= 200 && !s.chars().any(char::is_control))
        .map(String::from);
    *order += 1;
    msgs.insert(
        id.to_string(),
        (
            *order,
            Counts {
                input: f("input"),
                output: f("output").saturating_add(f("thoughts")),
                cached: f("cached"),
                model,
            },
        ),
    );
}

/// Totals of a chat file; `None` when no model message has tokens.
pub fn parse_chat(text: &str) -> Option<Chat> {
    if text.len() > MAX_INPUT_BYTES {
        return None;
    }
    let mut session_id = None;
    let mut start_time = None;
    let mut msgs: BTreeMap<String, (usize, Counts)> = BTreeMap::new();
    let mut order = 0usize;
    for line in json_lines(text) {
        if session_id.is_none() {
            if let Some(s) = line.get("sessionId").and_then(Value::as_str) {
                session_id = Some(s.to_string());
                start_time = line
                    .get("startTime")
                    .and_then(Value::as_str)
                    .map(String::from);
                continue;
            }
        }
        if let Some(set) = line.get("$set") {
            if let Some(list) = set.get("messages").and_then(Value::as_array) {
                msgs.clear();
                for m in list {
                    message(m, &mut msgs, &mut order);
                }
            }
            continue;
        }
        message(&line, &mut msgs, &mut order);
    }
    if msgs.is_empty() {
        return None;
    }
    let mut u = Usage::default();
    let mut latest = 0usize;
    for (order, c) in msgs.values() {
        u.input_tokens = u
            .input_tokens
            .saturating_add(c.input.saturating_sub(c.cached).max(0));
        u.output_tokens = u.output_tokens.saturating_add(c.output);
        u.cache_read_tokens = u.cache_read_tokens.saturating_add(c.cached);
        if *order > latest && c.model.is_some() {
            latest = *order;
            u.model = c.model.clone();
        }
    }
    Some(Chat {
        session_id,
        start_time,
        usage: u,
    })
}
