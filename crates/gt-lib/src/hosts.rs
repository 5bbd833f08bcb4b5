//! The hosts of a town, as services: this host's registration, its daemon's
//! epoch (up, heartbeat, down), declaring stale hosts dead and giving their
//! work back to the queue, where a sling places work, and the `gt host list`
//! view. The rules are `gt_core::rules::host`.

use serde::Serialize;
use serde_json::json;

use crate::clock::format_ts;
use crate::error::{Error, Result};
use crate::store::{HostStore, SessionFilter, WorkStore};
use crate::workspace::Workspace;
use gt_core::host::{refinery_lease, Host};

pub use gt_core::host::{host_name_from, parse_capacity, validate_host_name, HostState};

/// Why the sessions of a host declared dead were ended.
pub const HOST_DEAD: &str = "host_dead";

/// The cut for staleness: now − `host.dead_after`.
pub fn stale_before(ws: &Workspace) -> String {
    format_ts(ws.town.clock().now() - ws.town.config.host.dead_after())
}

/// This host as stored, recorded first if the town predates hosts.
pub fn this_host(ws: &Workspace, actor: &str) -> Result<Host> {
    let name = ws.town.host_name();
    match ws.store.get_host(name) {
        Err(Error::NotFound { .. }) => ws.store.add_host(name, None, actor),
        other => other,
    }
}

/// This host's daemon starts: `up` with a new epoch.
pub fn come_up(ws: &Workspace, actor: &str) -> Result<Host> {
    this_host(ws, actor)?;
    ws.store.host_up(ws.town.host_name(), actor)
}

/// Every host in a town, with what readers need.
#[derive(Debug, Clone, Serialize)]
pub struct HostView {
    pub name: String,
    /// `up`, `down` or `dead`: an up host whose heartbeat is older than
    /// `host.dead_after` shows `dead` before any daemon records it.
    pub state: HostState,
    /// Agents it may run at once; `null` is unlimited.
    pub capacity: Option<u32>,
    /// Open agent sessions it runs.
    pub agents: usize,
    pub epoch: i64,
    pub heartbeat_at: Option<String>,
    pub joined_at: String,
    /// The host this command runs on.
    pub this: bool,
}

/// Every host, by name.
pub fn list(ws: &Workspace) -> Result<Vec<HostView>> {
    let cut = stale_before(ws);
    let open = ws.store.list_sessions(&SessionFilter {
        open_only: true,
        ..Default::default()
    })?;
    let here = ws.town.host_name();
    let mut hosts = ws.store.list_hosts()?;
    if !hosts.iter().any(|h| h.name == here) {
        // A town from before hosts: this host, not recorded yet.
        hosts.push(Host {
            name: here.to_string(),
            capacity: None,
            state: HostState::Down,
            epoch: 0,
            heartbeat_at: None,
            joined_at: String::new(),
            state_at: String::new(),
        });
        hosts.sort_by(|a, b| a.name.cmp(&b.name));
    }
    Ok(hosts
        .into_iter()
        .map(|h| HostView {
            agents: open
                .iter()
                .filter(|s| s.host.as_deref().unwrap_or(here) == h.name)
                .count(),
            state: h.observed_state(&cut),
            this: h.name == here,
            name: h.name,
            capacity: h.capacity,
            epoch: h.epoch,
            heartbeat_at: h.heartbeat_at,
            joined_at: h.joined_at,
        })
        .collect())
}

/// Where a sling puts work that cannot start on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// Start it here, now.
    Here,
    /// Queue it for that host's daemon (it has free places, or was asked for).
    Host(String),
    /// Queue it for whichever host frees a place first.
    AnyHost,
}

/// Free places on each up host other than this one, by most free first
/// (then name). `None` is unlimited.
fn free_elsewhere(ws: &Workspace) -> Result<Vec<(String, Option<usize>)>> {
    let here = ws.town.host_name();
    let mut out: Vec<(String, Option<usize>)> = list(ws)?
        .into_iter()
        .filter(|h| h.name != here && h.state == HostState::Up)
        .map(|h| {
            (
                h.name,
                h.capacity.map(|c| (c as usize).saturating_sub(h.agents)),
            )
        })
        .filter(|(_, free)| *free != Some(0))
        .collect();
    out.sort_by(|a, b| {
        let key = |f: &Option<usize>| std::cmp::Reverse(f.unwrap_or(usize::MAX));
        key(&a.1).cmp(&key(&b.1)).then_with(|| a.0.cmp(&b.0))
    });
    Ok(out)
}

/// `gt sling --host NAME`: a host of the town that is not dead (this host
/// is always fine). Checked before a sling writes anything.
pub fn check_requested(ws: &Workspace, h: &str) -> Result<()> {
    validate_host_name(h)?;
    if h == ws.town.host_name() {
        return Ok(());
    }
    let host = ws.store.get_host(h)?;
    if host.observed_state(&stale_before(ws)) == HostState::Dead {
        return Err(Error::refused(format!(
            "host {h} is dead (no heartbeat since {}); choose another --host",
            host.heartbeat_at.as_deref().unwrap_or("it joined")
        )));
    }
    Ok(())
}

/// Where a sling places a bead. `requested` is `--host`; `full_here` says
/// this host (or the town) has no free place.
pub fn place(ws: &Workspace, requested: Option<&str>, full_here: bool) -> Result<Placement> {
    let here = ws.town.host_name();
    if let Some(h) = requested {
        check_requested(ws, h)?;
        if h != here {
            return Ok(Placement::Host(h.to_string()));
        }
        return Ok(if full_here {
            Placement::Host(here.to_string())
        } else {
            Placement::Here
        });
    }
    if !full_here {
        return Ok(Placement::Here);
    }
    Ok(match free_elsewhere(ws)?.into_iter().next() {
        Some((h, _)) => Placement::Host(h),
        None => Placement::AnyHost,
    })
}

/// The patrol's host step: refresh this host's heartbeat (fenced when the
/// town has moved on), then declare stale hosts dead and give their
/// sessions' beads back to the queue. Returns what it did, for the report.
pub fn patrol_step(ws: &Workspace, epoch: Option<i64>, actor: &str) -> Result<Vec<String>> {
    let mut actions = Vec::new();
    if let Some(epoch) = epoch {
        ws.store.host_heartbeat(ws.town.host_name(), epoch)?;
    }
    // A town without a shared store has no other host to declare dead.
    if !ws.town.is_shared() {
        return Ok(actions);
    }
    // A read first: most patrols find no stale host and write nothing.
    let cut = stale_before(ws);
    if !ws.store.list_hosts()?.iter().any(|h| h.is_stale(&cut)) {
        return Ok(actions);
    }
    for dead in ws.store.declare_dead_hosts(&cut, actor)? {
        actions.push(format!("host {} declared dead", dead.name));
        actions.extend(release_host_work(ws, &dead.name, actor)?);
    }
    Ok(actions)
}

/// Ends the open sessions of dead host `host` and queues their beads for
/// any host (the bead's rig kept), so other hosts take the work: each in one
/// transaction, so a crash between the two never leaves a bead given back
/// but queued for no one.
pub fn release_host_work(ws: &Workspace, host: &str, actor: &str) -> Result<Vec<String>> {
    let open = ws.store.list_sessions(&SessionFilter {
        open_only: true,
        host: Some(host),
        ..Default::default()
    })?;
    let mut out = Vec::new();
    for s in open {
        let note = format!("host {host} was declared dead");
        let queue = crate::scheduler::queue_patch(&s.rig, Some(&s.runtime), None);
        let queued = ws
            .store
            .release_and_queue(s.id, HOST_DEAD, Some(&note), &queue, actor)?;
        out.push(if queued {
            format!(
                "{} of {} queued again (host {host} dead)",
                s.bead,
                s.agent()
            )
        } else {
            format!(
                "{} of {} released (host {host} dead; it had moved on)",
                s.bead,
                s.agent()
            )
        });
    }
    Ok(out)
}

/// This host's daemon stops on purpose.
pub fn go_down(ws: &Workspace, epoch: i64, actor: &str) -> Result<Host> {
    ws.store.host_down(ws.town.host_name(), epoch, actor)
}

/// `gt host set-capacity`.
pub fn set_capacity(
    ws: &Workspace,
    name: &str,
    capacity: Option<u32>,
    actor: &str,
) -> Result<Host> {
    validate_host_name(name)?;
    ws.store.set_host_capacity(name, capacity, actor)
}

/// The JSON `gt join` and `gt init --host` print about this host.
pub fn joined_json(ws: &Workspace) -> Result<serde_json::Value> {
    let h = this_host(ws, "gt")?;
    Ok(json!({ "host": h.name, "capacity": h.capacity, "state": h.state }))
}

/// Beads queued for `host` (metadata `queue_host`): its dispatch takes
/// them, and untargeted ones; another host takes them only once `host` is
/// dead.
pub fn queued_for_elsewhere(ws: &Workspace, bead: &gt_core::bead::Bead) -> Result<bool> {
    let Some(target) = bead
        .metadata
        .get(crate::scheduler::META_HOST)
        .and_then(|v| v.as_str())
    else {
        return Ok(false);
    };
    if target == ws.town.host_name() {
        return Ok(false);
    }
    match ws.store.get_host(target) {
        Ok(h) => Ok(h.observed_state(&stale_before(ws)) != HostState::Dead),
        Err(Error::NotFound { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// After this host was fenced: every tmux session here whose latest
/// recorded session is no longer open on this host (it was given to
/// another host) is ended: its screen kept, its uncommitted work committed
/// on its branch (a WIP commit: nothing is lost), then killed. Returns one
/// line per session, for the log.
pub fn end_fenced_sessions(ws: &Workspace) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(tmux) = ws.host.tmux.list_sessions() else {
        return out;
    };
    let Ok(polecats) = crate::store::RigStore::list_polecats(&ws.store, None) else {
        return out;
    };
    for t in tmux {
        let Some(p) = polecats
            .iter()
            .find(|p| Workspace::session_name(&p.rig, &p.name) == t.name)
        else {
            continue;
        };
        let last = ws.store.last_session(&p.rig, &p.name).ok().flatten();
        let still_ours = last
            .as_ref()
            .is_some_and(|s| s.is_open() && ws.runs_here(s));
        if still_ours {
            continue;
        }
        if let Some(s) = &last {
            crate::screens::keep(ws, s, "ended: this host was fenced");
        }
        let wt = ws.worktree(&p.rig, &p.name);
        let saved = (|| -> Result<bool> {
            if wt.join(".git").exists() && crate::sling::own_worktree_dirty(ws, &wt)? {
                let msg = format!(
                    "WIP: saved when host {} was fenced ({})",
                    ws.town.host_name(),
                    p.address()
                );
                return Ok(ws.host.git.commit_all(&wt, &msg)?.is_some());
            }
            Ok(false)
        })();
        let _ = ws.host.tmux.kill_session(&t.name);
        out.push(match saved {
            Ok(true) => format!("{} ended, its work committed", p.address()),
            Ok(false) => format!("{} ended", p.address()),
            Err(e) => format!("{} ended, work not saved: {e}", p.address()),
        });
    }
    out
}

/// Whether the town has more than one host: then code moves between them
/// through each rig's upstream (polecat branches are pushed at `gt done`,
/// the refinery fetches the ones it lacks).
pub fn shares_code(ws: &Workspace) -> Result<bool> {
    // A town without a shared store has one host: nothing to read.
    if !ws.town.is_shared() {
        return Ok(false);
    }
    Ok(ws.store.list_hosts()?.len() > 1)
}

/// Takes (or renews) the lease of `rig`'s refinery for this host, until
/// `host.dead_after` from now: `None` when this host holds it, else the
/// host that does (its refinery runs there, not here).
pub fn refinery_here(ws: &Workspace, rig: &str, actor: &str) -> Result<Option<String>> {
    let now = ws.town.clock().now();
    let ttl = ws.town.config.host.dead_after();
    let name = refinery_lease(rig);
    // Held here with more than half its time left: renewing would be a
    // write (and a sync to disk) on every refinery run for nothing.
    let held_here = ws
        .store
        .list_leases()?
        .into_iter()
        .find(|l| l.name == name && l.holder == ws.town.host_name());
    if held_here
        .is_some_and(|l| crate::clock::parse_ts(&l.expires_at).is_ok_and(|t| t > now + ttl / 2))
    {
        return Ok(None);
    }
    let until = format_ts(now + ttl);
    match ws
        .store
        .take_lease(&name, ws.town.host_name(), &until, actor)
    {
        Ok(_) => Ok(None),
        Err(Error::Refused(_)) => Ok(ws
            .store
            .list_leases()?
            .into_iter()
            .find(|l| l.name == name)
            .map(|l| l.holder)
            .or_else(|| Some("another host".to_string()))),
        Err(e) => Err(e),
    }
}

/// This host gives up every lease it holds (its daemon stops), so another
/// host's refinery takes over at once instead of after `host.dead_after`.
pub fn release_leases(ws: &Workspace) -> Result<()> {
    let here = ws.town.host_name();
    for l in ws.store.list_leases()? {
        if l.holder == here {
            ws.store.release_lease(&l.name, here)?;
        }
    }
    Ok(())
}
