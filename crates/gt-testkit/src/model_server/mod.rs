//! A scripted model server for tests: a small HTTP server on 127.0.0.1 (random port) that speaks, streaming,
//! the Anthropic Messages, OpenAI Responses, OpenAI Chat Completions and Gemini APIs the real agent CLIs use.
//!
//! A [`Script`] decides each reply from the request's content (never from a call counter: CLIs send side
//! requests in parallel). Side requests (titles, routing, summaries, commit messages) get default answers.
//! Every request is recorded; [`ModelServer::requests`] returns them. The server stops when the handle drops.

mod reply;
mod request;

pub use reply::{Body, Reply, Usage};
pub use request::{when, Api, Predicate, Request, SideKind};

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde_json::{json, Value};

/// The model name replies report when the request names none.
const DEFAULT_MODEL: &str = "scripted-model";

/// Rules mapping a request to a reply; the first rule whose predicate holds answers.
pub struct Script {
    side: Vec<(Predicate, Reply)>,
    rules: Vec<(Predicate, Reply)>,
    fallback: Reply,
}

impl Default for Script {
    fn default() -> Self {
        Script::new()
    }
}

impl Script {
    /// An empty script: side requests get their defaults, everything else the text `done`.
    pub fn new() -> Script {
        Script {
            side: Vec::new(),
            rules: Vec::new(),
            fallback: Reply::text("done"),
        }
    }

    /// A typical agent: the first real turn runs `commands[0]`; after the result of command i (the
    /// conversation holds i+1 tool results) it runs `commands[i+1]`; after the last one it answers `final_text`.
    pub fn agent(commands: &[&str], final_text: &str) -> Script {
        let mut script = Script::new();
        for (i, cmd) in commands.iter().enumerate() {
            script = script.when(when::tool_results_seen(i), Reply::shell(cmd));
        }
        script.otherwise(Reply::text(final_text))
    }

    /// Add a rule for agent turns (side requests are answered before these rules; see [`Script::on_side`]).
    pub fn when(mut self, predicate: Predicate, reply: Reply) -> Script {
        self.rules.push((predicate, reply));
        self
    }

    /// Add a rule checked for side requests before their defaults.
    pub fn on_side(mut self, predicate: Predicate, reply: Reply) -> Script {
        self.side.push((predicate, reply));
        self
    }

    /// The reply when no rule matches.
    pub fn otherwise(mut self, reply: Reply) -> Script {
        self.fallback = reply;
        self
    }

    /// The reply for `req`.
    pub fn reply_for(&self, req: &Request) -> Reply {
        if let Some(kind) = req.side_kind() {
            if let Some((_, reply)) = self.side.iter().find(|(p, _)| p(req)) {
                return reply.clone();
            }
            return side_default(kind);
        }
        match self.rules.iter().find(|(p, _)| p(req)) {
            Some((_, reply)) => reply.clone(),
            None => self.fallback.clone(),
        }
    }
}

/// The default answer to a side request.
pub fn side_default(kind: SideKind) -> Reply {
    Reply::text(match kind {
        SideKind::Title => "Scripted task",
        SideKind::JsonTitle => r#"{"title": "Scripted task"}"#,
        SideKind::Routing => {
            r#"{"complexity_score": 10, "complexity_reasoning": "scripted", "reasoning": "scripted", "model_choice": "flash"}"#
        }
        SideKind::Summary => "Scripted summary.",
        SideKind::CommitMessage => "Apply the scripted change",
    })
}

/// A running server. Dropping it stops serving and joins the serving thread; tiny_http's own accept thread
/// closes the listener moments later (woken by the drop).
pub struct ModelServer {
    server: Arc<tiny_http::Server>,
    port: u16,
    log: Arc<Mutex<Vec<Request>>>,
    thread: Option<JoinHandle<()>>,
}

/// Why the server could not start.
#[derive(Debug)]
pub struct StartError(pub String);

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "model server could not start: {}", self.0)
    }
}

impl std::error::Error for StartError {}

impl ModelServer {
    /// Bind 127.0.0.1 on a random port and serve `script` until the handle drops.
    pub fn start(script: Script) -> Result<ModelServer, StartError> {
        let server =
            tiny_http::Server::http("127.0.0.1:0").map_err(|e| StartError(e.to_string()))?;
        let port = server
            .server_addr()
            .to_ip()
            .map(|a| a.port())
            .ok_or_else(|| StartError("not bound to an IP address".into()))?;
        let server = Arc::new(server);
        let log = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let server = Arc::clone(&server);
            let log = Arc::clone(&log);
            std::thread::Builder::new()
                .name("gt-model-server".into())
                .spawn(move || {
                    for incoming in server.incoming_requests() {
                        serve(incoming, &script, &log);
                    }
                })
                .map_err(|e| StartError(e.to_string()))?
        };
        Ok(ModelServer {
            server,
            port,
            log,
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT` (no trailing slash; add `/v1` for OpenAI-style clients).
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The requests that spoke `api`, in arrival order.
    pub fn requests_for(&self, api: Api) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.api == Some(api))
            .collect()
    }
}

impl Drop for ModelServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn api_of(method: &str, path: &str) -> Option<Api> {
    if method != "POST" {
        return None;
    }
    if path.ends_with("/messages") {
        Some(Api::Anthropic)
    } else if path.ends_with("/responses") {
        Some(Api::Responses)
    } else if path.ends_with("/chat/completions") {
        Some(Api::Chat)
    } else if path.ends_with(":streamGenerateContent") || path.ends_with(":generateContent") {
        Some(Api::Gemini)
    } else {
        None
    }
}

fn serve(mut incoming: tiny_http::Request, script: &Script, log: &Mutex<Vec<Request>>) {
    let method = incoming.method().as_str().to_ascii_uppercase();
    let url = incoming.url().to_string();
    let (path, query) = match url.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (url, String::new()),
    };
    let headers = incoming
        .headers()
        .iter()
        .map(|h| {
            (
                h.field.as_str().as_str().to_ascii_lowercase(),
                h.value.as_str().to_string(),
            )
        })
        .collect();
    let mut raw = String::new();
    let body = match incoming.as_reader().read_to_string(&mut raw) {
        Ok(_) => serde_json::from_str(&raw).unwrap_or(Value::Null),
        Err(_) => Value::Null,
    };
    let req = Request {
        api: api_of(&method, &path),
        method,
        path,
        query,
        headers,
        body,
    };
    let (status, content_type, text) = match req.api {
        Some(api) => {
            let model = model_of(&req);
            let r = reply::render(api, &model, req.wants_stream(), &script.reply_for(&req));
            (r.status, r.content_type, r.body)
        }
        None if req.method == "GET" && req.path.ends_with("/models") => {
            (200, "application/json", model_list().to_string())
        }
        None => (
            404,
            "application/json",
            json!({ "error": { "message": format!("no such endpoint: {} {}", req.method, req.path) } })
                .to_string(),
        ),
    };
    if let Ok(mut l) = log.lock() {
        l.push(req);
    }
    let mut response = tiny_http::Response::from_string(text).with_status_code(status);
    if let Ok(h) = tiny_http::Header::from_bytes("Content-Type", content_type) {
        response = response.with_header(h);
    }
    // A client that hung up is no failure of the server.
    let _ = incoming.respond(response);
}

fn model_of(req: &Request) -> String {
    if let Some(m) = req.body.get("model").and_then(Value::as_str) {
        return m.to_string();
    }
    // Gemini names the model in the path: /v1beta/models/NAME:streamGenerateContent
    req.path
        .rsplit('/')
        .next()
        .and_then(|last| last.split(':').next())
        .filter(|m| !m.is_empty())
        .unwrap_or(DEFAULT_MODEL)
        .to_string()
}

/// One listing that satisfies the OpenAI, Anthropic and Gemini model-list shapes at once.
fn model_list() -> Value {
    json!({
        "object": "list",
        "data": [{
            "id": DEFAULT_MODEL, "object": "model", "created": 0, "owned_by": "gt-testkit",
            "type": "model", "display_name": "Scripted model", "created_at": "2026-01-01T00:00:00Z",
        }],
        "has_more": false,
        "first_id": DEFAULT_MODEL,
        "last_id": DEFAULT_MODEL,
        "models": [{
            "name": format!("models/{DEFAULT_MODEL}"), "displayName": "Scripted model",
            "supportedGenerationMethods": ["generateContent", "streamGenerateContent"],
        }],
    })
}
