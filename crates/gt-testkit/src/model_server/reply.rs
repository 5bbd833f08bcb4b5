//! Replies and how each API renders them (SSE event sequences and non-streamed JSON).

use serde_json::{json, Value};

use super::request::Api;

/// Token usage a reply reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
}

impl Default for Usage {
    /// The fixed default every reply carries unless told otherwise: input 100, output 20, cache read 0.
    fn default() -> Self {
        Usage {
            input: 100,
            output: 20,
            cache_read: 0,
        }
    }
}

/// What a reply says.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// Final text, end of turn.
    Text(String),
    /// Run a shell command with the API's own shell tool (`Bash`, `exec_command`, `bash`, `run_shell_command`).
    Shell(String),
    /// Call a named tool with these arguments.
    Tool { name: String, args: Value },
    /// An HTTP error in the API's own error shape.
    Error(u16),
}

/// One scripted reply with its usage.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub body: Body,
    pub usage: Usage,
}

impl Reply {
    /// A final text reply (end of turn).
    pub fn text(text: &str) -> Reply {
        Reply::from_body(Body::Text(text.to_string()))
    }
    /// A call of the API's shell tool running `command`.
    pub fn shell(command: &str) -> Reply {
        Reply::from_body(Body::Shell(command.to_string()))
    }
    /// A call of the tool `name` with `args` (a JSON object).
    pub fn tool(name: &str, args: Value) -> Reply {
        Reply::from_body(Body::Tool {
            name: name.to_string(),
            args,
        })
    }
    /// An HTTP error (401, 429, 500, 529, …) in the API's own error shape.
    pub fn error(status: u16) -> Reply {
        Reply::from_body(Body::Error(status))
    }
    /// The same reply reporting other token usage.
    pub fn with_usage(mut self, input: u64, output: u64, cache_read: u64) -> Reply {
        self.usage = Usage {
            input,
            output,
            cache_read,
        };
        self
    }
    fn from_body(body: Body) -> Reply {
        Reply {
            body,
            usage: Usage::default(),
        }
    }
}

/// A rendered HTTP response.
pub(crate) struct Rendered {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

/// A new number for each rendered reply: message, response and tool-call
/// ids are unique (`msg_scripted_7`, `toolu_scripted_7`, …), as a real API's
/// are — a CLI that resumes a conversation tells calls apart by their id.
fn next_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// The tool call a reply makes on `api`, if it makes one: (name, arguments).
fn tool_call(api: Api, body: &Body) -> Option<(String, Value)> {
    match body {
        Body::Shell(cmd) => Some(match api {
            Api::Anthropic => ("Bash".into(), json!({ "command": cmd })),
            Api::Responses => ("exec_command".into(), json!({ "cmd": cmd })),
            Api::Chat => (
                "bash".into(),
                json!({ "command": cmd, "description": "scripted command" }),
            ),
            Api::Gemini => ("run_shell_command".into(), json!({ "command": cmd })),
        }),
        Body::Tool { name, args } => Some((name.clone(), args.clone())),
        _ => None,
    }
}

fn sse(events: &[(Option<&str>, Value)]) -> String {
    let mut out = String::new();
    for (name, data) in events {
        if let Some(name) = name {
            out.push_str(&format!("event: {name}\n"));
        }
        out.push_str(&format!("data: {data}\n\n"));
    }
    out
}

pub(crate) fn render(api: Api, model: &str, stream: bool, reply: &Reply) -> Rendered {
    if let Body::Error(status) = reply.body {
        return error(api, status);
    }
    let n = next_id();
    let body = match (api, stream) {
        (Api::Anthropic, true) => anthropic_stream(model, reply, n),
        (Api::Anthropic, false) => anthropic_message(model, reply, n).to_string(),
        (Api::Responses, true) => responses_stream(model, reply, n),
        (Api::Responses, false) => responses_object(model, reply, n).to_string(),
        (Api::Chat, true) => chat_stream(model, reply, n),
        (Api::Chat, false) => chat_completion(model, reply, n).to_string(),
        (Api::Gemini, true) => sse(&[(None, gemini_response(model, reply))]),
        (Api::Gemini, false) => gemini_response(model, reply).to_string(),
    };
    Rendered {
        status: 200,
        content_type: if stream {
            "text/event-stream"
        } else {
            "application/json"
        },
        body,
    }
}

fn anthropic_usage(u: &Usage) -> Value {
    json!({
        "input_tokens": u.input,
        "output_tokens": u.output,
        "cache_read_input_tokens": u.cache_read,
        "cache_creation_input_tokens": 0,
    })
}

fn anthropic_message(model: &str, reply: &Reply, n: u64) -> Value {
    let (content, stop) = match tool_call(Api::Anthropic, &reply.body) {
        Some((name, args)) => (
            json!([{ "type": "tool_use", "id": format!("toolu_scripted_{n}"), "name": name, "input": args }]),
            "tool_use",
        ),
        None => (
            json!([{ "type": "text", "text": text_of(&reply.body) }]),
            "end_turn",
        ),
    };
    json!({
        "id": format!("msg_scripted_{n}"), "type": "message", "role": "assistant", "model": model,
        "content": content, "stop_reason": stop, "stop_sequence": null,
        "usage": anthropic_usage(&reply.usage),
    })
}

fn anthropic_stream(model: &str, reply: &Reply, n: u64) -> String {
    let u = &reply.usage;
    let start = json!({
        "type": "message_start",
        "message": {
            "id": format!("msg_scripted_{n}"), "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": { "input_tokens": u.input, "output_tokens": 1,
                       "cache_read_input_tokens": u.cache_read, "cache_creation_input_tokens": 0 },
        },
    });
    let (block, delta, stop) = match tool_call(Api::Anthropic, &reply.body) {
        Some((name, args)) => (
            json!({ "type": "tool_use", "id": format!("toolu_scripted_{n}"), "name": name, "input": {} }),
            json!({ "type": "input_json_delta", "partial_json": args.to_string() }),
            "tool_use",
        ),
        None => (
            json!({ "type": "text", "text": "" }),
            json!({ "type": "text_delta", "text": text_of(&reply.body) }),
            "end_turn",
        ),
    };
    sse(&[
        (Some("message_start"), start),
        (
            Some("content_block_start"),
            json!({ "type": "content_block_start", "index": 0, "content_block": block }),
        ),
        (
            Some("content_block_delta"),
            json!({ "type": "content_block_delta", "index": 0, "delta": delta }),
        ),
        (
            Some("content_block_stop"),
            json!({ "type": "content_block_stop", "index": 0 }),
        ),
        (
            Some("message_delta"),
            json!({ "type": "message_delta",
                    "delta": { "stop_reason": stop, "stop_sequence": null },
                    "usage": anthropic_usage(u) }),
        ),
        (Some("message_stop"), json!({ "type": "message_stop" })),
    ])
}

fn responses_item(reply: &Reply, n: u64) -> Value {
    match tool_call(Api::Responses, &reply.body) {
        Some((name, args)) => json!({
            "type": "function_call", "id": format!("fc_scripted_{n}"), "status": "completed",
            "call_id": format!("call_scripted_{n}"), "name": name, "arguments": args.to_string(),
        }),
        None => json!({
            "type": "message", "id": format!("msg_scripted_{n}"), "status": "completed", "role": "assistant",
            "content": [{ "type": "output_text", "text": text_of(&reply.body), "annotations": [] }],
        }),
    }
}

fn responses_object(model: &str, reply: &Reply, n: u64) -> Value {
    let u = &reply.usage;
    json!({
        "id": format!("resp_scripted_{n}"), "object": "response", "status": "completed", "model": model,
        "output": [responses_item(reply, n)],
        "usage": {
            "input_tokens": u.input,
            "input_tokens_details": { "cached_tokens": u.cache_read },
            "output_tokens": u.output,
            "output_tokens_details": { "reasoning_tokens": 0 },
            "total_tokens": u.input + u.output,
        },
    })
}

fn responses_stream(model: &str, reply: &Reply, n: u64) -> String {
    let mut created = responses_object(model, reply, n);
    created["status"] = json!("in_progress");
    created["output"] = json!([]);
    created["usage"] = Value::Null;
    let item = responses_item(reply, n);
    sse(&[
        (
            Some("response.created"),
            json!({ "type": "response.created", "sequence_number": 0, "response": created }),
        ),
        (
            Some("response.output_item.added"),
            json!({ "type": "response.output_item.added", "sequence_number": 1,
                    "output_index": 0, "item": item }),
        ),
        (
            Some("response.output_item.done"),
            json!({ "type": "response.output_item.done", "sequence_number": 2,
                    "output_index": 0, "item": item }),
        ),
        (
            Some("response.completed"),
            json!({ "type": "response.completed", "sequence_number": 3,
                    "response": responses_object(model, reply, n) }),
        ),
    ])
}

fn chat_usage(u: &Usage) -> Value {
    json!({
        "prompt_tokens": u.input,
        "completion_tokens": u.output,
        "total_tokens": u.input + u.output,
        "prompt_tokens_details": { "cached_tokens": u.cache_read },
    })
}

fn chat_completion(model: &str, reply: &Reply, n: u64) -> Value {
    let (message, finish) = match tool_call(Api::Chat, &reply.body) {
        Some((name, args)) => (
            json!({ "role": "assistant", "content": null, "tool_calls": [{
                "id": format!("call_scripted_{n}"), "type": "function",
                "function": { "name": name, "arguments": args.to_string() } }] }),
            "tool_calls",
        ),
        None => (
            json!({ "role": "assistant", "content": text_of(&reply.body) }),
            "stop",
        ),
    };
    json!({
        "id": "chatcmpl-scripted-1", "object": "chat.completion", "created": 0, "model": model,
        "choices": [{ "index": 0, "message": message, "finish_reason": finish }],
        "usage": chat_usage(&reply.usage),
    })
}

fn chat_chunk(model: &str, choices: Value, usage: Value) -> (Option<&'static str>, Value) {
    (
        None,
        json!({ "id": "chatcmpl-scripted-1", "object": "chat.completion.chunk", "created": 0,
                "model": model, "choices": choices, "usage": usage }),
    )
}

fn chat_stream(model: &str, reply: &Reply, n: u64) -> String {
    let (delta, finish) = match tool_call(Api::Chat, &reply.body) {
        Some((name, args)) => (
            json!({ "role": "assistant", "content": null, "tool_calls": [{
                "index": 0, "id": format!("call_scripted_{n}"), "type": "function",
                "function": { "name": name, "arguments": args.to_string() } }] }),
            "tool_calls",
        ),
        None => (
            json!({ "role": "assistant", "content": text_of(&reply.body) }),
            "stop",
        ),
    };
    let mut out = sse(&[
        chat_chunk(
            model,
            json!([{ "index": 0, "delta": delta, "finish_reason": null }]),
            Value::Null,
        ),
        chat_chunk(
            model,
            json!([{ "index": 0, "delta": {}, "finish_reason": finish }]),
            Value::Null,
        ),
        // Sent whether or not `stream_options.include_usage` was asked for: clients ignore it otherwise.
        chat_chunk(model, json!([]), chat_usage(&reply.usage)),
    ]);
    out.push_str("data: [DONE]\n\n");
    out
}

fn gemini_response(model: &str, reply: &Reply) -> Value {
    let part = match tool_call(Api::Gemini, &reply.body) {
        Some((name, args)) => json!({ "functionCall": { "name": name, "args": args } }),
        None => json!({ "text": text_of(&reply.body) }),
    };
    let u = &reply.usage;
    json!({
        "candidates": [{
            "content": { "role": "model", "parts": [part] },
            "finishReason": "STOP", "index": 0,
        }],
        "usageMetadata": {
            "promptTokenCount": u.input,
            "candidatesTokenCount": u.output,
            "cachedContentTokenCount": u.cache_read,
            "totalTokenCount": u.input + u.output,
        },
        "modelVersion": model,
    })
}

fn text_of(body: &Body) -> String {
    match body {
        Body::Text(t) => t.clone(),
        _ => String::new(),
    }
}

/// An error reply in `api`'s own error shape.
pub(crate) fn error(api: Api, status: u16) -> Rendered {
    let (anthropic, openai, gemini) = match status {
        400 => (
            "invalid_request_error",
            "invalid_request_error",
            "INVALID_ARGUMENT",
        ),
        401 => ("authentication_error", "invalid_api_key", "UNAUTHENTICATED"),
        402 => ("billing_error", "insufficient_quota", "FAILED_PRECONDITION"),
        403 => ("permission_error", "permission_denied", "PERMISSION_DENIED"),
        404 => ("not_found_error", "not_found", "NOT_FOUND"),
        429 => (
            "rate_limit_error",
            "rate_limit_exceeded",
            "RESOURCE_EXHAUSTED",
        ),
        529 => ("overloaded_error", "server_overloaded", "UNAVAILABLE"),
        503 => ("overloaded_error", "server_overloaded", "UNAVAILABLE"),
        _ => ("api_error", "server_error", "INTERNAL"),
    };
    let message = format!("scripted error {status}");
    let body = match api {
        Api::Anthropic => {
            json!({ "type": "error", "error": { "type": anthropic, "message": message } })
        }
        Api::Responses | Api::Chat => json!({ "error": {
            "message": message, "type": openai, "param": null, "code": openai } }),
        Api::Gemini => json!({ "error": { "code": status, "message": message, "status": gemini } }),
    };
    Rendered {
        status,
        content_type: "application/json",
        body: body.to_string(),
    }
}
