//! Nudges: text typed into a live agent's terminal, then Enter.
//!
//! The text goes through tmux's literal input (`send-keys -l`, chunked; see
//! [`crate::tmux`]), so it is never read as key names (`C-c`, `Enter`),
//! formats (`#{…}`), options or shell syntax. Control characters are removed
//! (newlines and tabs become spaces, so a nudge is always one submitted line),
//! and text longer than [`MAX_BYTES`] is refused. Nudges to one agent are
//! serialized across processes by a file lock, so their text never
//! interleaves.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::mail::{parse, Address, Mail, Priority};
use crate::runtime::Runtime;
use crate::store::mail::MailStore;
use crate::store::{RigStore, SessionFilter, WorkStore};
use crate::workspace::Workspace;

/// Stable event kinds of nudges.
pub mod kind {
    pub const DELIVERED: &str = crate::event::EventKind::NudgeDelivered.as_str();
    pub const QUEUED: &str = crate::event::EventKind::NudgeQueued.as_str();
}

/// Largest nudge, in bytes (before control characters are removed).
pub const MAX_BYTES: usize = 8 * 1024;
/// How long `wait-idle` waits for the agent to be idle before queueing.
pub const WAIT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Time between two screen observations.
const OBSERVE_EVERY: Duration = Duration::from_millis(150);

/// How a nudge is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Typed now.
    Immediate,
    /// Typed once the agent is idle (its ready pattern seen on two
    /// consecutive observations, or an `idle` state reported by its hooks),
    /// else queued after [`WAIT_IDLE_TIMEOUT`]. For a runtime without a ready
    /// pattern and without hooks this is `Immediate`. Whatever the runtime,
    /// a screen showing a dialog or menu is never typed into: queued.
    WaitIdle,
    /// Stored, delivered at the agent's next idle moment (`gt mail check`,
    /// the runtime hook).
    Queue,
}

impl std::str::FromStr for Mode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "immediate" => Ok(Mode::Immediate),
            "wait-idle" => Ok(Mode::WaitIdle),
            "queue" => Ok(Mode::Queue),
            _ => Err(Error::invalid(format!(
                "unknown nudge mode '{}': use immediate, wait-idle or queue",
                s.escape_debug()
            ))),
        }
    }
}

/// What happened to a nudge.
#[derive(Debug, Clone, Serialize)]
pub struct NudgeOutcome {
    pub agent: String,
    /// `delivered`, `queued` or `mailed` (`--or-mail` on a dead agent).
    pub status: String,
    /// Id of the queued nudge or of the mail, when not delivered.
    pub id: Option<i64>,
    /// Bytes typed (after control characters were removed).
    pub bytes: usize,
    pub waited_ms: u64,
    /// The other host of the town whose daemon delivers this queued nudge
    /// (the agent runs there); absent when it runs here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// The other host that runs `agent`'s open session, if it runs elsewhere.
fn remote_host(ws: &Workspace, rig: &str, name: &str) -> Result<Option<String>> {
    Ok(ws
        .store
        .last_session(rig, name)?
        .filter(|s| s.is_open() && !ws.runs_here(s))
        .and_then(|s| s.host))
}

/// The text that will be typed: control characters removed (newlines and
/// tabs become spaces). Refuses more than [`MAX_BYTES`] and empty text.
pub fn sanitize(message: &str) -> Result<String> {
    if message.len() > MAX_BYTES {
        return Err(Error::invalid(format!(
            "the nudge is {} bytes; the limit is {MAX_BYTES} (8 KiB): send mail for longer text",
            message.len()
        )));
    }
    let text: String = message
        .chars()
        .filter_map(|c| match c {
            '\n' | '\r' | '\t' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect();
    if text.trim().is_empty() {
        return Err(Error::invalid("the nudge is empty"));
    }
    Ok(text)
}

/// A live agent: its address, tmux session and runtime.
struct Target {
    agent: String,
    session: String,
    runtime: Option<Runtime>,
}

/// Resolves `agent` to a polecat; `live` requires its session to run.
fn target(ws: &Workspace, agent: &str, live: bool) -> Result<Target> {
    let (rig, name) = match parse(agent)? {
        Address::Polecat { rig, name } => (rig, name),
        other => {
            return Err(Error::refused(format!(
                "{other} has no terminal to nudge: nudge an agent RIG/POLECAT, or send mail"
            )))
        }
    };
    ws.store.get_polecat(&rig, &name)?;
    let agent = format!("{rig}/{name}");
    let session = Workspace::session_name(&rig, &name);
    if live {
        let alive = matches!(ws.host.tmux.session_info(&session)?, Some(i) if !i.pane_dead);
        if !alive {
            return Err(Error::refused(format!(
                "{agent} has no live session (use --or-mail to send it as mail)"
            )));
        }
    }
    let runtime = crate::sling::last_runtime(ws, &rig, &name)?;
    Ok(Target {
        agent,
        session,
        runtime,
    })
}

fn lock(ws: &Workspace, agent: &str) -> Result<crate::workspace::RigLock> {
    ws.lock(&format!("nudge-{}", agent.replace('/', "~")))
}

/// Types `text` and Enter under the agent's lock.
fn type_in(ws: &Workspace, session: &str, agent: &str, text: &str) -> Result<()> {
    let _guard = lock(ws, agent)?;
    ws.submit_text(session, text)
}

/// Whether the agent's screen shows its ready pattern near the bottom.
/// The screen, when the one classifier reads it as at the prompt (ready
/// text up, nothing busy, no dialog or menu: nothing is ever typed into a
/// dialog).
fn at_prompt(ws: &Workspace, session: &str, runtime: &Runtime) -> Result<Option<String>> {
    let screen = ws.host.tmux.capture_pane(session, 10)?;
    let state = crate::screen::classify(&screen, &crate::screen::Patterns::for_runtime(runtime));
    Ok((state == crate::screen::ScreenState::Idle).then_some(screen))
}

/// Whether the agent's hooks last reported it idle.
fn hook_idle(ws: &Workspace, agent: &str) -> bool {
    ws.store
        .agent_state(agent)
        .ok()
        .flatten()
        .is_some_and(|s| s.source == "hook" && s.state == "idle")
}

/// The screen shows a dialog or a menu (the one classifier says so).
fn shows_dialog(ws: &Workspace, t: &Target) -> Result<bool> {
    let screen = ws.host.tmux.capture_pane(&t.session, 10)?;
    let patterns = crate::screen::Patterns::for_optional(t.runtime.as_ref());
    Ok(matches!(
        crate::screen::classify(&screen, &patterns),
        crate::screen::ScreenState::WaitingForInput { .. }
    ))
}

/// Waits until the agent is idle: `true` when it is, `false` at the timeout.
/// Idle = the hooks say so, or the screen classifier reads the prompt on two
/// consecutive observations of an unchanged screen.
fn wait_idle(ws: &Workspace, t: &Target, timeout: Duration) -> Result<bool> {
    let runtime = t.runtime.as_ref().filter(|r| r.ready_pattern.is_some());
    let deadline = Instant::now() + timeout;
    let mut last: Option<String> = None;
    loop {
        if hook_idle(ws, &t.agent) {
            return Ok(true);
        }
        if let Some(r) = runtime {
            let screen = at_prompt(ws, &t.session, r)?;
            if screen.is_some() && last == screen {
                return Ok(true);
            }
            last = screen;
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        std::thread::sleep(OBSERVE_EVERY);
    }
}

/// Types `message` into the agent's live session (mode semantics above).
/// Err(Refused/NotFound) for dead/unknown agents.
pub fn nudge(
    ws: &Workspace,
    agent: &str,
    message: &str,
    mode: Mode,
    actor: &str,
) -> Result<NudgeOutcome> {
    nudge_with(ws, agent, message, mode, WAIT_IDLE_TIMEOUT, actor)
}

/// [`nudge`] with an explicit wait-idle timeout.
pub fn nudge_with(
    ws: &Workspace,
    agent: &str,
    message: &str,
    mode: Mode,
    timeout: Duration,
    actor: &str,
) -> Result<NudgeOutcome> {
    let text = sanitize(message)?;
    let from = crate::mail::caller(ws, None).unwrap_or_else(|_| "human".into());
    let started = Instant::now();
    let queue_for = |t: &Target, host: Option<String>| -> Result<NudgeOutcome> {
        let q = ws.store.queue_nudge(&t.agent, &from, &text, actor)?;
        Ok(NudgeOutcome {
            agent: t.agent.clone(),
            status: "queued".into(),
            id: Some(q.id),
            bytes: text.len(),
            waited_ms: started.elapsed().as_millis() as u64,
            host,
        })
    };
    let queue = |t: &Target| queue_for(t, None);
    if mode == Mode::Queue {
        let t = target(ws, agent, false)?;
        return queue(&t);
    }
    // An agent on another host: the store carries the nudge to its host's
    // daemon, which delivers it when the agent is idle (never into a dialog).
    if let Ok(Address::Polecat { rig, name }) = parse(agent) {
        if let Some(host) = remote_host(ws, &rig, &name)? {
            let t = target(ws, agent, false)?;
            return queue_for(&t, Some(host));
        }
    }
    let t = target(ws, agent, true)?;
    let can_wait = t
        .runtime
        .as_ref()
        .is_some_and(|r| r.ready_pattern.is_some())
        || ws
            .store
            .agent_state(&t.agent)?
            .is_some_and(|s| s.source == "hook");
    if mode == Mode::WaitIdle && can_wait && !wait_idle(ws, &t, timeout)? {
        return queue(&t);
    }
    // Whatever the runtime: a dialog or menu on screen is never typed into
    // (Enter would pick its default); the nudge waits in the queue.
    if mode == Mode::WaitIdle && shows_dialog(ws, &t)? {
        return queue(&t);
    }
    type_in(ws, &t.session, &t.agent, &text)?;
    ws.store.record_nudge(&t.agent, &from, &text, actor)?;
    Ok(NudgeOutcome {
        agent: t.agent,
        status: "delivered".into(),
        id: None,
        bytes: text.len(),
        waited_ms: started.elapsed().as_millis() as u64,
        host: None,
    })
}

/// [`nudge`], but a dead agent gets the text as mail instead (`--or-mail`).
pub fn nudge_or_mail(
    ws: &Workspace,
    agent: &str,
    message: &str,
    mode: Mode,
    actor: &str,
) -> Result<NudgeOutcome> {
    match nudge(ws, agent, message, mode, actor) {
        Err(Error::Refused(_)) => {
            let from = crate::mail::caller(ws, None)?;
            let subject: String = sanitize(message)?.chars().take(60).collect();
            let m = crate::mail::send(
                ws,
                &from,
                &[agent.to_string()],
                &format!("nudge: {subject}"),
                message,
                Priority::High,
                actor,
            )?;
            Ok(NudgeOutcome {
                agent: agent.to_string(),
                status: "mailed".into(),
                id: Some(m.id),
                bytes: 0,
                waited_ms: 0,
                host: None,
            })
        }
        other => other,
    }
}

/// `gt broadcast`: nudges every live agent (of `rig`). Agents that cannot be
/// reached are reported, not fatal.
pub fn broadcast(
    ws: &Workspace,
    rig: Option<&str>,
    message: &str,
    actor: &str,
) -> Result<Vec<std::result::Result<NudgeOutcome, (String, String)>>> {
    sanitize(message)?;
    if let Some(r) = rig {
        ws.store.get_rig(r)?;
    }
    let live: Vec<String> = ws
        .host
        .tmux
        .list_sessions()?
        .into_iter()
        .filter(|s| !s.pane_dead)
        .map(|s| s.name)
        .collect();
    let mut out = Vec::new();
    for p in ws.store.list_polecats(rig)? {
        if !live.contains(&Workspace::session_name(&p.rig, &p.name)) {
            continue;
        }
        let agent = p.address();
        out.push(
            nudge(ws, &agent, message, Mode::Immediate, actor).map_err(|e| (agent, e.to_string())),
        );
    }
    Ok(out)
}

/// After mail to `recipient` is stored: if it is a polecat idle at its prompt
/// (hooks say idle, or its ready pattern is on screen on two observations),
/// type a one-line notice once. Best effort: errors are ignored.
pub fn notify_mail(ws: &Workspace, recipient: &str, mail: &Mail) {
    let Ok(Address::Polecat { rig, name }) = parse(recipient) else {
        return;
    };
    // Only agents with an open session can be at a prompt (cheap check first).
    let open = ws
        .store
        .list_sessions(&SessionFilter {
            open_only: true,
            rig: Some(&rig),
            polecat: Some(&name),
            limit: Some(1),
            ..Default::default()
        })
        .ok()
        .and_then(|mut v| v.pop());
    // An agent on another host reads its mail there (its prompt hook or
    // `gt mail check`); nothing here to type into.
    let Some(s) = open.filter(|s| ws.runs_here(s)) else {
        return;
    };
    let idle = if hook_idle(ws, recipient) {
        true
    } else if let Some(r) = ws
        .town
        .config
        .runtime(&s.runtime)
        .ok()
        .filter(|r| r.ready_pattern.is_some())
    {
        let ready = || matches!(at_prompt(ws, &s.tmux_session, &r), Ok(Some(_)));
        ready() && {
            std::thread::sleep(OBSERVE_EVERY);
            ready()
        }
    } else {
        false
    };
    if !idle {
        return;
    }
    let subject: String = mail
        .subject
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(100)
        .collect();
    let notice = format!(
        "you have mail from {}: {} — run gt mail inbox",
        mail.from, subject
    );
    let _ = type_in(ws, &s.tmux_session, recipient, &notice);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nudge_sanitize_strips_controls_and_caps() {
        assert_eq!(sanitize("a\x1b[31mb\x07c").unwrap(), "a[31mbc");
        assert_eq!(sanitize("l1\nl2\tx\r").unwrap(), "l1 l2 x ");
        assert_eq!(
            sanitize("C-c #{pane_id} $(x)").unwrap(),
            "C-c #{pane_id} $(x)"
        );
        assert_eq!(sanitize("日本 🚀").unwrap(), "日本 🚀");
        assert!(sanitize(&"x".repeat(MAX_BYTES)).is_ok());
        let e = sanitize(&"x".repeat(MAX_BYTES + 1))
            .unwrap_err()
            .to_string();
        assert!(e.contains("8 KiB"), "{e}");
        assert!(sanitize("\x01\x02").is_err());
        assert!(sanitize("").is_err());
        assert_eq!("wait-idle".parse::<Mode>().unwrap(), Mode::WaitIdle);
        assert!("now".parse::<Mode>().is_err());
    }
}
