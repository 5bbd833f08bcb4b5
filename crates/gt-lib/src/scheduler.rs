//! The capacity scheduler: with `scheduler.max_polecats` set, `gt sling`
//! queues beads (status `queued`) instead of starting them when the town is at
//! capacity, and the deacon dispatches queued beads as capacity frees, by
//! priority then age.

use serde::Serialize;
use serde_json::json;

use crate::bead::{BeadFilter, BeadPatch, Status};
use crate::error::Result;
use crate::sling::{SlingRequest, Slung};
use crate::store::deacon::DeaconStore;
use crate::store::BeadStore;
use crate::workspace::Workspace;

pub mod kind {
    pub const PAUSED: &str = crate::event::EventKind::SchedulerPaused.as_str();
    pub const RESUMED: &str = crate::event::EventKind::SchedulerResumed.as_str();
}

/// Metadata keys of a queued bead: where and with what to start it.
pub const META_RIG: &str = "queue_rig";
pub const META_AGENT: &str = "queue_agent";
/// The host whose daemon is to start it (absent: any host).
pub const META_HOST: &str = "queue_host";

/// How long a recorded session that has no tmux session yet counts as
/// starting (a sling between its hook and its tmux start) — the deacon's
/// grace for such sessions too.
pub const START_GRACE_SECS: i64 = 30;

/// Sessions that take a place: open and alive in tmux, or just hooked and
/// still starting (no tmux session yet, recorded less than
/// [`START_GRACE_SECS`] ago). Counting the starting ones is what keeps
/// parallel slings within `max_polecats`: the capacity check and the hook
/// happen inside one lock, the tmux start after it.
pub fn live_sessions(ws: &Workspace) -> Result<usize> {
    let open = ws.open_sessions_here(None)?;
    if open.is_empty() {
        return Ok(0);
    }
    let tmux = ws.host.tmux.list_sessions()?;
    let now = ws.town.clock().now();
    Ok(open
        .iter()
        .filter(|s| match tmux.iter().find(|t| t.name == s.tmux_session) {
            Some(t) => !t.pane_dead,
            None => {
                s.running_at.is_none()
                    && crate::clock::parse_ts(&s.started_at)
                        .is_ok_and(|t| (now - t).whole_seconds() < START_GRACE_SECS)
            }
        })
        .count())
}

/// Free places for new sessions on this host: the least of the town's
/// (`scheduler.max_polecats` less every host's open sessions) and this
/// host's capacity less its live sessions. `None` when unlimited.
pub fn free_places(ws: &Workspace) -> Result<Option<usize>> {
    let host_cap = match crate::store::HostStore::get_host(&ws.store, ws.town.host_name()) {
        Ok(h) => h.capacity,
        Err(crate::error::Error::NotFound { .. }) => None,
        Err(e) => return Err(e),
    };
    let max = ws.town.config.max_polecats();
    if max.is_none() && host_cap.is_none() {
        return Ok(None);
    }
    let here = live_sessions(ws)?;
    let town = match max {
        None => None,
        Some(max) => {
            let elsewhere = crate::store::WorkStore::list_sessions(
                &ws.store,
                &crate::store::SessionFilter {
                    open_only: true,
                    ..Default::default()
                },
            )?
            .iter()
            .filter(|s| !ws.runs_here(s))
            .count();
            Some((max as usize).saturating_sub(here + elsewhere))
        }
    };
    let host = host_cap.map(|c| (c as usize).saturating_sub(here));
    Ok(match (town, host) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    })
}

/// Puts a bead in the queue for `rig` (and the runtime to use), for any
/// host's daemon to start.
pub fn enqueue(
    ws: &Workspace,
    bead: &str,
    rig: &str,
    agent: Option<&str>,
    actor: &str,
) -> Result<()> {
    enqueue_for(ws, bead, rig, agent, None, actor)
}

/// [`enqueue`] for the daemon of `host` only (`None`: any host).
pub fn enqueue_for(
    ws: &Workspace,
    bead: &str,
    rig: &str,
    agent: Option<&str>,
    host: Option<&str>,
    actor: &str,
) -> Result<()> {
    ws.store
        .update_bead(bead, &queue_patch(rig, agent, host), actor)?;
    Ok(())
}

/// The change that queues a bead for `rig` (with runtime `agent`, for the
/// daemon of `host`; `None`: any): what [`enqueue_for`] writes, and what a
/// release that queues again writes in its own transaction.
pub fn queue_patch(rig: &str, agent: Option<&str>, host: Option<&str>) -> BeadPatch {
    let mut patch = BeadPatch {
        status: Some(Status::Queued),
        ..Default::default()
    };
    patch.metadata.insert(META_RIG.into(), json!(rig));
    patch.metadata.insert(META_AGENT.into(), json!(agent));
    patch.metadata.insert(META_HOST.into(), json!(host));
    patch
}

#[derive(Debug, Clone, Serialize)]
pub struct SchedulerStatus {
    pub max_polecats: Option<u32>,
    pub live: usize,
    pub queued: usize,
    pub paused: bool,
}

pub fn status(ws: &Workspace) -> Result<SchedulerStatus> {
    let queued = ws
        .store
        .list_beads(&BeadFilter {
            statuses: vec![Status::Queued],
            ..Default::default()
        })?
        .len();
    Ok(SchedulerStatus {
        max_polecats: ws.town.config.max_polecats(),
        live: live_sessions(ws)?,
        queued,
        paused: ws.store.deacon_state()?.scheduler_paused,
    })
}

/// What one dispatch round did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Dispatch {
    pub started: Vec<Slung>,
    /// Beads that could not start, with why (they stay queued).
    pub failed: Vec<(String, String)>,
}

/// Starts queued beads, by priority then age, while there is capacity.
pub fn dispatch(ws: &Workspace, actor: &str) -> Result<Dispatch> {
    dispatch_holding(ws, actor, &[])
}

/// Whether another host now runs `bead` (an open session there): its
/// dispatch won the race for the queued bead.
fn taken_elsewhere(ws: &Workspace, bead: &str) -> bool {
    ws.store
        .list_sessions(&crate::store::SessionFilter {
            open_only: true,
            bead: Some(bead),
            ..Default::default()
        })
        .is_ok_and(|open| open.iter().any(|s| !ws.runs_here(s)))
}

/// [`dispatch`], skipping beads whose runtime is in `held` (rate-limited).
pub fn dispatch_holding(ws: &Workspace, actor: &str, held: &[String]) -> Result<Dispatch> {
    let mut out = Dispatch::default();
    if ws.store.deacon_state()?.scheduler_paused {
        return Ok(out);
    }
    let queued = ws.store.list_beads(&BeadFilter {
        statuses: vec![Status::Queued],
        ..Default::default()
    })?;
    for bead in queued {
        // Another live host's work: its daemon starts it.
        if crate::hosts::queued_for_elsewhere(ws, &bead)? {
            continue;
        }
        // A step of a molecule waits until what it needs has landed.
        if ws.store.is_blocked(&bead.id)? {
            continue;
        }
        // Counted again before each start (another process may start work
        // meanwhile), but only for a bead that could start.
        if let Some(0) = free_places(ws)? {
            break;
        }
        let rig = bead
            .metadata
            .get(META_RIG)
            .and_then(|v| v.as_str())
            .map(str::to_string);
        let agent = bead
            .metadata
            .get(META_AGENT)
            .and_then(|v| v.as_str())
            .map(str::to_string);
        if !held.is_empty() {
            let rig_name = rig.as_deref().unwrap_or("").split('/').next().unwrap_or("");
            let runtime = crate::store::RigStore::get_rig(&ws.store, rig_name)
                .and_then(|r| crate::sling::select_runtime(ws, &r, agent.as_deref()))
                .map(|r| r.name)
                .ok();
            if runtime.is_some_and(|r| held.contains(&r)) {
                continue;
            }
        }
        let req = SlingRequest {
            work: vec![bead.id.clone()],
            rig,
            agent,
            force: false,
            cwd: ws.town.root().to_path_buf(),
            dispatching: true,
            convoy: None,
            host: None,
        };
        match crate::sling::sling(ws, &req, actor) {
            Ok(mut s) => out.started.append(&mut s),
            // Another host's dispatch took it meanwhile (it is no longer
            // queued): not a failure of this rig.
            Err(_) if taken_elsewhere(ws, &bead.id) => {}
            Err(e) => out.failed.push((bead.id.clone(), e.to_string())),
        }
    }
    Ok(out)
}
