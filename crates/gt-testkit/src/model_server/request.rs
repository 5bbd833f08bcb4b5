//! A recorded request and the predicates scripts use to pick a reply from its content.

use serde_json::Value;

/// Which model API a request spoke (decided from its path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// Anthropic Messages: `POST /v1/messages` (Claude Code).
    Anthropic,
    /// OpenAI Responses: `POST /v1/responses` (Codex).
    Responses,
    /// OpenAI Chat Completions: `POST /v1/chat/completions` (OpenCode, Aider).
    Chat,
    /// Gemini `:streamGenerateContent` / `:generateContent` (Gemini CLI).
    Gemini,
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The path without the query string.
    pub path: String,
    /// The query string (without `?`), empty when there was none.
    pub query: String,
    /// Header names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The parsed JSON body (`Value::Null` when the body was empty or not JSON).
    pub body: Value,
    /// The API the path belongs to, `None` for listings and unknown paths.
    pub api: Option<Api>,
}

impl Request {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the client asked for a streamed (SSE) reply.
    pub fn wants_stream(&self) -> bool {
        match self.api {
            Some(Api::Gemini) => self.path.ends_with(":streamGenerateContent"),
            _ => self
                .body
                .get("stream")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        }
    }

    /// The whole body as text: "the conversation contains X" searches this.
    pub fn text(&self) -> String {
        let mut out = String::new();
        collect_strings(&self.body, &mut out);
        out
    }

    /// Whether the conversation (system prompt, messages, tool results) contains `needle`.
    pub fn contains(&self, needle: &str) -> bool {
        self.text().contains(needle)
    }

    /// Whether the request offers the model any tools.
    pub fn offers_tools(&self) -> bool {
        match self.body.get("tools") {
            Some(Value::Array(tools)) => !tools.is_empty(),
            Some(Value::Null) | None => false,
            Some(_) => true,
        }
    }

    /// The conversation's items in order (Anthropic/Chat `messages`, Responses `input`, Gemini `contents`).
    fn items(&self) -> Vec<&Value> {
        let key = match self.api {
            Some(Api::Anthropic) | Some(Api::Chat) => "messages",
            Some(Api::Responses) => "input",
            Some(Api::Gemini) => "contents",
            None => return Vec::new(),
        };
        match self.body.get(key) {
            Some(Value::Array(items)) => items.iter().collect(),
            _ => Vec::new(),
        }
    }

    /// Every tool result in the conversation, oldest first, as text.
    pub fn tool_results(&self) -> Vec<String> {
        self.items()
            .into_iter()
            .flat_map(|item| tool_results_of(self.api, item))
            .collect()
    }

    /// The tool result(s) the last item of the conversation carries, if it is a tool result.
    /// (Responses: the trailing `function_call_output` items; Chat: trailing `role: tool` messages.)
    pub fn last_tool_result(&self) -> Option<String> {
        let items = self.items();
        let mut found = Vec::new();
        for item in items.iter().rev() {
            let results = tool_results_of(self.api, item);
            if results.is_empty() {
                break;
            }
            found.extend(results);
            // Anthropic and Gemini carry all results of a turn in one item.
            if matches!(self.api, Some(Api::Anthropic) | Some(Api::Gemini)) {
                break;
            }
        }
        if found.is_empty() {
            None
        } else {
            Some(found.join("\n"))
        }
    }

    /// Whether the last item of the conversation is a tool result.
    pub fn last_is_tool_result(&self) -> bool {
        self.last_tool_result().is_some()
    }

    /// A side request: a title, a routing decision, a summary or a commit message, not an agent turn.
    pub fn is_side_request(&self) -> bool {
        self.side_kind().is_some()
    }

    /// What kind of side request this is, if it is one.
    pub fn side_kind(&self) -> Option<SideKind> {
        let text = self.text().to_ascii_lowercase();
        match self.api? {
            Api::Anthropic => {
                if self.offers_tools() {
                    None
                } else if text.contains("title") {
                    Some(SideKind::Title)
                } else {
                    Some(SideKind::Summary)
                }
            }
            Api::Responses => {
                let format = self.body.pointer("/text/format");
                let schema = format.map(Value::to_string).unwrap_or_default();
                if format.and_then(|f| f.get("type")).and_then(Value::as_str) == Some("json_schema")
                    && schema.contains("\"title\"")
                {
                    Some(SideKind::JsonTitle)
                } else if !self.offers_tools() {
                    Some(SideKind::Summary)
                } else {
                    None
                }
            }
            Api::Chat => {
                if self.offers_tools() {
                    None
                } else if !self.wants_stream() && text.contains("commit message") {
                    Some(SideKind::CommitMessage)
                } else if text.contains("title generator") || text.contains("generate a title") {
                    Some(SideKind::Title)
                } else {
                    None
                }
            }
            Api::Gemini => {
                if text.contains("complexity_score") {
                    Some(SideKind::Routing)
                } else if !self.wants_stream() {
                    Some(SideKind::Summary)
                } else {
                    None
                }
            }
        }
    }
}

/// The kinds of side request the server answers by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SideKind {
    /// A plain-text title (OpenCode, Claude Code).
    Title,
    /// A title as JSON `{"title": …}` (Codex's `text.format` json_schema).
    JsonTitle,
    /// Gemini's model routing: JSON with `complexity_score`.
    Routing,
    /// A short summary.
    Summary,
    /// Aider's commit message.
    CommitMessage,
}

fn tool_results_of(api: Option<Api>, item: &Value) -> Vec<String> {
    let mut out = Vec::new();
    match api {
        Some(Api::Anthropic) => {
            if let Some(Value::Array(blocks)) = item.get("content") {
                for block in blocks {
                    if block.get("type").and_then(Value::as_str) == Some("tool_result") {
                        let mut text = String::new();
                        collect_strings(block.get("content").unwrap_or(&Value::Null), &mut text);
                        out.push(text);
                    }
                }
            }
        }
        Some(Api::Responses)
            if item.get("type").and_then(Value::as_str) == Some("function_call_output") =>
        {
            let mut text = String::new();
            collect_strings(item.get("output").unwrap_or(&Value::Null), &mut text);
            out.push(text);
        }
        Some(Api::Chat) if item.get("role").and_then(Value::as_str) == Some("tool") => {
            let mut text = String::new();
            collect_strings(item.get("content").unwrap_or(&Value::Null), &mut text);
            out.push(text);
        }
        Some(Api::Gemini) => {
            if let Some(Value::Array(parts)) = item.get("parts") {
                for part in parts {
                    if let Some(response) = part.get("functionResponse") {
                        let mut text = String::new();
                        collect_strings(
                            response.get("response").unwrap_or(&Value::Null),
                            &mut text,
                        );
                        out.push(text);
                    }
                }
            }
        }
        _ => {}
    }
    out
}

fn collect_strings(value: &Value, out: &mut String) {
    match value {
        Value::String(s) => {
            out.push_str(s);
            out.push('\n');
        }
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

/// A predicate on a request, as used by [`crate::model_server::Script::when`].
pub type Predicate = Box<dyn Fn(&Request) -> bool + Send + Sync>;

/// Helpers for the common predicates.
pub mod when {
    use super::{Predicate, Request};

    /// Always true (a catch-all rule).
    pub fn always() -> Predicate {
        Box::new(|_| true)
    }
    /// The last item of the conversation is a tool result (any API).
    pub fn last_is_tool_result() -> Predicate {
        Box::new(Request::last_is_tool_result)
    }
    /// The last item is a tool result whose text contains `needle`.
    pub fn last_tool_result_contains(needle: &str) -> Predicate {
        let needle = needle.to_string();
        Box::new(move |r| r.last_tool_result().is_some_and(|t| t.contains(&needle)))
    }
    /// The last item is not a tool result: a first (or user) turn.
    pub fn user_turn() -> Predicate {
        Box::new(|r| !r.last_is_tool_result())
    }
    /// The conversation contains `needle` anywhere (system prompt, messages, tool results).
    pub fn contains(needle: &str) -> Predicate {
        let needle = needle.to_string();
        Box::new(move |r| r.contains(&needle))
    }
    /// The request offers tools.
    pub fn offers_tools() -> Predicate {
        Box::new(Request::offers_tools)
    }
    /// A side request (title, routing, summary, commit message).
    pub fn is_side_request() -> Predicate {
        Box::new(Request::is_side_request)
    }
    /// The conversation holds exactly `n` tool results so far.
    pub fn tool_results_seen(n: usize) -> Predicate {
        Box::new(move |r| r.tool_results().len() == n)
    }
    /// Both predicates hold.
    pub fn and(a: Predicate, b: Predicate) -> Predicate {
        Box::new(move |r| a(r) && b(r))
    }
    /// The predicate does not hold.
    pub fn not(a: Predicate) -> Predicate {
        Box::new(move |r| !a(r))
    }
}
