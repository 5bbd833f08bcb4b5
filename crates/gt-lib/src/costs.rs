//! Costs (issue 12 §3): token usage and cost per agent session, read from
//! each runtime's own files and kept with the session (`CostStore`).
//!
//! When usage is recorded:
//! - Claude Code: its `Stop` and `SessionEnd` hooks run
//!   `gt agent-report --hook stop|session-end` with the hook payload on
//!   stdin; gt reads the transcript the payload names ([`hook_report`]).
//!   `SessionStart` (`--hook session-start`) records Claude's `session_id`,
//!   used by `gt resume` (`claude --resume ID`).
//! - Every runtime, when gt ends a session (`gt done`, the deacon finding
//!   the pane dead, `gt down --all`): [`record_session_end`] reads its files
//!   (Claude: the transcript of the recorded `session_id`; Codex: rollouts
//!   whose `cwd` is the worktree; Gemini: chats of the worktree's project;
//!   Aider: the worktree's `.aider.chat.history.md`; OpenCode: the messages of
//!   its sessions in the worktree, from its own SQLite database, read-only).
//!   The deacon reads the files of sessions that ended in the last ten
//!   minutes again ([`refresh_recent`]): `gt done` runs inside the agent's
//!   turn, and some runtimes write that turn's usage only after it.
//!
//! Files are read only as data for numbers: regular files (symlinks are
//! resolved and must stay inside the runtime's own directory), at most
//! [`usage::MAX_INPUT_BYTES`]. A transcript path from a hook payload must
//! resolve to a `.jsonl` file under `$CLAUDE_CONFIG_DIR/projects` (default
//! `~/.claude/projects`) of the caller; anything else is refused.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use gt_agents::usage::{self, Usage, UsageSource};

use crate::error::{Error, Result};
use crate::session::Session;
use crate::store::costs::{CostGroup, CostQuery, CostRow, CostTotals, SessionUsage};
use crate::store::{CostStore, WorkStore};
use crate::workspace::Workspace;

/// The largest hook payload read from stdin.
pub const HOOK_PAYLOAD_MAX: u64 = 1 << 20;

/// Most files looked at when searching a runtime's directory.
const MAX_FILES: usize = 20_000;

/// The Claude Code hook that ran `gt agent-report --hook …`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HookEvent {
    SessionStart,
    Stop,
    SessionEnd,
    /// Claude Code's `statusLine` command: its payload carries the session's
    /// cost (`cost.total_cost_usd`); it prints nothing, so the line is empty.
    StatusLine,
    /// Gemini CLI's `BeforeModel`: see [`crate::agent_hooks::model_request`].
    ModelRequest,
}

impl std::str::FromStr for HookEvent {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "session-start" => Ok(HookEvent::SessionStart),
            "stop" => Ok(HookEvent::Stop),
            "session-end" => Ok(HookEvent::SessionEnd),
            "status-line" => Ok(HookEvent::StatusLine),
            "model-request" => Ok(HookEvent::ModelRequest),
            _ => Err(Error::invalid(format!(
                "unknown hook '{}': use session-start, stop, session-end, status-line or model-request",
                s.escape_debug()
            ))),
        }
    }
}

/// What a hook report recorded.
#[derive(Debug, Clone, Serialize)]
pub struct HookReport {
    pub session: i64,
    /// The runtime's conversation id was recorded (or already was).
    pub agent_session_id: bool,
    pub usage: Option<SessionUsage>,
}

/// The gt session of the caller (`GT_SESSION`), checked against `GT_AGENT`.
pub(crate) fn caller_session(ws: &Workspace) -> Result<Session> {
    let id: i64 = ws
        .caller
        .var("GT_SESSION")
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| Error::refused("not inside an agent session (GT_SESSION is not set)"))?;
    let s = ws.store.get_session(id)?;
    if let Some(agent) = ws.caller.agent() {
        if agent != s.agent() {
            return Err(Error::refused(format!(
                "session {id} belongs to {}, not to {}",
                s.agent(),
                agent.escape_debug()
            )));
        }
    }
    Ok(s)
}

/// Claude Code's directory of transcripts for this caller.
fn claude_projects(ws: &Workspace) -> Option<PathBuf> {
    claude_config_dir(ws)?.join("projects").canonicalize().ok()
}

/// Claude Code's user configuration directory for this caller
/// (`$CLAUDE_CONFIG_DIR`, else `~/.claude`).
pub fn claude_config_dir(ws: &Workspace) -> Option<PathBuf> {
    match ws.caller.var("CLAUDE_CONFIG_DIR").filter(|v| !v.is_empty()) {
        Some(d) => Some(PathBuf::from(d)),
        None => Some(ws.caller.home()?.join(".claude")),
    }
}

/// Reads `path` when it resolves to a regular file inside `root` (already
/// canonical) of at most [`usage::MAX_INPUT_BYTES`].
fn read_inside(path: &Path, root: &Path) -> Result<String> {
    let real = path
        .canonicalize()
        .map_err(|e| Error::io(format!("cannot resolve {}", path.display()), e))?;
    if !real.starts_with(root) {
        return Err(Error::refused(format!(
            "{} is not inside {}",
            path.display(),
            root.display()
        )));
    }
    let meta = std::fs::metadata(&real)
        .map_err(|e| Error::io(format!("cannot read {}", real.display()), e))?;
    if !meta.is_file() {
        return Err(Error::refused(format!(
            "{} is not a regular file",
            real.display()
        )));
    }
    let max = usage::MAX_INPUT_BYTES as u64;
    if meta.len() > max {
        return Err(Error::refused(format!(
            "{} is larger than {max} bytes",
            real.display()
        )));
    }
    let mut buf = Vec::new();
    std::fs::File::open(&real)
        .and_then(|f| f.take(max).read_to_end(&mut buf))
        .map_err(|e| Error::io(format!("cannot read {}", real.display()), e))?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// `gt agent-report --hook EVENT`: what a Claude Code hook payload says.
pub fn hook_report(ws: &Workspace, event: HookEvent, payload: &[u8]) -> Result<HookReport> {
    let s = caller_session(ws)?;
    if event == HookEvent::ModelRequest {
        crate::agent_hooks::model_request(ws, &s, payload)?;
        return Ok(HookReport {
            session: s.id,
            agent_session_id: false,
            usage: None,
        });
    }
    let v: Value = serde_json::from_slice(payload)
        .map_err(|e| Error::invalid(format!("the hook payload is not JSON: {e}")))?;
    let agent_id = v.get("session_id").and_then(Value::as_str);
    // Everything is read and checked before anything is written.
    let usage = match (event, v.get("transcript_path").and_then(Value::as_str)) {
        (HookEvent::SessionStart, _) | (_, None) => None,
        (_, Some(path)) => {
            let path = Path::new(path);
            if !path.is_absolute() || path.extension().is_none_or(|e| e != "jsonl") {
                return Err(Error::refused(
                    "the transcript path is not an absolute .jsonl path",
                ));
            }
            let root = claude_projects(ws).ok_or_else(|| {
                Error::refused("no Claude Code projects directory for this caller")
            })?;
            usage::claude::parse_transcript(&read_inside(path, &root)?)
        }
    };
    if let Some(id) = agent_id {
        crate::store::costs::validate_agent_session_id(id)?;
    }
    let mut report = HookReport {
        session: s.id,
        agent_session_id: false,
        usage: None,
    };
    if let Some(id) = agent_id {
        ws.store.set_agent_session_id(s.id, id, &s.agent())?;
        report.agent_session_id = true;
    }
    let cost = v
        .get("cost")
        .and_then(|c| c.get("total_cost_usd"))
        .and_then(Value::as_f64)
        .filter(|c| c.is_finite() && *c >= 0.0 && *c < 1e9)
        .map(|c| (c * 1e6).round() as i64);
    if let Some(mut u) = usage {
        if event == HookEvent::StatusLine && cost.is_some() {
            u.cost_micros = cost;
        }
        let u = claude_share(ws, &s, u)?;
        report.usage = Some(
            ws.store
                .record_usage(s.id, &u, usage::claude::SOURCE, &s.agent())?,
        );
    }
    Ok(report)
}

/// This session's part of a Claude conversation's tokens: `claude --resume`
/// continues the same transcript, so the tokens the bead's earlier sessions
/// of the same conversation recorded are subtracted. A reading
/// without a cost keeps the cost recorded before (the newest Claude
/// reported: the status line's, or the transcript's `cost-state`).
fn claude_share(ws: &Workspace, s: &Session, mut u: Usage) -> Result<Usage> {
    let Some(id) = ws.store.agent_session_id(s.id)? else {
        return Ok(u);
    };
    let mut earlier = Usage::default();
    for p in ws.store.list_sessions(&crate::store::SessionFilter {
        bead: Some(&s.bead),
        ..Default::default()
    })? {
        if p.id >= s.id || ws.store.agent_session_id(p.id)?.as_deref() != Some(id.as_str()) {
            continue;
        }
        if let Some(pu) = ws.store.session_usage(p.id)? {
            let pu = pu.usage;
            earlier.input_tokens = earlier.input_tokens.saturating_add(pu.input_tokens);
            earlier.output_tokens = earlier.output_tokens.saturating_add(pu.output_tokens);
            earlier.cache_read_tokens = earlier
                .cache_read_tokens
                .saturating_add(pu.cache_read_tokens);
            earlier.cache_write_tokens = earlier
                .cache_write_tokens
                .saturating_add(pu.cache_write_tokens);
        }
    }
    let less = |a: i64, b: i64| a.saturating_sub(b).max(0);
    u.input_tokens = less(u.input_tokens, earlier.input_tokens);
    u.output_tokens = less(u.output_tokens, earlier.output_tokens);
    u.cache_read_tokens = less(u.cache_read_tokens, earlier.cache_read_tokens);
    u.cache_write_tokens = less(u.cache_write_tokens, earlier.cache_write_tokens);
    // The cost is not: a resumed claude process reports its own cost from
    // zero (checked with 2.1.332).
    Ok(u)
}

fn add(total: &mut Option<Usage>, u: Usage) {
    let t = total.get_or_insert_with(Usage::default);
    t.input_tokens = t.input_tokens.saturating_add(u.input_tokens);
    t.output_tokens = t.output_tokens.saturating_add(u.output_tokens);
    t.cache_read_tokens = t.cache_read_tokens.saturating_add(u.cache_read_tokens);
    t.cache_write_tokens = t.cache_write_tokens.saturating_add(u.cache_write_tokens);
    t.cost_micros = match (t.cost_micros, u.cost_micros) {
        (Some(a), Some(b)) => Some(a.saturating_add(b)),
        (a, b) => a.or(b),
    };
    if u.model.is_some() {
        t.model = u.model;
    }
}

/// The time of `t` (canonical or RFC 3339).
fn at(t: &str) -> Option<time::OffsetDateTime> {
    crate::clock::parse_ts(t).ok()
}

/// Regular files (not symlinks) under `dir`, at most `depth` levels down,
/// whose name ends in `suffix` and which were modified at or after `since`.
fn files_under(
    dir: &Path,
    depth: usize,
    suffix: &str,
    since: time::OffsetDateTime,
) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), 0usize)];
    let mut seen = 0usize;
    while let Some((d, level)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            seen += 1;
            if seen > MAX_FILES {
                return out;
            }
            let Ok(ft) = e.file_type() else { continue };
            let p = e.path();
            if ft.is_dir() && level < depth {
                stack.push((p, level + 1));
            } else if ft.is_file() && p.to_string_lossy().ends_with(suffix) {
                let fresh = e
                    .metadata()
                    .and_then(|m| m.modified())
                    .map(|m| time::OffsetDateTime::from(m) >= since)
                    .unwrap_or(false);
                if fresh {
                    out.push(p);
                }
            }
        }
    }
    out.sort();
    out
}

/// Whether `a` and `b` name the same directory.
fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// Where the runtime a session ran (by its recorded name) writes its usage:
/// the preset's [`gt_agents::runtime::Traits::usage`]; none for a custom agent.
fn usage_source(runtime: &str) -> UsageSource {
    gt_agents::runtime::preset(runtime)
        .map(|r| r.traits.usage)
        .unwrap_or_default()
}

/// Usage of `s` read from its runtime's files; `None` when there is none
/// (or the runtime keeps none gt can read).
pub fn read_session_usage(ws: &Workspace, s: &Session) -> Result<Option<(Usage, &'static str)>> {
    let Some(start) = at(&s.started_at) else {
        return Ok(None);
    };
    let home = ws.caller.home();
    let worktree = ws.worktree(&s.rig, &s.polecat);
    let mut total: Option<Usage> = None;
    let source = usage_source(&s.runtime);
    match source {
        UsageSource::None => return Ok(None),
        UsageSource::ClaudeTranscript => {
            let (Some(id), Some(root)) = (ws.store.agent_session_id(s.id)?, claude_projects(ws))
            else {
                return Ok(None);
            };
            let name = format!("{id}.jsonl");
            for p in files_under(&root, 1, &name, start) {
                if p.file_name().is_some_and(|n| n == name.as_str()) {
                    if let Some(u) = usage::claude::parse_transcript(&read_inside(&p, &root)?) {
                        add(&mut total, u);
                    }
                }
            }
        }
        UsageSource::CodexRollout => {
            let base = match ws.caller.var("CODEX_HOME").filter(|v| !v.is_empty()) {
                Some(d) => PathBuf::from(d),
                None => match &home {
                    Some(h) => h.join(".codex"),
                    None => return Ok(None),
                },
            };
            let Ok(root) = base.join("sessions").canonicalize() else {
                return Ok(None);
            };
            for p in files_under(&root, 3, ".jsonl", start) {
                let text = read_inside(&p, &root)?;
                let Some(r) = usage::codex::parse_rollout(&text) else {
                    continue;
                };
                if r.cwd
                    .as_deref()
                    .is_some_and(|c| same_dir(Path::new(c), &worktree))
                {
                    add(&mut total, r.usage);
                }
            }
        }
        UsageSource::GeminiChat => {
            let Some(Ok(root)) = home.map(|h| h.join(".gemini/tmp").canonicalize()) else {
                return Ok(None);
            };
            let Ok(projects) = std::fs::read_dir(&root) else {
                return Ok(None);
            };
            for project in projects.flatten().take(MAX_FILES) {
                let marker = project.path().join(".project_root");
                let Ok(text) = read_inside(&marker, &root) else {
                    continue;
                };
                if !same_dir(Path::new(text.trim()), &worktree) {
                    continue;
                }
                for p in files_under(&project.path().join("chats"), 0, ".jsonl", start) {
                    let Some(c) = usage::gemini::parse_chat(&read_inside(&p, &root)?) else {
                        continue;
                    };
                    if c.start_time
                        .as_deref()
                        .and_then(at)
                        .is_some_and(|t| t >= start)
                    {
                        add(&mut total, c.usage);
                    }
                }
            }
        }
        UsageSource::OpencodeDb => {
            let base = match ws
                .caller
                .var("XDG_DATA_HOME")
                .filter(|v| v.starts_with('/'))
            {
                Some(d) => PathBuf::from(d),
                None => match &home {
                    Some(h) => h.join(".local/share"),
                    None => return Ok(None),
                },
            };
            let db = base.join("opencode/opencode.db");
            let Ok(meta) = std::fs::metadata(&db) else {
                return Ok(None);
            };
            if !meta.is_file() {
                return Ok(None);
            }
            let plain = worktree.to_string_lossy().into_owned();
            let real = worktree
                .canonicalize()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_else(|_| plain.clone());
            let dirs: Vec<&str> = if real == plain {
                vec![&plain]
            } else {
                vec![&plain, &real]
            };
            let since_ms = (start.unix_timestamp_nanos() / 1_000_000) as i64;
            let rows =
                crate::store::sqlite::foreign::opencode_messages(&db, &dirs, since_ms, 100_000)?;
            total = usage::opencode::parse_messages(&rows.join("\n"));
        }
        UsageSource::AiderHistory => {
            let Ok(root) = worktree.canonicalize() else {
                return Ok(None);
            };
            let p = root.join(".aider.chat.history.md");
            if !files_under(&root, 0, "/.aider.chat.history.md", start).contains(&p) {
                return Ok(None);
            }
            let text = read_inside(&p, &root)?;
            // One aider process per session: its part of the history starts
            // at the last "# aider chat started at" header.
            let part = text
                .rfind("# aider chat started at")
                .map_or(text.as_str(), |i| &text[i..]);
            total = usage::aider::parse_history(part);
        }
    }
    Ok(total.and_then(|u| source.name().map(|src| (u, src))))
}

/// Reads and records the usage of `s` from its runtime's files (at the end
/// of a session). Returns what was recorded, `None` when nothing was found.
pub fn record_session_end(
    ws: &Workspace,
    s: &Session,
    actor: &str,
) -> Result<Option<SessionUsage>> {
    match read_session_usage(ws, s)? {
        Some((u, source)) => Ok(Some(ws.store.record_usage(s.id, &u, source, actor)?)),
        None => Ok(None),
    }
}

/// [`record_session_end`] for the places that end sessions: a failure to
/// read usage never stops them (returns whether something was recorded).
pub fn record_session_end_quietly(ws: &Workspace, s: &Session, actor: &str) -> bool {
    matches!(record_session_end(ws, s, actor), Ok(Some(_)))
}

/// How long after a session ended the deacon still reads its files again.
pub const REFRESH_WITHIN_SECS: i64 = 600;

/// A deacon patrol step: sessions that ended in the last
/// [`REFRESH_WITHIN_SECS`] are read again unless their usage was recorded
/// well after they ended — a runtime may write a turn's usage only once the
/// turn's tool returns, and `gt done` runs inside that turn. Returns how many
/// sessions were read. Nothing found, or a file that cannot be read, is not
/// an error.
pub fn refresh_recent(ws: &Workspace) -> Result<usize> {
    let now = ws.town.clock().now();
    let within = time::Duration::seconds(REFRESH_WITHIN_SECS);
    let mut n = 0;
    for s in ws.store.list_sessions(&crate::store::SessionFilter {
        limit: Some(200),
        ..Default::default()
    })? {
        let Some(end) = s.ended_at.as_deref().and_then(at) else {
            continue;
        };
        if now - end > within || usage_source(&s.runtime).name().is_none() {
            continue;
        }
        if let Some(u) = ws.store.session_usage(s.id)? {
            if at(&u.updated_at).is_some_and(|t| t > end + time::Duration::seconds(30)) {
                continue;
            }
        }
        if record_session_end_quietly(ws, &s, crate::deacon::ACTOR) {
            n += 1;
        }
    }
    Ok(n)
}

/// `gt costs`: usage grouped and in total.
#[derive(Debug, Clone, Serialize)]
pub struct CostsView {
    pub by: CostGroup,
    /// Only sessions started at or after this time (canonical), if given.
    pub since: Option<String>,
    pub rows: Vec<CostRow>,
    pub totals: CostTotals,
}

pub fn costs(ws: &Workspace, by: CostGroup, since: Option<String>) -> Result<CostsView> {
    let q = CostQuery {
        since: since.clone(),
    };
    Ok(CostsView {
        by,
        rows: ws.store.costs_by(by, &q)?,
        totals: ws.store.cost_totals(&q)?,
        since,
    })
}

/// Micro-dollars as dollars for people: `$0.0118` below a dollar, else
/// `$12.34`.
pub fn dollars(micros: i64) -> String {
    let d = micros as f64 / 1e6;
    if d.abs() < 1.0 {
        format!("${d:.4}")
    } else {
        format!("${d:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_dollars_and_hook_events() {
        assert_eq!(dollars(11_768), "$0.0118");
        assert_eq!(dollars(0), "$0.0000");
        assert_eq!(dollars(12_345_678), "$12.35");
        assert_eq!("stop".parse::<HookEvent>().unwrap(), HookEvent::Stop);
        assert!("Stop".parse::<HookEvent>().is_err());
    }
}
