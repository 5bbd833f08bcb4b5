//! The last screen of a session whose pane is gone.
//!
//! When gt sees an agent's pane dead (it exited at once, or later without
//! `gt done`), gives up on a start that never became ready, or stops it with
//! `gt down --all`, it captures the pane before the tmux session is killed and
//! keeps it in `<town>/.gt/run/screens/<session id>.json`. `gt peek` shows it
//! once the pane is gone, `gt agents` shows its last line, and a failed sling
//! names its last line in the error.
//!
//! The screen is the agent's own output: it is kept as text (at most
//! [`KEPT_LINES`] lines), only ever shown through the same escaping as a live
//! screen, and never parsed. The screens of the newest [`KEPT_SESSIONS`]
//! sessions are kept; older files are removed when a new one is written.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::session::Session;
use crate::workspace::Workspace;

/// Lines of a pane captured for keeping.
pub const KEPT_LINES: usize = 200;
/// How many sessions' screens are kept.
pub const KEPT_SESSIONS: i64 = 500;

/// One kept screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptScreen {
    pub session: i64,
    /// `rig/polecat`.
    pub agent: String,
    pub bead: String,
    /// The tmux session it was captured from.
    pub tmux_session: String,
    /// Why it was kept, e.g. `exited with code 1`.
    pub why: String,
    /// When it was captured.
    pub captured_at: String,
    pub screen: String,
}

impl KeptScreen {
    /// The last non-empty line of the screen, trimmed.
    pub fn last_line(&self) -> Option<&str> {
        last_line(&self.screen)
    }
}

/// The last non-empty line the agent wrote on `screen`, trimmed (tmux's own
/// `Pane is dead (status N, …)` notice is not the agent's).
pub fn last_line(screen: &str) -> Option<&str> {
    screen
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty() && !is_tmux_notice(l))
}

/// tmux's line under a dead pane (`remain-on-exit`).
fn is_tmux_notice(line: &str) -> bool {
    line.starts_with("Pane is dead (")
}

/// `screen` without tmux's dead-pane notice and trailing blank lines.
pub fn agent_text(screen: &str) -> String {
    let mut lines: Vec<&str> = screen.lines().collect();
    while let Some(l) = lines.last() {
        if l.trim().is_empty() || is_tmux_notice(l.trim()) {
            lines.pop();
        } else {
            break;
        }
    }
    lines.join("\n")
}

fn dir(ws: &Workspace) -> PathBuf {
    ws.town.state_dir().join("run").join("screens")
}

fn path(ws: &Workspace, session: i64) -> PathBuf {
    dir(ws).join(format!("{session}.json"))
}

/// Captures the pane of `s` and keeps it. Best effort: a pane that cannot be
/// captured or a file that cannot be written keeps nothing (the caller is
/// already handling a failure; this must not add one).
pub fn keep(ws: &Workspace, s: &Session, why: &str) -> Option<KeptScreen> {
    let screen = ws
        .host
        .tmux
        .capture_pane(&s.tmux_session, KEPT_LINES)
        .ok()?;
    keep_text(ws, s, why, agent_text(&screen))
}

/// Keeps `screen` as the last screen of `s`.
pub fn keep_text(ws: &Workspace, s: &Session, why: &str, screen: String) -> Option<KeptScreen> {
    let kept = KeptScreen {
        session: s.id,
        agent: s.agent(),
        bead: s.bead.clone(),
        tmux_session: s.tmux_session.clone(),
        why: why.to_string(),
        captured_at: crate::clock::format_ts(ws.town.clock().now()),
        screen,
    };
    let file = path(ws, s.id);
    std::fs::create_dir_all(dir(ws)).ok()?;
    let tmp = file.with_extension("json.tmp");
    let text = serde_json::to_vec(&kept).ok()?;
    std::fs::write(&tmp, text).ok()?;
    std::fs::rename(&tmp, &file).ok()?;
    prune(ws, s.id);
    Some(kept)
}

/// The kept screen of session `id`, if there is one.
pub fn kept(ws: &Workspace, id: i64) -> Option<KeptScreen> {
    let file = path(ws, id);
    let meta = std::fs::symlink_metadata(&file).ok()?;
    // Only a regular file gt wrote; never follow a link, never read a huge one.
    if !meta.is_file() || meta.len() > 4 << 20 {
        return None;
    }
    let kept: KeptScreen = serde_json::from_slice(&std::fs::read(&file).ok()?).ok()?;
    (kept.session == id).then_some(kept)
}

/// Forgets the kept screen of session `id` (a new session with a reused id
/// must not show an old screen).
pub fn forget(ws: &Workspace, id: i64) {
    let _ = std::fs::remove_file(path(ws, id));
}

/// Removes the screens of sessions older than the newest [`KEPT_SESSIONS`].
fn prune(ws: &Workspace, newest: i64) {
    let Ok(entries) = std::fs::read_dir(dir(ws)) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(id) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".json"))
            .and_then(|n| n.parse::<i64>().ok())
        else {
            continue;
        };
        if id <= newest - KEPT_SESSIONS {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_line_skips_blank_lines_and_the_tmux_notice() {
        assert_eq!(last_line("a\n  b  \n\n   \n"), Some("b"));
        let dead = "out\nfatal: x\n\nPane is dead (status 3, Wed Dec  2 01:05:42 2026)\n";
        assert_eq!(last_line(dead), Some("fatal: x"));
        assert_eq!(agent_text(dead), "out\nfatal: x");
        assert_eq!(last_line("\n \n"), None);
        assert_eq!(last_line(""), None);
    }
}
