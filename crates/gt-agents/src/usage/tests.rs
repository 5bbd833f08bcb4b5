use super::*;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/usage")
            .join(name),
    )
    .unwrap()
}

#[test]
fn usage_claude_transcript_exact_totals() {
    let u = claude::parse_transcript(&fixture("claude-2.1.332-transcript.jsonl")).unwrap();
    assert_eq!(
        u,
        Usage {
            input_tokens: 1111 + 444,
            output_tokens: 222 + 55,
            cache_read_tokens: 33 + 6,
            cache_write_tokens: 0,
            // cost-state totalCostUSD 0.0117678, after the last response.
            cost_micros: Some(11768),
            model: Some("claude-opus-5-5".into()),
        }
    );
    assert_eq!(
        claude::transcript_session_id(&fixture("claude-2.1.332-transcript.jsonl")).as_deref(),
        Some("72fbced7-9989-4caa-a4e0-45f2413fb02d")
    );
}

#[test]
fn usage_claude_counts_a_response_once_and_drops_a_stale_cost() {
    // One response written as two lines (two content blocks), then a
    // cost-state, then another response: the cost is stale.
    let line = |req: &str, msg: &str, i: u64| {
        format!(
            r#"{{"type":"assistant","requestRef":"{req}","message":{{"id":"{msg}","model":"m","usage":{{"input_tokens":{i},"output_tokens":2,"cache_read_input_tokens":3,"cache_creation_input_tokens":4}}}}}}"#
        )
    };
    let text = [
        line("r1", "msg_a", 10),
        line("r1", "msg_a", 10),
        r#"{"type":"cost-state","totalCostUSD":0.5,"hasUnknownModelCost":false}"#.to_string(),
        line("r2", "msg_b", 5),
    ]
    .join("\n");
    let u = claude::parse_transcript(&text).unwrap();
    assert_eq!(
        (
            u.input_tokens,
            u.output_tokens,
            u.cache_read_tokens,
            u.cache_write_tokens
        ),
        (15, 4, 6, 8)
    );
    assert_eq!(u.cost_micros, None);
    // Without requestRef the message id is the key.
    let text = text
        .replace(r#""requestRef":"r1","#, "")
        .replace(r#""requestRef":"r2","#, "");
    assert_eq!(claude::parse_transcript(&text).unwrap().input_tokens, 15);
    // A cost-state after the last response is the cost.
    let text = format!("{text}\n{}", r#"{"type":"cost-state","totalCostUSD":0.25}"#);
    assert_eq!(
        claude::parse_transcript(&text).unwrap().cost_micros,
        Some(250_000)
    );
}

#[test]
fn usage_codex_rollout_exact_totals() {
    let text = fixture("codex-0.171.0-rollout.jsonl");
    let r = codex::parse_rollout(&text).unwrap();
    assert_eq!(r.cwd.as_deref(), Some("/tmp/usage-rec/codex/work"));
    assert_eq!(
        r.id.as_deref(),
        Some("01a23449-8aee-7120-ac40-444f2f5fcf1e")
    );
    assert_eq!(
        r.usage,
        Usage {
            // 1555 input including 39 cached.
            input_tokens: 1555 - 39,
            output_tokens: 277,
            cache_read_tokens: 39,
            cache_write_tokens: 0,
            cost_micros: None,
            model: Some("scripted-model".into()),
        }
    );
    assert_eq!(UsageSource::CodexRollout.parse(&text), Some(r.usage));
}

#[test]
fn usage_gemini_chat_exact_totals() {
    let c = gemini::parse_chat(&fixture("gemini-0.61.0-chat.jsonl")).unwrap();
    assert_eq!(
        c.session_id.as_deref(),
        Some("9c5a4a02-74da-45d0-a1a9-94b077e9fb4d")
    );
    assert_eq!(c.start_time.as_deref(), Some("2026-12-02T01:06:08.408Z"));
    // The first model message is written twice (same id): counted once.
    // The routing side request is not in the chat.
    assert_eq!(
        c.usage,
        Usage {
            input_tokens: (1111 - 33) + (444 - 6),
            output_tokens: 222 + 55,
            cache_read_tokens: 33 + 6,
            cache_write_tokens: 0,
            cost_micros: None,
            model: Some("gemini-3.8-flash".into()),
        }
    );
}

#[test]
fn usage_aider_history_exact_totals() {
    let u = aider::parse_history(&fixture("aider-0.86.2-chat.history.md")).unwrap();
    assert_eq!(
        u,
        Usage {
            input_tokens: 601,
            output_tokens: 12,
            ..Default::default()
        }
    );
    let screen = "Tokens: 2.1k sent, 1.0k cache write, 300 cache hit, 12k received.\n\
                  Cost: $0.0042 message, $0.0130 session.\n\
                  Tokens: 50 sent, 5 received. Cost: $0.01 message, $0.02 session.";
    let u = aider::parse_history(screen).unwrap();
    assert_eq!(
        (
            u.input_tokens,
            u.output_tokens,
            u.cache_read_tokens,
            u.cache_write_tokens
        ),
        (2100 - 1000 - 300 + 50, 12_000 + 5, 300, 1000)
    );
    assert_eq!(u.cost_micros, Some(20_000));
}

#[test]
fn usage_opencode_messages_exact_totals() {
    let u = opencode::parse_messages(&fixture("opencode-1.18.33-messages.jsonl")).unwrap();
    assert_eq!(
        u,
        Usage {
            // OpenCode's input excludes the cached part already.
            input_tokens: (1111 - 33) + (444 - 6),
            output_tokens: 222 + 55,
            cache_read_tokens: 33 + 6,
            cache_write_tokens: 0,
            // 0.0065739 + 0.0021408 dollars.
            cost_micros: Some(6574 + 2141),
            model: Some("scripted-model".into()),
        }
    );
    let free = r#"{"role":"assistant","cost":0,"tokens":{"input":1,"output":2,"cache":{"read":0,"write":0}}}"#;
    assert_eq!(opencode::parse_messages(free).unwrap().cost_micros, None);
    // A message still being written (zero tokens) is not usage.
    let pending = r#"{"role":"assistant","cost":0,"tokens":{"input":0,"output":0,"cache":{"read":0,"write":0}}}"#;
    assert_eq!(opencode::parse_messages(pending), None);
}

#[test]
fn usage_garbage_is_none_never_a_panic() {
    let hostile = [
        "",
        "\0\0\0",
        "{",
        "{\"type\":\"assistant\"}",
        "{\"type\":\"assistant\",\"message\":{\"usage\":[1,2]}}",
        "{\"type\":\"assistant\",\"message\":\"x\"}",
        "{\"type\":\"event_msg\",\"payload\":{\"type\":\"token_count\",\"info\":null}}",
        "{\"$set\":{\"messages\":7}}",
        "{\"type\":\"gemini\",\"id\":\"a\",\"tokens\":\"many\"}",
        "Tokens: lots sent, 3 received.",
        "Tokens: 1e400k sent, 3 received.",
        "Tokens: 99999999999999999999999 sent, 1 received.",
        "Cost: $NaN message, $-1 session.",
    ];
    for text in hostile {
        for rt in SOURCES.iter().chain([&UsageSource::None]) {
            assert_eq!(rt.parse(text), None, "{rt:?}: {text:?}");
        }
    }
    // Negative, float and huge counts are not counted.
    let t = r#"{"type":"assistant","message":{"id":"x","usage":{"input_tokens":-5,"output_tokens":1.5,"cache_read_input_tokens":1e300}}}"#;
    let u = claude::parse_transcript(t).unwrap();
    assert_eq!(u.total_tokens(), 0);
    assert!(u.validate().is_ok());
    // Over the size bound: refused.
    let big = "x".repeat(MAX_INPUT_BYTES + 1);
    assert_eq!(claude::parse_transcript(&big), None);
}

/// Every source a preset reads.
const SOURCES: &[UsageSource] = &[
    UsageSource::ClaudeTranscript,
    UsageSource::CodexRollout,
    UsageSource::GeminiChat,
    UsageSource::AiderHistory,
    UsageSource::OpencodeDb,
];

mod prop {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn usage_parsers_never_panic_and_stay_valid(text in "\\PC{0,400}") {
            for rt in super::SOURCES {
                if let Some(u) = rt.parse(&text) {
                    prop_assert!(u.validate().is_ok());
                }
            }
        }

        #[test]
        fn usage_parsers_survive_json_shaped_noise(
            n in proptest::collection::vec(any::<i64>(), 0..6),
            f in any::<f64>(),
        ) {
            let nums: Vec<String> = n.iter().map(|x| x.to_string()).collect();
            let j = nums.join(",");
            let text = format!(
                "{{\"type\":\"assistant\",\"message\":{{\"usage\":{{\"input_tokens\":{}}}}}}}\n\
                 {{\"type\":\"cost-state\",\"totalCostUSD\":{f}}}\n\
                 {{\"type\":\"gemini\",\"id\":\"a\",\"tokens\":{{\"input\":[{j}]}}}}\n\
                 Tokens: {} sent, {} received. Cost: ${f} message, ${f} session.",
                n.first().copied().unwrap_or(0),
                n.get(1).copied().unwrap_or(0),
                n.get(2).copied().unwrap_or(0),
            );
            for rt in super::SOURCES {
                if let Some(u) = rt.parse(&text) {
                    prop_assert!(u.validate().is_ok());
                }
            }
        }
    }
}
