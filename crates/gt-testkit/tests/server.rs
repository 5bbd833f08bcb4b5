//! The scripted model server driven with a plain HTTP client, event by event.

use gt_testkit::model_server::{when, Api, ModelServer, Reply, Script};
use serde_json::{json, Value};

fn post(server: &ModelServer, path: &str, body: Value) -> (u16, String, String) {
    let url = format!("{}{path}", server.base_url());
    let result = ureq::post(&url)
        .set("Content-Type", "application/json")
        .send_string(&body.to_string());
    let response = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("request to {url} failed: {e}"),
    };
    let status = response.status();
    let ctype = response.content_type().to_string();
    (status, ctype, response.into_string().expect("body"))
}

/// (event name, data) pairs of an SSE body.
fn events(body: &str) -> Vec<(Option<String>, String)> {
    body.split("\n\n")
        .filter(|chunk| !chunk.trim().is_empty())
        .map(|chunk| {
            let mut name = None;
            let mut data = String::new();
            for line in chunk.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = Some(n.to_string());
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            (name, data)
        })
        .collect()
}

fn json_of(data: &str) -> Value {
    serde_json::from_str(data).unwrap_or_else(|e| panic!("not JSON ({e}): {data}"))
}

fn agent() -> Script {
    Script::agent(&["touch proof.txt", "ls"], "All done.")
}

#[test]
fn anthropic_streams_a_bash_tool_call_then_ends_the_turn_after_the_results() {
    let server = ModelServer::start(agent()).unwrap();
    let tools = json!([{ "name": "Bash", "input_schema": { "type": "object" } }]);
    let mut body = json!({ "model": "claude-x", "stream": true, "tools": tools,
        "system": "gt briefing here", "messages": [{ "role": "user", "content": "do it" }] });
    let (status, ctype, text) = post(&server, "/v1/messages?beta=true", body.clone());
    assert_eq!(status, 200);
    assert_eq!(ctype, "text/event-stream");
    let ev = events(&text);
    let names: Vec<_> = ev.iter().map(|(n, _)| n.clone().unwrap()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let start = json_of(&ev[0].1);
    assert_eq!(start["message"]["model"], "claude-x");
    assert_eq!(start["message"]["usage"]["input_tokens"], 100);
    let block = json_of(&ev[1].1);
    assert_eq!(block["content_block"]["type"], "tool_use");
    assert_eq!(block["content_block"]["name"], "Bash");
    assert_eq!(block["content_block"]["input"], json!({}));
    let delta = json_of(&ev[2].1);
    assert_eq!(delta["delta"]["type"], "input_json_delta");
    assert_eq!(
        json_of(delta["delta"]["partial_json"].as_str().unwrap()),
        json!({ "command": "touch proof.txt" })
    );
    let md = json_of(&ev[4].1);
    assert_eq!(md["delta"]["stop_reason"], "tool_use");
    assert_eq!(md["usage"]["output_tokens"], 20);
    assert_eq!(md["usage"]["cache_read_input_tokens"], 0);

    // One tool result: the next command.
    let result = |out: &str| {
        json!({ "role": "user", "content": [
        { "type": "tool_result", "tool_use_id": "toolu_scripted_1", "content": out }] })
    };
    let assistant = json!({ "role": "assistant", "content": [{ "type": "tool_use" }] });
    body["messages"] = json!([{ "role": "user", "content": "do it" }, assistant, result("ok")]);
    let (_, _, text) = post(&server, "/v1/messages", body.clone());
    let delta = json_of(&events(&text)[2].1);
    assert_eq!(
        json_of(delta["delta"]["partial_json"].as_str().unwrap()),
        json!({ "command": "ls" })
    );

    // Two results: final text, end of turn.
    body["messages"] = json!([{ "role": "user", "content": "do it" }, assistant, result("ok"),
        assistant, result("proof.txt")]);
    let (_, _, text) = post(&server, "/v1/messages", body);
    let ev = events(&text);
    assert_eq!(json_of(&ev[1].1)["content_block"]["type"], "text");
    assert_eq!(
        json_of(&ev[2].1)["delta"],
        json!({ "type": "text_delta", "text": "All done." })
    );
    assert_eq!(json_of(&ev[4].1)["delta"]["stop_reason"], "end_turn");

    let seen = server.requests();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[0].path, "/v1/messages");
    assert_eq!(seen[0].query, "beta=true");
    assert!(seen[0].contains("gt briefing here"));
    assert_eq!(seen[2].last_tool_result().as_deref(), Some("proof.txt\n"));
}

#[test]
fn anthropic_without_stream_answers_one_json_message_and_side_requests_get_defaults() {
    let server = ModelServer::start(agent()).unwrap();
    let (status, ctype, text) = post(
        &server,
        "/v1/messages",
        json!({ "model": "m", "stream": false,
        "messages": [{ "role": "user", "content": "Write a short title for this" }] }),
    );
    assert_eq!((status, ctype.as_str()), (200, "application/json"));
    let msg = json_of(&text);
    assert_eq!(msg["type"], "message");
    assert_eq!(
        msg["content"][0],
        json!({ "type": "text", "text": "Scripted task" })
    );
    assert_eq!(msg["stop_reason"], "end_turn");
    assert_eq!(msg["usage"]["input_tokens"], 100);
}

#[test]
fn responses_streams_an_exec_command_call_and_answers_title_requests_as_json() {
    let server = ModelServer::start(agent()).unwrap();
    let tools = json!([{ "type": "function", "name": "exec_command" }]);
    let body = json!({ "model": "gpt-x", "stream": true, "tools": tools,
        "input": [{ "type": "message", "role": "user", "content": [{ "type": "input_text", "text": "go" }] }] });
    let (status, ctype, text) = post(&server, "/v1/responses", body.clone());
    assert_eq!((status, ctype.as_str()), (200, "text/event-stream"));
    let ev = events(&text);
    let names: Vec<_> = ev.iter().map(|(n, _)| n.clone().unwrap()).collect();
    assert_eq!(
        names,
        [
            "response.created",
            "response.output_item.added",
            "response.output_item.done",
            "response.completed"
        ]
    );
    for (name, data) in &ev {
        assert_eq!(json_of(data)["type"], name.clone().unwrap());
    }
    let item = &json_of(&ev[2].1)["item"];
    assert_eq!(item["type"], "function_call");
    assert_eq!(item["name"], "exec_command");
    assert_eq!(
        json_of(item["arguments"].as_str().unwrap()),
        json!({ "cmd": "touch proof.txt" })
    );
    let done = json_of(&ev[3].1);
    assert_eq!(done["response"]["usage"]["input_tokens"], 100);
    assert_eq!(done["response"]["usage"]["output_tokens"], 20);

    let mut next = body.clone();
    next["input"].as_array_mut().unwrap().extend([
        json!({ "type": "function_call", "call_id": "c1", "name": "exec_command", "arguments": "{}" }),
        json!({ "type": "function_call_output", "call_id": "c1", "output": "done" }),
        json!({ "type": "function_call", "call_id": "c2", "name": "exec_command", "arguments": "{}" }),
        json!({ "type": "function_call_output", "call_id": "c2", "output": "proof.txt" }),
    ]);
    let (_, _, text) = post(&server, "/v1/responses", next);
    let item = &json_of(&events(&text)[2].1)["item"];
    assert_eq!(item["type"], "message");
    assert_eq!(item["content"][0]["type"], "output_text");
    assert_eq!(item["content"][0]["text"], "All done.");

    let mut title = body;
    title["text"] = json!({ "format": { "type": "json_schema", "name": "t",
        "schema": { "type": "object", "properties": { "title": { "type": "string" } } } } });
    let (_, _, text) = post(&server, "/v1/responses", title);
    let item = &json_of(&events(&text)[2].1)["item"];
    let answer = json_of(item["content"][0]["text"].as_str().unwrap());
    assert_eq!(answer["title"], "Scripted task");
}

#[test]
fn chat_streams_tool_calls_usage_and_done_and_answers_commit_requests_unstreamed() {
    let script = Script::new()
        .when(
            when::last_tool_result_contains("proof"),
            Reply::text("finished").with_usage(7, 3, 2),
        )
        .when(when::offers_tools(), Reply::shell("touch proof.txt"));
    let server = ModelServer::start(script).unwrap();
    let body = json!({ "model": "m", "stream": true, "stream_options": { "include_usage": true },
        "tools": [{ "type": "function", "function": { "name": "bash" } }],
        "messages": [{ "role": "user", "content": "go" }] });
    let (_, ctype, text) = post(&server, "/v1/chat/completions", body.clone());
    assert_eq!(ctype, "text/event-stream");
    let ev = events(&text);
    assert_eq!(ev.len(), 4);
    assert!(ev.iter().all(|(n, _)| n.is_none()));
    let first = json_of(&ev[0].1);
    assert_eq!(first["object"], "chat.completion.chunk");
    let call = &first["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(call["index"], 0);
    assert_eq!(call["function"]["name"], "bash");
    assert_eq!(
        json_of(call["function"]["arguments"].as_str().unwrap())["command"],
        "touch proof.txt"
    );
    assert_eq!(
        json_of(&ev[1].1)["choices"][0]["finish_reason"],
        "tool_calls"
    );
    let usage = json_of(&ev[2].1);
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["prompt_tokens"], 100);
    assert_eq!(usage["usage"]["completion_tokens"], 20);
    assert_eq!(ev[3].1, "[DONE]");

    let mut next = body;
    next["messages"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "role": "tool", "tool_call_id": "c", "content": "proof.txt" }));
    let (_, _, text) = post(&server, "/v1/chat/completions", next);
    let ev = events(&text);
    assert_eq!(
        json_of(&ev[0].1)["choices"][0]["delta"]["content"],
        "finished"
    );
    assert_eq!(json_of(&ev[1].1)["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        json_of(&ev[2].1)["usage"]["prompt_tokens_details"]["cached_tokens"],
        2
    );

    let (status, ctype, text) = post(
        &server,
        "/v1/chat/completions",
        json!({ "model": "m", "stream": false,
        "messages": [{ "role": "user", "content": "Write a one-line commit message for this diff" }] }),
    );
    assert_eq!((status, ctype.as_str()), (200, "application/json"));
    let done = json_of(&text);
    assert_eq!(done["object"], "chat.completion");
    assert_eq!(
        done["choices"][0]["message"]["content"],
        "Apply the scripted change"
    );
    assert_eq!(done["choices"][0]["finish_reason"], "stop");
}

#[test]
fn gemini_streams_a_function_call_and_answers_routing_and_summaries() {
    let server = ModelServer::start(agent()).unwrap();
    let body = json!({ "contents": [{ "role": "user", "parts": [{ "text": "go" }] }],
        "tools": [{ "functionDeclarations": [{ "name": "run_shell_command" }] }] });
    let (_, ctype, text) = post(
        &server,
        "/v1beta/models/gemini-x:streamGenerateContent?alt=sse",
        body.clone(),
    );
    assert_eq!(ctype, "text/event-stream");
    let ev = events(&text);
    assert_eq!(ev.len(), 1);
    let data = json_of(&ev[0].1);
    assert_eq!(
        data["candidates"][0]["content"]["parts"][0]["functionCall"],
        json!({ "name": "run_shell_command", "args": { "command": "touch proof.txt" } })
    );
    assert_eq!(data["usageMetadata"]["promptTokenCount"], 100);
    assert_eq!(data["modelVersion"], "gemini-x");

    let mut next = body.clone();
    next["contents"].as_array_mut().unwrap().extend([
        json!({ "role": "model", "parts": [{ "functionCall": { "name": "run_shell_command" } }] }),
        json!({ "role": "user", "parts": [{ "functionResponse": { "name": "run_shell_command",
            "response": { "output": "ok" } } }] }),
    ]);
    let (_, _, text) = post(
        &server,
        "/v1beta/models/gemini-x:streamGenerateContent?alt=sse",
        next.clone(),
    );
    let parts = &json_of(&events(&text)[0].1)["candidates"][0]["content"]["parts"];
    assert_eq!(parts[0]["functionCall"]["args"]["command"], "ls");

    let routing = json!({ "contents": [{ "role": "user", "parts": [{ "text": "Reply with JSON: complexity_score" }] }] });
    let (_, ctype, text) = post(&server, "/v1beta/models/flash:generateContent", routing);
    assert_eq!(ctype, "application/json");
    let answer = json_of(&text);
    let score = json_of(
        answer["candidates"][0]["content"]["parts"][0]["text"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(score["complexity_score"], 10);

    let summary = json!({ "contents": [{ "role": "user", "parts": [{ "text": "summarize" }] }] });
    let (_, _, text) = post(&server, "/v1beta/models/flash:generateContent", summary);
    assert_eq!(
        json_of(&text)["candidates"][0]["content"]["parts"][0]["text"],
        "Scripted summary."
    );
    assert_eq!(server.requests_for(Api::Gemini).len(), 4);
}

#[test]
fn errors_come_in_each_apis_own_shape() {
    let server = ModelServer::start(Script::new().when(when::always(), Reply::error(401))).unwrap();
    let tools = json!([{ "name": "t" }]);
    let (status, _, text) = post(
        &server,
        "/v1/messages",
        json!({ "stream": true, "tools": tools, "messages": [] }),
    );
    assert_eq!(status, 401);
    assert_eq!(
        json_of(&text),
        json!({ "type": "error",
        "error": { "type": "authentication_error", "message": "scripted error 401" } })
    );
    let (status, _, text) = post(
        &server,
        "/v1/responses",
        json!({ "stream": true, "tools": tools, "input": [] }),
    );
    assert_eq!(status, 401);
    assert_eq!(json_of(&text)["error"]["code"], "invalid_api_key");
    let (status, _, text) = post(
        &server,
        "/v1beta/models/g:streamGenerateContent",
        json!({ "contents": [] }),
    );
    assert_eq!(status, 401);
    assert_eq!(
        json_of(&text)["error"],
        json!({ "code": 401, "message": "scripted error 401", "status": "UNAUTHENTICATED" })
    );

    for (code, kind) in [
        (429, "rate_limit_error"),
        (500, "api_error"),
        (529, "overloaded_error"),
    ] {
        let server = ModelServer::start(Script::new().otherwise(Reply::error(code))).unwrap();
        let (status, _, text) = post(
            &server,
            "/v1/messages",
            json!({ "tools": tools, "messages": [] }),
        );
        assert_eq!(status, code);
        assert_eq!(json_of(&text)["error"]["type"], kind);
        let (status, _, text) = post(
            &server,
            "/v1/chat/completions",
            json!({ "tools": tools, "messages": [] }),
        );
        assert_eq!(status, code);
        assert!(json_of(&text)["error"]["message"].is_string());
    }
}

#[test]
fn requests_are_recorded_with_headers_and_listings_and_unknown_paths_answer() {
    let server = ModelServer::start(Script::new()).unwrap();
    let url = format!("{}/v1/models", server.base_url());
    let list: Value = json_of(
        &ureq::get(&url)
            .set("x-api-key", "k")
            .call()
            .unwrap()
            .into_string()
            .unwrap(),
    );
    assert_eq!(list["data"][0]["id"], "scripted-model");
    let (status, _, _) = post(&server, "/nowhere", json!({}));
    assert_eq!(status, 404);
    let seen = server.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        (seen[0].method.as_str(), seen[0].header("X-Api-Key")),
        ("GET", Some("k"))
    );
    assert_eq!(seen[1].api, None);
    assert!(server.base_url().starts_with("http://127.0.0.1:"));
}

#[test]
fn the_server_stops_when_dropped() {
    let server = ModelServer::start(Script::new()).unwrap();
    let port = server.port();
    drop(server);
    // tiny_http's accept thread closes the listener just after the drop wakes it: allow it a moment.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "port {port} still accepts after the drop"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
