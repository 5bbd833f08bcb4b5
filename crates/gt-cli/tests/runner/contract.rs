//! The output contract of the commands: each command's human text (insta
//! snapshots, with ids, times, paths and hashes replaced by placeholders)
//! and the shape of its `--json` (every key with the type of its value, so a
//! renamed, dropped or retyped field shows up as a snapshot diff; docs/json.md
//! documents the same shapes). One town per capability, driven through the
//! real `gt` binary; the loop runs the stand-in agent on real tmux and git.

use serde_json::{Map, Value};

use crate::common::{regex_escape, TestTown};

/// The shape of a JSON value: scalars become their type name, objects keep
/// their keys, and an array becomes one element: the merge of its elements'
/// shapes (`[]` when empty). Where shapes differ, types are joined with `|`.
fn shape(v: &Value) -> Value {
    match v {
        Value::Null => "null".into(),
        Value::Bool(_) => "bool".into(),
        Value::Number(_) => "number".into(),
        Value::String(_) => "string".into(),
        Value::Array(items) => {
            let merged = items.iter().map(shape).reduce(|a, b| merge(&a, &b));
            Value::Array(merged.into_iter().collect())
        }
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
    }
}

/// Two shapes as one (for the elements of an array, and keys some objects
/// lack). Commutative and associative, so the order of elements (ids are
/// random) never changes a snapshot: scalar types join as `a|b` in sorted
/// order, objects merge key by key, arrays merge their elements, and where a
/// key holds different kinds (a type name, an object, an array) the result is
/// `{"one_of": [...]}` with one merged alternative per kind.
fn merge(a: &Value, b: &Value) -> Value {
    let mut scalars: Vec<String> = Vec::new();
    let mut object: Option<Map<String, Value>> = None;
    let mut array: Option<Vec<Value>> = None;
    let mut alternatives = vec![a.clone(), b.clone()];
    while let Some(v) = alternatives.pop() {
        match v {
            Value::String(t) => scalars.extend(t.split('|').map(str::to_string)),
            Value::Object(m) if m.contains_key("one_of") && m.len() == 1 => {
                if let Some(Value::Array(alts)) = m.get("one_of") {
                    alternatives.extend(alts.iter().cloned());
                }
            }
            Value::Object(m) => {
                object = Some(match object.take() {
                    None => m,
                    Some(o) => {
                        let keys: std::collections::BTreeSet<String> =
                            o.keys().chain(m.keys()).cloned().collect();
                        keys.into_iter()
                            .map(|k| {
                                let absent = Value::from("absent");
                                let v = merge(
                                    o.get(&k).unwrap_or(&absent),
                                    m.get(&k).unwrap_or(&absent),
                                );
                                (k, v)
                            })
                            .collect()
                    }
                })
            }
            Value::Array(items) => {
                let mut all = array.take().unwrap_or_default();
                all.extend(items);
                let merged = all.into_iter().reduce(|x, y| merge(&x, &y));
                array = Some(merged.into_iter().collect());
            }
            other => scalars.push(other.to_string()),
        }
    }
    scalars.sort_unstable();
    scalars.dedup();
    let mut kinds: Vec<Value> = Vec::new();
    if !scalars.is_empty() {
        kinds.push(scalars.join("|").into());
    }
    if let Some(o) = object {
        kinds.push(Value::Object(o));
    }
    if let Some(a) = array {
        kinds.push(Value::Array(a));
    }
    if kinds.len() == 1 {
        return kinds.remove(0);
    }
    let mut o = Map::new();
    o.insert("one_of".into(), Value::Array(kinds));
    Value::Object(o)
}

fn pretty_shape(json: &str) -> String {
    // One document, or JSON Lines (`--watch`, `sling`): every value in turn.
    let values: Vec<Value> = serde_json::Deserializer::from_str(json)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("not JSON ({e}): {json}"));
    let merged = values
        .iter()
        .map(shape)
        .reduce(|a, b| merge(&a, &b))
        .unwrap_or(Value::Null);
    serde_json::to_string_pretty(&merged).unwrap()
}

/// Filters that make human output repeatable: bead ids, times, durations,
/// commit hashes, pids, the town's path and socket names.
fn settings(t: &TestTown) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(&regex_escape(&t.root.display().to_string()), "[TOWN]");
    s.add_filter(
        &regex_escape(&t.root.parent().unwrap().display().to_string()),
        "[TMP]",
    );
    s.add_filter(r"\b(hq|app)-[0-9a-z]{3,8}(\.\d+)*\b", "[ID]");
    s.add_filter(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d)?(\.\d+)?Z?", "[TIME]");
    s.add_filter(r"\b\d+(\.\d+)?(ms|s|m|h|d)\b( ago)?", "[DURATION]");
    s.add_filter(r"\b[0-9a-f]{7,40}\b", "[HASH]");
    s.add_filter(r"\bpid \d+", "pid [PID]");
    s.add_filter(r"\bgt-[0-9a-f]{8,}\b", "[SOCKET]");
    s.set_prepend_module_to_snapshot(false);
    s.set_snapshot_path("snapshots/contract");
    s
}

/// Snapshots `gt ARGS` (human) as `NAME` and the shape of `gt --json ARGS`
/// as `NAME.json`: for commands that change nothing.
fn both(t: &TestTown, name: &str, args: &[&str]) {
    human(t, name, args);
    json(t, name, args);
}

/// Snapshots `gt ARGS` (human) as `NAME`.
fn human(t: &TestTown, name: &str, args: &[&str]) {
    insta::assert_snapshot!(name, t.ok(args));
}

/// Snapshots the shape of `gt --json ARGS` as `NAME.json`.
fn json(t: &TestTown, name: &str, args: &[&str]) {
    let mut full = vec!["--json"];
    full.extend_from_slice(args);
    insta::assert_snapshot!(format!("{name}.json"), pretty_shape(&t.ok(&full)));
}

#[test]
fn the_ledger_commands() {
    let t = TestTown::new();
    settings(&t).bind(|| {
        json(
            &t,
            "bead_create",
            &["bead", "create", "Ship the parser", "-t", "epic"],
        );
        let epic = t.json(&["bead", "list"])[0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        human(
            &t,
            "bead_create",
            &[
                "bead", "create", "Lexer", "--parent", &epic, "-p", "0", "-l", "core",
            ],
        );
        let lex = t.create("Lexer v2", &["-p", "1"]);
        let tok = t.create("Token table", &["-p", "3", "-t", "chore"]);
        let spare = t.create("Spare", &["-p", "4"]);
        human(&t, "bead_dep_add", &["bead", "dep", "add", &lex, &tok]);
        json(&t, "bead_dep_add", &["bead", "dep", "add", &spare, &tok]);
        human(
            &t,
            "bead_comment",
            &["bead", "comment", &lex, "start with identifiers"],
        );
        json(
            &t,
            "bead_comment",
            &["bead", "comment", &tok, "a second one"],
        );
        human(&t, "bead_label", &["bead", "label", "add", &tok, "parser"]);
        json(&t, "bead_label", &["bead", "label", "add", &lex, "parser"]);
        human(
            &t,
            "bead_update",
            &["bead", "update", &tok, "--priority", "2"],
        );
        json(
            &t,
            "bead_update",
            &["bead", "update", &tok, "--priority", "1"],
        );
        both(&t, "bead_show", &["bead", "show", &lex]);
        both(&t, "bead_list", &["bead", "list"]);
        both(&t, "bead_ready", &["bead", "ready"]);
        both(&t, "bead_blocked", &["bead", "blocked"]);
        both(&t, "bead_dep_tree", &["bead", "dep", "tree", &lex]);
        human(
            &t,
            "bead_close",
            &["bead", "close", &tok, "--reason", "done by hand"],
        );
        json(&t, "bead_close", &["bead", "close", &spare]);
        human(&t, "bead_reopen", &["bead", "reopen", &tok]);
        json(&t, "bead_reopen", &["bead", "reopen", &spare]);
        json(&t, "bead_export", &["bead", "export"]);
        let file = t.root.join("export.jsonl");
        json(
            &t,
            "bead_export_file",
            &["bead", "export", "--output", file.to_str().unwrap()],
        );
        json(
            &t,
            "bead_dep_remove",
            &["bead", "dep", "remove", &spare, &tok],
        );
        both(&t, "trail", &["trail"]);
        both(&t, "status", &["status"]);
        both(&t, "config_get", &["config", "get", "deacon.interval"]);
        human(
            &t,
            "config_set",
            &["config", "set", "deacon.interval", "45s"],
        );
        json(
            &t,
            "config_set",
            &["config", "set", "deacon.interval", "40s"],
        );
        json(&t, "config_list", &["config", "list"]);
        both(&t, "version", &["version"]);
        json(&t, "doctor", &["doctor"]);
        // A failure with --json: the error object on stdout.
        let out = t.run(&["--json", "bead", "show", "hq-zzzzz"]);
        assert!(!out.status.success(), "{out:?}");
        insta::assert_snapshot!(
            "error.json",
            pretty_shape(&String::from_utf8(out.stdout).unwrap())
        );
    });
}

#[test]
fn the_loop_and_merge_queue_commands() {
    let t = TestTown::new();
    t.with_rig("app");
    settings(&t).bind(|| {
        both(&t, "rig_list", &["rig", "list"]);
        both(&t, "rig_show", &["rig", "show", "app"]);
        human(&t, "polecat_add", &["polecat", "add", "app/nux"]);
        json(&t, "polecat_add", &["polecat", "add", "app/rictus"]);
        both(&t, "polecat_list", &["polecat", "list"]);
        json(&t, "polecat_show", &["polecat", "show", "app/nux"]);
        human(&t, "polecat_remove", &["polecat", "remove", "app/nux"]);
        json(&t, "polecat_remove", &["polecat", "remove", "app/rictus"]);
        // A polecat that holds its bead: hook, prime and agent-state as it.
        let held = t.sling("app", "hold this", "standin-hang");
        let agent = held["agent"].as_str().unwrap().to_string();
        let bead = held["bead"].as_str().unwrap().to_string();
        t.wait_for(20, "the agent to run", |t| {
            t.bead_status(&bead) == "in_progress"
        });
        let as_agent = [("GT_AGENT", agent.as_str())];
        insta::assert_snapshot!("hook", t.ok_env(&as_agent, &["hook"]));
        insta::assert_snapshot!(
            "hook.json",
            pretty_shape(&t.ok_env(&as_agent, &["--json", "hook"]))
        );
        insta::assert_snapshot!(
            "prime.json",
            pretty_shape(&t.ok_env(&as_agent, &["--json", "prime"]))
        );
        json(&t, "agent_state", &["agent-state", &agent]);
        json(&t, "peek", &["peek", &agent]);
        // One that finishes: its merge request lands.
        let done = t.sling("app", "add a feature", "standin");
        let bead = done["bead"].as_str().unwrap().to_string();
        t.wait_for(30, "gt done", |t| t.bead_status(&bead) == "merging");
        json(&t, "agents", &["agents"]);
        both(&t, "mq_list", &["mq", "list"]);
        json(&t, "mq_show", &["mq", "show", "1"]);
        json(
            &t,
            "refinery_run",
            &["refinery", "run", "--once", "--rig", "app"],
        );
        json(&t, "polecats_at_work", &["polecat", "list"]);
        human(&t, "convoy_create", &["convoy", "create", "wave", &bead]);
        json(&t, "convoy_create", &["convoy", "create", "wave2", &bead]);
        both(&t, "convoy_list", &["convoy", "list"]);
        both(&t, "convoy_show", &["convoy", "show", "wave"]);
        json(&t, "deacon_status", &["deacon", "status"]);
        json(&t, "patrol", &["deacon", "patrol", "--once"]);
        json(&t, "status_with_rig", &["status"]);
        json(&t, "down_all", &["down", "--all"]);
    });
}

#[test]
fn the_comms_commands() {
    let t = TestTown::new();
    settings(&t).bind(|| {
        human(
            &t,
            "mail_send",
            &["mail", "send", "mayor", "-s", "Hello", "-m", "first"],
        );
        json(
            &t,
            "mail_send",
            &["mail", "send", "mayor", "-s", "Again", "-m", "second"],
        );
        human(&t, "mail_inbox", &["mail", "inbox", "--as", "mayor"]);
        json(&t, "mail_inbox", &["mail", "inbox", "--as", "mayor"]);
        human(&t, "mail_read", &["mail", "read", "1", "--as", "mayor"]);
        json(&t, "mail_read", &["mail", "read", "2", "--as", "mayor"]);
        human(
            &t,
            "mail_reply",
            &["mail", "reply", "1", "-m", "hi", "--as", "mayor"],
        );
        json(
            &t,
            "mail_reply",
            &["mail", "reply", "2", "-m", "hi", "--as", "mayor"],
        );
        both(&t, "mail_thread", &["mail", "thread", "3"]);
        both(&t, "mail_search", &["mail", "search", "hi"]);
        human(&t, "mail_archive", &["mail", "archive", "3"]);
        json(&t, "mail_archive", &["mail", "archive", "4"]);
        human(
            &t,
            "escalate",
            &["escalate", "stuck on the build", "-s", "high"],
        );
        json(
            &t,
            "escalate",
            &["escalate", "stuck on the tests", "-s", "medium"],
        );
        both(&t, "escalate_list", &["escalate", "list"]);
        json(&t, "broadcast", &["broadcast", "all hands"]);
    });
}

/// `gt agent-report --hook EVENT` with `payload` on stdin, as Claude Code's
/// hooks run it inside a session (`env`): always exit 0, nothing on stdout;
/// returns stderr.
fn hook_report(t: &TestTown, env: &[(&str, &str)], event: &str, payload: &str) -> String {
    let mut c = t.cmd();
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c
        .args(["agent-report", "--hook", event])
        .write_stdin(payload.as_bytes().to_vec())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A Claude Code transcript line with usage, as 2.1.332 writes it.
fn transcript_line(req: &str, input: u64, output: u64) -> String {
    serde_json::json!({
        "type": "assistant", "requestRef": req, "sessionId": "5e55-0000",
        "message": { "id": format!("msg_{req}"), "model": "claude-test", "role": "assistant",
            "usage": { "input_tokens": input, "output_tokens": output,
                "cache_read_input_tokens": 3, "cache_creation_input_tokens": 4 } }
    })
    .to_string()
}

#[test]
fn the_costs_commands() {
    let t = TestTown::new();
    t.with_rig("app");
    let mut s = settings(&t);
    // `--by day` keys.
    s.add_filter(r"\b\d{4}-\d\d-\d\d\b", "[DAY]");
    s.bind(|| {
        both(&t, "costs_none", &["costs"]);
        let held = t.sling("app", "spend tokens", "standin-hang");
        let agent = held["agent"].as_str().unwrap().to_string();
        let bead = held["bead"].as_str().unwrap().to_string();
        t.wait_for(20, "the agent to run", |t| {
            t.bead_status(&bead) == "in_progress"
        });
        let agents = t.json(&["agents"]);
        let session = agents
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["agent"] == agent.as_str())
            .and_then(|a| a["session_id"].as_i64())
            .expect("the session id")
            .to_string();
        let env = [
            ("GT_AGENT", agent.as_str()),
            ("GT_SESSION", session.as_str()),
        ];
        let projects = t.home.join(".claude/projects/-work");
        std::fs::create_dir_all(&projects).unwrap();
        let transcript = projects.join("5e55-0000.jsonl");
        // One response on two lines (counted once), then another one.
        std::fs::write(
            &transcript,
            [
                transcript_line("r1", 1000, 200),
                transcript_line("r1", 1000, 200),
                transcript_line("r2", 500, 50),
                "{\"type\":\"assistant\"".to_string(),
            ]
            .join("\n"),
        )
        .unwrap();
        let payload = |path: &std::path::Path| {
            serde_json::json!({ "session_id": "5e55-0000", "hook_event_name": "Stop",
                "transcript_path": path, "cwd": "/" })
            .to_string()
        };

        // Hostile hook input: recorded nothing, exit 0 every time.
        let before = t.fingerprint();
        let outside = t.dir.path().join("elsewhere.jsonl");
        std::fs::copy(&transcript, &outside).unwrap();
        let link = projects.join("link.jsonl");
        std::os::unix::fs::symlink(&outside, &link).unwrap();
        for (env, event, text) in [
            (&env[..], "stop", payload(&outside)),
            (&env[..], "stop", payload(&link)),
            (&env[..], "stop", payload(&projects)),
            (&env[..], "stop", "not json".to_string()),
            (&env[..], "bogus", payload(&transcript)),
            (&env[..1], "stop", payload(&transcript)),
            (&[("GT_SESSION", "99999")][..], "stop", payload(&transcript)),
            (
                &env[..],
                "session-start",
                r#"{"session_id": "--continue; rm -rf /"}"#.to_string(),
            ),
        ] {
            let err = hook_report(&t, env, event, &text);
            assert_eq!(err.lines().count(), 1, "{event} {text}: {err}");
        }
        assert_eq!(
            t.fingerprint(),
            before,
            "a refused hook report wrote something"
        );
        assert_eq!(t.json(&["costs"])["totals"]["sessions"], 0);

        // The real thing: SessionStart records the id, Stop the usage.
        assert_eq!(
            hook_report(
                &t,
                &env,
                "session-start",
                r#"{"session_id": "5e55-0000", "hook_event_name": "SessionStart"}"#
            ),
            ""
        );
        assert_eq!(hook_report(&t, &env, "stop", &payload(&transcript)), "");
        let v = t.json(&["costs"]);
        assert_eq!(v["totals"]["input_tokens"], 1500, "{v}");
        assert_eq!(v["totals"]["output_tokens"], 250);
        assert_eq!(v["totals"]["cache_read_tokens"], 6);
        assert_eq!(v["totals"]["cache_write_tokens"], 8);
        assert!(v["totals"]["cost_micros"].is_null());
        // A later running total with a cost replaces it.
        let mut text = std::fs::read_to_string(&transcript).unwrap();
        text.push_str(
            "\n{\"type\":\"cost-state\",\"totalCostUSD\":0.0123,\"hasUnknownModelCost\":false}\n",
        );
        std::fs::write(&transcript, text).unwrap();
        assert_eq!(
            hook_report(&t, &env, "session-end", &payload(&transcript)),
            ""
        );
        assert_eq!(t.json(&["costs"])["totals"]["cost_micros"], 12300);
        let kinds = t.json(&["trail", "--kind", "session.usage"]);
        assert_eq!(kinds.as_array().unwrap().len(), 2);

        both(&t, "costs", &["costs"]);
        both(
            &t,
            "costs_by_day",
            &["costs", "--by", "day", "--since", "2d"],
        );
        json(&t, "costs_by_rig", &["costs", "--by", "rig"]);
        human(
            &t,
            "costs_by_bead",
            &["costs", "--by", "bead", "--since", "2020-01-01"],
        );
        let future = t.json(&["costs", "--since", "2999-01-01"]);
        assert_eq!(future["totals"]["sessions"], 0);
        assert!(t
            .ok(&["status"])
            .contains("Costs: 1 session(s): 1500 in, 250 out"));
        json(&t, "status_with_costs", &["status"]);

        // The status line's payload carries Claude's cost of the session.
        let status_line = serde_json::json!({ "session_id": "5e55-0000",
            "transcript_path": transcript, "cost": { "total_cost_usd": 0.05 } })
        .to_string();
        assert_eq!(hook_report(&t, &env, "status-line", &status_line), "");
        let v = t.json(&["costs"]);
        assert_eq!(v["totals"]["cost_micros"], 50_000, "{v}");
        assert_eq!(v["totals"]["input_tokens"], 1500, "{v}");

        // Hostile arguments: a one-line error, exit 2, nothing written.
        let before = t.fingerprint();
        for args in [
            &["costs", "--since", "garbage"][..],
            &["costs", "--by", "nope"],
            &["costs", "--by", "agent\u{1b}[31m"],
        ] {
            let err = t.fails(args, 2);
            let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
            assert_eq!(errors.len(), 1, "{err}");
            assert!(!err.contains('\u{1b}'), "{err}");
        }
        assert_eq!(t.fingerprint(), before);
    });
    t.ok(&["down", "--all"]);
}

/// At `gt done` gt reads the usage files of runtimes without hooks: a
/// stand-in `codex` / `gemini` on PATH (the real CLIs are never started
/// here) writes the rollout / chat file recorded from the real CLI, with
/// its worktree as the directory (and, for gemini, the chat's start time
/// now), then commits and runs `gt done`. Another worktree's file does not
/// count.
/// Gemini CLI's `BeforeModel` hook (`--hook model-request`): the same
/// conversation twice is a retried API call → `error` (source `hook`), a
/// new one after it → no longer `error`; a payload that is not JSON, has no
/// conversation, or names another agent's session changes nothing.
#[test]
fn model_request_hook_reports_retries_and_recovery() {
    let t = TestTown::new();
    t.with_rig("app");
    let held = t.sling("app", "ask the model", "standin-hang");
    let agent = held["agent"].as_str().unwrap().to_string();
    let bead = held["bead"].as_str().unwrap().to_string();
    t.wait_for(20, "the agent to run", |t| {
        t.bead_status(&bead) == "in_progress"
    });
    let state = |t: &TestTown| {
        let a = t.agent_row(&agent);
        (
            a["state"].as_str().unwrap().to_string(),
            a["state_source"].as_str().unwrap_or("").to_string(),
            a["session_id"].as_i64().unwrap().to_string(),
        )
    };
    let session = state(&t).2;
    let env = [
        ("GT_AGENT", agent.as_str()),
        ("GT_SESSION", session.as_str()),
    ];
    let request = |text: &str, at: &str| {
        serde_json::json!({
            "session_id": "g-1", "hook_event_name": "BeforeModel", "timestamp": at,
            "llm_request": { "model": "gemini-test",
                "messages": [{ "role": "user", "content": text }] }
        })
        .to_string()
    };
    let first = request("add a file", "2026-12-03T08:00:00Z");
    assert_eq!(hook_report(&t, &env, "model-request", &first), "");
    assert_ne!(state(&t).0, "error");
    // Hostile or broken payloads: one line on stderr, nothing changes.
    for bad in ["not json", "{}", r#"{"llm_request": {"messages": 5}}"#] {
        let err = hook_report(&t, &env, "model-request", bad);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert_ne!(state(&t).0, "error");
    }
    // The same conversation again, seconds later: a retry.
    let again = request("add a file", "2026-12-03T08:00:05Z");
    assert_eq!(hook_report(&t, &env, "model-request", &again), "");
    assert_eq!(state(&t), ("error".into(), "hook".into(), session.clone()));
    let st = t.json(&["agent-state", &agent]);
    assert_eq!(st["state"], "error", "{st}");
    // Another agent's session cannot report for it.
    let other = [("GT_AGENT", "app/other"), ("GT_SESSION", session.as_str())];
    let err = hook_report(&t, &other, "model-request", &request("x", "t"));
    assert!(err.contains("belongs to"), "{err}");
    // The API answered: the next request carries more conversation.
    let next = serde_json::json!({
        "timestamp": "2026-12-03T08:00:09Z",
        "llm_request": { "messages": [
            { "role": "user", "content": "add a file" },
            { "role": "model", "content": "done" },
            { "role": "user", "content": "and commit" } ] }
    })
    .to_string();
    assert_eq!(hook_report(&t, &env, "model-request", &next), "");
    assert_ne!(state(&t).0, "error");
    let st = t.json(&["agent-state", &agent]);
    assert_ne!(st["state"], "error", "{st}");
    t.ok(&["down", "--all"]);
}

#[test]
fn costs_are_read_from_codex_and_gemini_files_at_gt_done() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../gt-agents/testdata/usage")
        .canonicalize()
        .unwrap();
    let work = "echo done > done.txt && git add done.txt && git commit -q -m done && \"$GT_BIN\" done\nsleep 30\n";
    for (cli, place, want_input) in [
        (
            "codex",
            format!(
                "d=\"$HOME/.codex/sessions/2026/12/02\"; mkdir -p \"$d\"\n\
                 sed \"s#/tmp/usage-rec/codex/work#$PWD#g\" '{}' > \"$d/rollout-2026-12-02T01-06-04-x.jsonl\"\n\
                 mkdir -p \"$d/../../../../elsewhere\"\n\
                 sed \"s#/tmp/usage-rec/codex/work#/somewhere/else#g\" '{}' > \"$d/rollout-other.jsonl\"\n",
                fixtures.join("codex-0.171.0-rollout.jsonl").display(),
                fixtures.join("codex-0.171.0-rollout.jsonl").display()
            ),
            1555 - 39,
        ),
        (
            "gemini",
            format!(
                "d=\"$HOME/.gemini/tmp/wt\"; mkdir -p \"$d/chats\"; printf '%s' \"$PWD\" > \"$d/.project_root\"\n\
                 now=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)\n\
                 sed \"s#2026-12-02T01:06:08.408Z#$now#\" '{}' > \"$d/chats/session-1.jsonl\"\n\
                 o=\"$HOME/.gemini/tmp/other\"; mkdir -p \"$o/chats\"; printf '/somewhere/else' > \"$o/.project_root\"\n\
                 cp '{}' \"$o/chats/session-2.jsonl\"\n",
                fixtures.join("gemini-0.61.0-chat.jsonl").display(),
                fixtures.join("gemini-0.61.0-chat.jsonl").display()
            ),
            (1111 - 33) + (444 - 6),
        ),
    ] {
        let t = TestTown::new();
        t.with_rig("app");
        std::fs::write(
            t.home.join(".gitconfig"),
            "[user]\n\tname = Agent User\n\temail = agent@example.com\n",
        )
        .unwrap();
        let path = t.fake_program(cli, &format!("{place}{work}"));
        let out = t.ok_env(
            &[("PATH", &path)],
            &["--json", "sling", "spend tokens", "app", "--agent", cli],
        );
        let bead = crate::common::lines_json(&out).remove(0)["bead"]
            .as_str()
            .unwrap()
            .to_string();
        t.wait_for(30, &format!("{cli}: gt done"), |t| {
            t.bead_status(&bead) == "merging"
        });
        let v = t.json(&["costs", "--by", "bead"]);
        assert_eq!(v["rows"][0]["key"], bead.as_str(), "{cli}: {v}");
        // Only the file of this worktree counts.
        assert_eq!(v["totals"]["sessions"], 1, "{cli}: {v}");
        assert_eq!(v["totals"]["input_tokens"], want_input, "{cli}: {v}");
        assert_eq!(v["totals"]["output_tokens"], 277, "{cli}: {v}");
        assert_eq!(v["totals"]["cache_read_tokens"], 39, "{cli}: {v}");
        assert!(v["totals"]["cost_micros"].is_null(), "{cli}: {v}");
        let ev = t.json(&["trail", "--kind", "session.usage"]);
        let source = ev[0]["payload"]["source"].as_str().unwrap().to_string();
        assert!(source.starts_with(cli), "{source}");
        t.ok(&["down", "--all"]);
    }
}
