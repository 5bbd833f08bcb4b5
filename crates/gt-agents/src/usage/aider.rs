//! Aider: the lines it prints after each reply, on screen and in the
//! worktree's `.aider.chat.history.md` (as `> Tokens: …`):
//!
//! `Tokens: 601 sent, 12 received.`
//! `Tokens: 2.1k sent, 1.0k cache write, 3.4k cache hit, 250 received. Cost: $0.0042 message, $0.0130 session.`
//!
//! (with both cache figures the `Cost:` part is on the next line). The token
//! counts are aider's own — the API's usage when the reply carried one, else
//! aider's estimate (streamed replies) — rounded to hundreds above 1 000
//! (`2.1k`) and to thousands above 10 000 (`12k`); one line per user
//! message, summed. `sent` includes the cache figures, so `input_tokens` is
//! `sent` minus them. The cost, when aider knows the model's price, is the
//! last `$… session` figure.

use super::{micros, Usage, MAX_INPUT_BYTES};

pub const SOURCE: &str = "aider-history";

/// `601` → 601, `2.1k` → 2100, `12k` → 12000.
fn tokens(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let (num, mul) = match s.strip_suffix('k') {
        Some(n) => (n, 1000.0),
        None => (s, 1.0),
    };
    if !num.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let v: f64 = num.parse().ok()?;
    let v = (v * mul).round();
    (v.is_finite() && (0.0..1e15).contains(&v)).then_some(v as i64)
}

fn dollars(s: &str) -> Option<i64> {
    let s = s.trim().strip_prefix('$')?;
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    micros(s.parse().ok()?)
}

/// `$0.0042 message, $0.0130 session.` → the session figure.
fn session_cost(text: &str) -> Option<i64> {
    text.trim_end_matches('.')
        .split(", ")
        .find_map(|p| p.strip_suffix(" session"))
        .and_then(dollars)
}

/// Totals of aider's `Tokens:` lines; `None` when there is none.
pub fn parse_history(text: &str) -> Option<Usage> {
    if text.len() > MAX_INPUT_BYTES {
        return None;
    }
    let mut u = Usage::default();
    let mut any = false;
    for line in text.lines() {
        let line = line.trim_start_matches(['>', ' ']).trim_end();
        if let Some(cost) = line.strip_prefix("Cost: ") {
            if let Some(c) = session_cost(cost) {
                u.cost_micros = Some(c);
            }
            continue;
        }
        let Some(rest) = line.strip_prefix("Tokens: ") else {
            continue;
        };
        let (counts, cost) = match rest.split_once(" Cost: ") {
            Some((c, d)) => (c, Some(d)),
            None => (rest, None),
        };
        let mut sent = None;
        let mut received = None;
        let (mut hit, mut write) = (0i64, 0i64);
        for part in counts.trim_end_matches('.').split(", ") {
            let Some((n, what)) = part.split_once(' ') else {
                continue;
            };
            let Some(n) = tokens(n) else { continue };
            match what {
                "sent" => sent = Some(n),
                "received" => received = Some(n),
                "cache hit" => hit = n,
                "cache write" => write = n,
                _ => {}
            }
        }
        let (Some(sent), Some(received)) = (sent, received) else {
            continue;
        };
        any = true;
        u.input_tokens = u
            .input_tokens
            .saturating_add(sent.saturating_sub(hit).saturating_sub(write).max(0));
        u.output_tokens = u.output_tokens.saturating_add(received);
        u.cache_read_tokens = u.cache_read_tokens.saturating_add(hit);
        u.cache_write_tokens = u.cache_write_tokens.saturating_add(write);
        if let Some(c) = cost.and_then(session_cost) {
            u.cost_micros = Some(c);
        }
    }
    any.then_some(u)
}
