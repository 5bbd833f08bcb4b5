//! Runtime lifecycle hooks and agent state.
//!
//! For Claude Code, `gt` writes a settings file OUTSIDE the user's repository
//! (`<town>/.gt/run/hooks/<rig>/<polecat>.json`) and starts the agent with
//! `--settings FILE`; Claude Code merges it with the user's own settings. Its
//! hooks run:
//!
//! | event | command |
//! |---|---|
//! | `SessionStart` | `gt prime` (its output becomes context), `gt agent-report --hook session-start` (records Claude's `session_id`; prints nothing) |
//! | `UserPromptSubmit` | `gt agent-report --state working`, `gt mail check --inject` (output becomes context) |
//! | `Stop` | `gt agent-report --state idle`, `gt agent-report --hook stop` (records the transcript's usage) |
//! | `SessionEnd` | `gt agent-report --hook session-end` (records the transcript's usage and cost) |
//! | `Notification` (`permission_prompt`) | `gt agent-report --state waiting-for-input` |
//! | `Notification` (`idle_prompt`) | `gt agent-report --state idle` |
//! | `StopFailure` (`rate_limit`) | `gt agent-report --state rate-limited` |
//! | `StopFailure` (any other API error) | `gt agent-report --state error` |
//!
//! The file's `statusLine` command is `gt agent-report --hook status-line`: its
//! payload carries the session's cost (`cost.total_cost_usd`), which the
//! transcript lacks. Claude runs one status-line command, and `--settings`
//! replaces the user's: so when the user's own settings
//! (`~/.claude/settings.json`, or `$CLAUDE_CONFIG_DIR/settings.json`; never a
//! repository's) have a command status line, gt's becomes
//! `gt agent-report --hook status-line --tee | USER_COMMAND`: gt records the
//! cost and passes the payload on unchanged, and the user's line shows as
//! before. Without one, gt prints nothing and Claude's status line stays
//! empty.
//!
//! The `--hook` reports read the hook's JSON payload on stdin and always
//! exit 0 (a failing hook would show "<Event> hook failed" in the agent's
//! screen); see [`crate::costs`].
//!
//! The file also sets `skipDangerousModePermissionPrompt: true`: gt starts
//! claude with `--dangerously-skip-permissions`, and its one-time warning
//! would otherwise stop every new agent.
//!
//! Gemini CLI retries a failing model API for minutes with nothing on its
//! screen but its spinner. Its sessions get one hook, `BeforeModel`, which
//! fires before each attempt: gt writes a system settings file per polecat
//! (`<town>/.gt/run/hooks/<rig>/<polecat>.gemini.json`: the user's own
//! system settings, if any, plus gt's hook) and names it in
//! `GEMINI_CLI_SYSTEM_SETTINGS_PATH` (the user's `system-defaults.json`
//! stays in use through `GEMINI_CLI_SYSTEM_DEFAULTS_PATH`). The hook runs
//! `gt agent-report --hook model-request`: the same conversation sent again
//! is a retry, so the agent's state becomes `error` (source `hook`) within
//! one backoff (seconds); the next request with a different conversation
//! (the API answered) reports `working` again. See [`model_request`].
//!
//! Other runtimes get no hooks: their state is observed on screen (ready
//! pattern on two consecutive observations → idle; a question or permission
//! dialog → waiting-for-input; else working).

use std::path::PathBuf;

use serde::Serialize;
use serde_json::json;

use crate::error::{Error, Result};
use crate::runtime::Runtime;
use crate::store::mail::MailStore;
use crate::workspace::Workspace;

pub use crate::store::mail::AgentStateRecord;

/// The agent states.
pub const STATES: &[&str] = &[
    "working",
    "idle",
    "waiting-for-input",
    "error",
    "rate-limited",
];

/// The `StopFailure` error kinds of Claude Code other than `rate_limit`
/// (its hook matcher compares the payload's `error`).
const STOP_FAILURE_ERRORS: &str =
    "authentication_failed|billing_error|invalid_request|server_error|max_output_tokens|unknown";

/// Whether `runtime` supports gt's lifecycle hooks.
pub fn has_hooks(runtime: &Runtime) -> bool {
    runtime.traits.lifecycle_hooks
}

/// Where the settings file of a polecat lives.
pub fn settings_path(ws: &Workspace, rig: &str, polecat: &str) -> PathBuf {
    ws.town
        .state_dir()
        .join("run")
        .join("hooks")
        .join(rig)
        .join(format!("{polecat}.json"))
}

/// The Claude Code settings carrying gt's hooks. `gt` is the absolute path of
/// the gt binary; commands are shell strings, so it is quoted.
pub fn claude_settings(gt: &str, user_status_line: Option<&UserStatusLine>) -> serde_json::Value {
    let gt = shell_words::quote(gt).into_owned();
    let status_line = match user_status_line {
        Some(u) => {
            let mut v = json!({
                "type": "command",
                "command": format!("{gt} agent-report --hook status-line --tee | {}", u.command),
            });
            if let Some(p) = u.padding {
                v["padding"] = json!(p);
            }
            v
        }
        None => {
            json!({ "type": "command", "command": format!("{gt} agent-report --hook status-line") })
        }
    };
    let cmd = |c: String| json!({ "type": "command", "command": c, "timeout": 30 });
    let report = |s: &str| cmd(format!("{gt} agent-report --state {s}"));
    let hook = |e: &str| cmd(format!("{gt} agent-report --hook {e}"));
    json!({
        "skipDangerousModePermissionPrompt": true,
        // Its payload carries the session's cost; the user's own status
        // line (if any) gets the payload after gt.
        "statusLine": status_line,
        "hooks": {
            "SessionStart": [
                { "matcher": "startup|resume|clear|compact",
                  "hooks": [cmd(format!("{gt} prime")), hook("session-start")] }
            ],
            "UserPromptSubmit": [
                { "hooks": [report("working"), cmd(format!("{gt} mail check --inject"))] }
            ],
            "Stop": [
                { "hooks": [report("idle"), hook("stop")] }
            ],
            "SessionEnd": [
                { "hooks": [hook("session-end")] }
            ],
            "StopFailure": [
                { "matcher": "rate_limit", "hooks": [report("rate-limited")] },
                { "matcher": STOP_FAILURE_ERRORS, "hooks": [report("error")] }
            ],
            "Notification": [
                { "matcher": "permission_prompt", "hooks": [report("waiting-for-input")] },
                { "matcher": "idle_prompt", "hooks": [report("idle")] }
            ]
        }
    })
}

/// The caller's own Claude Code status line (a `command` one), from their
/// user settings.
#[derive(Debug, Clone, PartialEq)]
pub struct UserStatusLine {
    /// A shell command line, as the user wrote it.
    pub command: String,
    pub padding: Option<u64>,
}

/// The status line of the caller's user settings, if it is a command that
/// Claude would run (one line of printable text). A repository's settings
/// are never read: an agent's worktree is not the user.
fn user_status_line(ws: &Workspace) -> Option<UserStatusLine> {
    let path = crate::costs::claude_config_dir(ws)?.join("settings.json");
    let meta = std::fs::metadata(&path).ok()?;
    if !meta.is_file() || meta.len() > 1 << 20 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).ok()?).ok()?;
    parse_user_status_line(&v)
}

fn parse_user_status_line(settings: &serde_json::Value) -> Option<UserStatusLine> {
    let s = settings.get("statusLine")?;
    if s.get("type").and_then(|t| t.as_str()) != Some("command") {
        return None;
    }
    let command = s.get("command")?.as_str()?.trim();
    if command.is_empty() || command.chars().any(char::is_control) {
        return None;
    }
    Some(UserStatusLine {
        command: command.to_string(),
        padding: s.get("padding").and_then(|p| p.as_u64()),
    })
}

/// Extra argv for starting `runtime` for this polecat (e.g. `["--settings",
/// "<town>/.gt/run/hooks/<rig>/<polecat>.json"]` for claude), writing the
/// settings file outside the repository; empty for runtimes without hooks.
pub fn prepare(ws: &Workspace, runtime: &Runtime, rig: &str, polecat: &str) -> Result<Vec<String>> {
    if runtime.traits.model_request_hook {
        write_gemini_settings(ws, rig, polecat)?;
    }
    if !has_hooks(runtime) {
        write_instructions(ws, runtime, rig, polecat)?;
        crate::deacon::completion::exclude_own_files(ws, runtime, rig)?;
        return Ok(Vec::new());
    }
    let path = settings_path(ws, rig, polecat);
    let dir = path
        .parent()
        .ok_or_else(|| Error::Internal("settings path has no parent".into()))?;
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
    let gt = ws.host.gt_exe.to_str().ok_or_else(|| {
        Error::Environment(format!(
            "the gt binary's path is not UTF-8: {}",
            ws.host.gt_exe.display()
        ))
    })?;
    let user = user_status_line(ws);
    let text = serde_json::to_string_pretty(&claude_settings(gt, user.as_ref()))
        .map_err(|e| Error::Internal(e.to_string()))?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text)
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
    Ok(vec![
        "--settings".to_string(),
        path.to_string_lossy().into_owned(),
    ])
}

/// Gemini CLI's variable naming its system settings file (highest
/// precedence of its settings; gt's file carries the user's own).
pub const GEMINI_SYSTEM_SETTINGS: &str = "GEMINI_CLI_SYSTEM_SETTINGS_PATH";
/// Gemini CLI's variable naming its system defaults file (by default beside
/// the system settings file, so it is set to keep the user's).
pub const GEMINI_SYSTEM_DEFAULTS: &str = "GEMINI_CLI_SYSTEM_DEFAULTS_PATH";

/// Where gt's Gemini CLI system settings file of a polecat lives.
pub fn gemini_settings_path(ws: &Workspace, rig: &str, polecat: &str) -> PathBuf {
    settings_path(ws, rig, polecat).with_extension("gemini.json")
}

/// The user's own Gemini CLI system settings file: the caller's
/// `GEMINI_CLI_SYSTEM_SETTINGS_PATH`, else `/etc/gemini-cli/settings.json`.
fn user_gemini_system_settings(ws: &Workspace) -> PathBuf {
    ws.caller
        .var(GEMINI_SYSTEM_SETTINGS)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/gemini-cli/settings.json"))
}

/// The variables a session of a runtime with [`Traits::model_request_hook`]
/// gets: gt's settings file, and the user's defaults file kept. Empty when
/// the town lies under a directory others may write to (e.g. `/tmp`):
/// Gemini CLI skips such a system settings file with a warning on screen,
/// so gt names none and the user's own stays in force.
///
/// [`Traits::model_request_hook`]: gt_agents::runtime::Traits::model_request_hook
pub fn gemini_env(ws: &Workspace, rig: &str, polecat: &str) -> Vec<(String, String)> {
    let path = gemini_settings_path(ws, rig, polecat);
    if !private_ancestry(&path) {
        return Vec::new();
    }
    let mut env = vec![(
        GEMINI_SYSTEM_SETTINGS.to_string(),
        path.to_string_lossy().into_owned(),
    )];
    if ws.caller.var(GEMINI_SYSTEM_DEFAULTS).is_none() {
        let user = user_gemini_system_settings(ws);
        let dir = user.parent().map(PathBuf::from).unwrap_or_default();
        env.push((
            GEMINI_SYSTEM_DEFAULTS.to_string(),
            dir.join("system-defaults.json")
                .to_string_lossy()
                .into_owned(),
        ));
    }
    env
}

/// Whether no existing directory above `path` is writable by group or
/// others (Gemini CLI's condition for reading a system settings file).
fn private_ancestry(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.ancestors()
        .skip(1)
        .all(|d| match std::fs::metadata(d) {
            Ok(m) => m.permissions().mode() & 0o022 == 0,
            Err(_) => true,
        })
}

/// gt's system settings for Gemini CLI: `base` (the user's own system
/// settings, an object) with gt's `BeforeModel` hook added to its hooks.
pub fn gemini_settings(gt: &str, base: Option<serde_json::Value>) -> serde_json::Value {
    let gt = shell_words::quote(gt).into_owned();
    let mut v = base.filter(|b| b.is_object()).unwrap_or_else(|| json!({}));
    let group = json!({ "hooks": [{
        "type": "command",
        "name": "gt-model-request",
        "command": format!("{gt} agent-report --hook model-request"),
        "timeout": 10000,
    }]});
    if !v.get("hooks").is_some_and(|h| h.is_object()) {
        v["hooks"] = json!({});
    }
    let hooks = &mut v["hooks"];
    match hooks.get_mut("BeforeModel").and_then(|b| b.as_array_mut()) {
        Some(list) => list.push(group),
        None => hooks["BeforeModel"] = json!([group]),
    }
    v
}

/// Writes [`gemini_settings`] for this polecat, over the user's system
/// settings when that file is a JSON object of at most 1 MiB (anything else
/// is left out, with a warning in the log).
fn write_gemini_settings(ws: &Workspace, rig: &str, polecat: &str) -> Result<()> {
    let gt = ws.host.gt_exe.to_str().ok_or_else(|| {
        Error::Environment(format!(
            "the gt binary's path is not UTF-8: {}",
            ws.host.gt_exe.display()
        ))
    })?;
    let user = user_gemini_system_settings(ws);
    let base = match std::fs::metadata(&user) {
        Ok(m) if m.is_file() && m.len() <= 1 << 20 => std::fs::read_to_string(&user)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .filter(|v| v.is_object())
            .or_else(|| {
                tracing::warn!(path = %user.display(), "gemini system settings are not a JSON object: left out");
                None
            }),
        _ => None,
    };
    let path = gemini_settings_path(ws, rig, polecat);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
    }
    let text = serde_json::to_string_pretty(&gemini_settings(gt, base))
        .map_err(|e| Error::Internal(e.to_string()))?;
    crate::fsutil::write_atomic(&path, text.as_bytes())
}

/// The largest `BeforeModel` payload judged (it carries the conversation).
pub const MODEL_REQUEST_MAX: u64 = 64 << 20;

/// What one `BeforeModel` payload says of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelRequest {
    /// The conversation differs from the session's previous request.
    New,
    /// The same conversation again: the CLI is retrying a failed request.
    Retry,
}

/// A fingerprint of the request's conversation (`llm_request.messages`;
/// the payload's timestamp differs between attempts).
fn conversation_fingerprint(payload: &[u8]) -> Result<String> {
    use std::hash::{Hash, Hasher};
    let v: serde_json::Value = serde_json::from_slice(payload)
        .map_err(|e| Error::invalid(format!("the hook payload is not JSON: {e}")))?;
    let messages = v
        .get("llm_request")
        .and_then(|r| r.get("messages"))
        .and_then(|m| m.as_array())
        .ok_or_else(|| Error::invalid("the hook payload has no llm_request.messages"))?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for m in messages {
        m.to_string().hash(&mut h);
    }
    Ok(format!("{}:{:016x}", messages.len(), h.finish()))
}

/// `gt agent-report --hook model-request` (Gemini CLI's `BeforeModel`):
/// compares the request's conversation with the session's previous one
/// (kept beside gt's settings file as `SESSION FINGERPRINT`). The same one
/// again → state `error`; a new one after an `error` → `working`.
pub fn model_request(
    ws: &Workspace,
    session: &crate::session::Session,
    payload: &[u8],
) -> Result<ModelRequest> {
    let print = conversation_fingerprint(payload)?;
    let file = settings_path(ws, &session.rig, &session.polecat).with_extension("model-request");
    let line = format!("{} {print}", session.id);
    let previous = std::fs::read_to_string(&file).unwrap_or_default();
    let seen = if previous.trim() == line {
        ModelRequest::Retry
    } else {
        ModelRequest::New
    };
    if seen == ModelRequest::New {
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        }
        crate::fsutil::write_atomic(&file, line.as_bytes())?;
    }
    let agent = session.agent();
    let current = ws.store.agent_state(&agent)?;
    let failing = current.as_ref().is_some_and(|s| {
        s.source == "hook" && matches!(s.state.as_str(), "error" | "rate-limited")
    });
    match seen {
        ModelRequest::Retry if !failing => ws.store.set_agent_state(&agent, "error", "hook")?,
        ModelRequest::New if failing => ws.store.set_agent_state(&agent, "working", "hook")?,
        _ => {}
    }
    Ok(seen)
}

/// First line of an instructions file gt wrote (and may rewrite).
const INSTRUCTIONS_MARKER: &str =
    "<!-- written by gt for this polecat; not part of the repository -->";

/// The rules a runtime without hooks gets in its instructions file.
fn instructions_text(agent: &str) -> String {
    format!(
        "{INSTRUCTIONS_MARKER}\n# Gas Town polecat {agent}\n\n\
         - Run `gt prime` first: it shows your bead, your branch and these rules.\n\
         - Work only in this worktree; commit your work with clear messages.\n\
         - When finished run `gt done` (`--wip` commits leftovers; `--no-changes` if no code was needed).\n\
         - Run `gt mail check` between steps: it shows mail and queued nudges for you.\n\
         - Blocked? `gt escalate \"why\"`.\n"
    )
}

/// For runtimes without lifecycle hooks: the rules go into the runtime's
/// instructions file (`AGENTS.md`, `GEMINI.md`…) in the worktree — but only
/// when the repository does not track that file (a tracked one is never
/// touched; `gt prime` carries the rules then), and the file is kept out of
/// every commit by the rig repository's `info/exclude`.
fn write_instructions(ws: &Workspace, runtime: &Runtime, rig: &str, polecat: &str) -> Result<()> {
    let Some(name) = runtime.instructions_file.as_deref() else {
        return Ok(());
    };
    if name.contains('/') || name.starts_with('.') || name.is_empty() {
        return Ok(());
    }
    let wt = ws.worktree(rig, polecat);
    if !wt.join(".git").exists() || ws.host.git.is_tracked(&wt, name)? {
        return Ok(());
    }
    let path = wt.join(name);
    if let Ok(existing) = std::fs::read_to_string(&path) {
        if !existing.starts_with(INSTRUCTIONS_MARKER) {
            // Someone's own untracked file: leave it alone.
            return Ok(());
        }
    }
    let exclude = ws.repo_dir(rig).join("info").join("exclude");
    let line = format!("/{name}");
    let current = std::fs::read_to_string(&exclude).unwrap_or_default();
    if !current.lines().any(|l| l.trim() == line) {
        if let Some(dir) = exclude.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        }
        let mut text = current;
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&format!("# gt: polecat instructions files\n{line}\n"));
        crate::fsutil::write_atomic(&exclude, text.as_bytes())?;
    }
    crate::fsutil::write_atomic(
        &path,
        instructions_text(&format!("{rig}/{polecat}")).as_bytes(),
    )
}

/// Validates a state name.
pub fn validate_state(state: &str) -> Result<()> {
    if STATES.contains(&state) {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "unknown agent state '{}': use working, idle, waiting-for-input, error or rate-limited",
            state.escape_debug()
        )))
    }
}

/// `gt agent-report`: records what the runtime's hooks say.
pub fn report(ws: &Workspace, agent: &str, state: &str) -> Result<()> {
    validate_state(state)?;
    match crate::mail::parse(agent)? {
        crate::mail::Address::Polecat { .. } => {}
        _ => {
            return Err(Error::invalid(format!(
                "only an agent RIG/POLECAT reports a state, not '{}'",
                agent.escape_debug()
            )))
        }
    }
    crate::mail::resolve(ws, &[agent.to_string()])?;
    ws.store.set_agent_state(agent, state, "hook")
}

/// The state of one agent and how it was learned.
#[derive(Debug, Clone, Serialize)]
pub struct StateView {
    pub agent: String,
    /// `working`, `idle`, `waiting-for-input`, or `unknown` (no live session).
    pub state: String,
    /// `hook`, `screen`, or `none`.
    pub source: String,
    pub updated_at: Option<String>,
}

/// What `agent` is doing: the hooks' last report when its runtime has hooks,
/// else two observations of its screen.
pub fn observe(ws: &Workspace, agent: &str) -> Result<StateView> {
    let (rig, name) = crate::polecat::parse_address(agent)?;
    let session = Workspace::session_name(&rig, &name);
    let unknown = || StateView {
        agent: agent.to_string(),
        state: "unknown".into(),
        source: "none".into(),
        updated_at: None,
    };
    let alive = matches!(ws.host.tmux.session_info(&session)?, Some(i) if !i.pane_dead);
    if !alive {
        return Ok(unknown());
    }
    // Looked up once, and only when needed.
    let mut runtime: Option<Option<Runtime>> = None;
    if let Some(s) = ws.store.agent_state(agent)? {
        // A runtime with lifecycle hooks reports every state; one with only
        // the model-request hook reports API failures (and their end).
        let reported = s.source == "hook"
            && (matches!(s.state.as_str(), "error" | "rate-limited") || {
                let r = crate::sling::last_runtime(ws, &rig, &name)?;
                let only_model = r.as_ref().is_some_and(|r| r.traits.model_request_hook);
                runtime = Some(r);
                !only_model
            });
        if reported {
            return Ok(StateView {
                agent: s.agent,
                state: s.state,
                source: s.source,
                updated_at: Some(s.updated_at),
            });
        }
    }
    let runtime = match runtime {
        Some(r) => r,
        None => crate::sling::last_runtime(ws, &rig, &name)?,
    };
    let first = ws.host.tmux.capture_pane(&session, 15)?;
    std::thread::sleep(std::time::Duration::from_millis(150));
    let second = ws.host.tmux.capture_pane(&session, 15)?;
    let state = screen_state_for(&first, &second, runtime.as_ref());
    Ok(StateView {
        agent: agent.to_string(),
        state: state.into(),
        source: "screen".into(),
        updated_at: Some(crate::clock::format_ts(time::OffsetDateTime::now_utc())),
    })
}

/// Classifies two consecutive observations of a screen with the one
/// classifier ([`gt_agents::screen::classify_pair`]), knowing only a ready text.
pub fn screen_state(first: &str, second: &str, ready: Option<&str>) -> &'static str {
    pair_name(crate::screen::classify_pair(
        first,
        second,
        &crate::screen::Patterns::ready_only(ready),
    ))
}

/// [`screen_state`] with everything known about the runtime.
pub fn screen_state_for(first: &str, second: &str, runtime: Option<&Runtime>) -> &'static str {
    pair_name(crate::screen::classify_pair(
        first,
        second,
        &crate::screen::Patterns::for_optional(runtime),
    ))
}

/// `gt agent-state`'s names: a dialog waits for input, a still prompt is
/// idle, the runtime's rate-limit or error text is `rate-limited`/`error`,
/// anything else (busy, unknown) is working.
fn pair_name(s: crate::screen::ScreenState) -> &'static str {
    use crate::screen::ScreenState as S;
    match s {
        S::WaitingForInput { .. } => "waiting-for-input",
        S::Idle => "idle",
        S::RateLimited => "rate-limited",
        S::Error => "error",
        S::Working | S::Unknown => "working",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The two former classifiers (`problems::classify_screen` and
    /// `gt agent-state`'s `screen_state`) now give the same answer on every
    /// fixture screen of every preset, and on a few generic ones (every
    /// fixture at a prompt shows its ready text, which `gt agent-state` also
    /// needs; a bare `standin>` is idle to problems only).
    #[test]
    fn agent_state_and_problems_agree_on_every_fixture() {
        use crate::problems::{classify_screen_for, Screen};
        let root =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../gt-agents/testdata/screens");
        let mut screens: Vec<(Option<Runtime>, String)> = vec![
            (None, "Do you want to proceed? (y/n)".into()),
            (None, "esc to interrupt".into()),
        ];
        for cli in std::fs::read_dir(&root).unwrap() {
            let cli = cli.unwrap().path();
            if !cli.is_dir() {
                continue;
            }
            let rt = crate::runtime::preset(cli.file_name().unwrap().to_str().unwrap());
            assert!(rt.is_some(), "{cli:?}");
            for f in std::fs::read_dir(&cli).unwrap() {
                screens.push((
                    rt.clone(),
                    std::fs::read_to_string(f.unwrap().path()).unwrap(),
                ));
            }
        }
        assert!(screens.len() > 20);
        for (rt, text) in &screens {
            let problems = classify_screen_for(text, rt.as_ref());
            let state = screen_state_for(text, text, rt.as_ref());
            let expected = match problems {
                Screen::Question(..) => "waiting-for-input",
                Screen::AtPrompt => "idle",
                Screen::RateLimited => "rate-limited",
                Screen::Error => "error",
                Screen::Busy | Screen::Unknown => "working",
            };
            assert_eq!(state, expected, "{text}");
        }
    }

    #[test]
    fn the_users_own_status_line_gets_the_payload_after_gt() {
        let user = parse_user_status_line(&json!({
            "statusLine": { "type": "command", "command": "~/bin/my-line --short", "padding": 2 }
        }))
        .unwrap();
        let v = claude_settings("/opt/gt", Some(&user));
        assert_eq!(
            v["statusLine"]["command"],
            "/opt/gt agent-report --hook status-line --tee | ~/bin/my-line --short"
        );
        assert_eq!(v["statusLine"]["padding"], 2);
        // Not a command, empty, or with control characters: gt's line alone.
        for other in [
            json!({}),
            json!({ "statusLine": { "type": "static", "command": "x" } }),
            json!({ "statusLine": { "type": "command", "command": "  " } }),
            json!({ "statusLine": { "type": "command", "command": "a\nb" } }),
            json!({ "statusLine": { "type": "command", "command": 7 } }),
        ] {
            assert_eq!(parse_user_status_line(&other), None, "{other}");
        }
    }

    #[test]
    fn hooks_claude_settings_match_the_documented_schema() {
        let v = claude_settings("/opt/my gt/gt", None);
        assert_eq!(v["skipDangerousModePermissionPrompt"], true);
        assert_eq!(v["statusLine"]["type"], "command");
        assert_eq!(
            v["statusLine"]["command"],
            "'/opt/my gt/gt' agent-report --hook status-line"
        );
        let hooks = v["hooks"].as_object().unwrap();
        // Only documented event names.
        for k in hooks.keys() {
            assert!(
                [
                    "SessionStart",
                    "SessionEnd",
                    "UserPromptSubmit",
                    "Stop",
                    "StopFailure",
                    "Notification"
                ]
                .contains(&k.as_str()),
                "{k}"
            );
        }
        for (event, groups) in hooks {
            for g in groups.as_array().unwrap() {
                let obj = g.as_object().unwrap();
                for k in obj.keys() {
                    assert!(["matcher", "hooks"].contains(&k.as_str()), "{event}: {k}");
                }
                if let Some(m) = obj.get("matcher") {
                    assert!(m.is_string());
                }
                for h in g["hooks"].as_array().unwrap() {
                    assert_eq!(h["type"], "command", "{event}");
                    let c = h["command"].as_str().unwrap();
                    // The path with a space is quoted for the shell.
                    assert!(c.starts_with("'/opt/my gt/gt' "), "{c}");
                    assert!(h["timeout"].as_u64().unwrap() > 0);
                }
            }
        }
        let cmds = |e: &str| -> Vec<String> {
            hooks[e]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|g| g["hooks"].as_array().unwrap().clone())
                .map(|h| h["command"].as_str().unwrap().to_string())
                .collect()
        };
        assert!(cmds("SessionStart")[0].ends_with(" prime"));
        assert!(cmds("SessionStart")[1].ends_with(" agent-report --hook session-start"));
        assert!(cmds("Stop")[1].ends_with(" agent-report --hook stop"));
        assert!(cmds("SessionEnd")[0].ends_with(" agent-report --hook session-end"));
        assert!(cmds("UserPromptSubmit")
            .iter()
            .any(|c| c.ends_with(" mail check --inject")));
        assert!(cmds("Stop")[0].ends_with("agent-report --state idle"));
        assert!(cmds("Notification")
            .iter()
            .any(|c| c.ends_with("--state waiting-for-input")));
        let failures = hooks["StopFailure"].as_array().unwrap();
        assert_eq!(failures[0]["matcher"], "rate_limit");
        assert!(failures[0]["hooks"][0]["command"]
            .as_str()
            .unwrap()
            .ends_with("--state rate-limited"));
        assert!(failures[1]["matcher"]
            .as_str()
            .unwrap()
            .split('|')
            .any(|m| m == "server_error"));
        assert!(failures[1]["hooks"][0]["command"]
            .as_str()
            .unwrap()
            .ends_with("--state error"));
        let sm = hooks["SessionStart"][0]["matcher"].as_str().unwrap();
        for s in sm.split('|') {
            assert!(["startup", "resume", "clear", "compact"].contains(&s));
        }
    }

    #[test]
    fn hooks_screen_state() {
        assert_eq!(screen_state("a\n> x", "a\n> x", Some("> x")), "idle");
        assert_eq!(screen_state("a", "a\n> x", Some("> x")), "working");
        assert_eq!(screen_state("b\n> x", "a\n> x", Some("> x")), "working");
        assert_eq!(
            screen_state("", "Proceed? (y/n)", None),
            "waiting-for-input"
        );
        assert_eq!(screen_state("x", "x", None), "working");
        assert!(validate_state("idle").is_ok());
        assert!(validate_state("sleeping").is_err());
    }
}
