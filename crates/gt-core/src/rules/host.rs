//! Rules for hosts: join, come up, heartbeat, go down, be declared dead,
//! change capacity. The epoch is the fencing token: it grows when a host comes
//! up, and every write a host's daemon makes in its name (heartbeat, down)
//! carries the epoch it came up with; a stale one is refused.

use serde_json::json;

use crate::error::{Error, Result};
use crate::event::{EventKind, NewEvent};
use crate::host::{validate_host_name, Host, HostState, Lease};

/// `gt init --host`/`gt join`: refused when a host of that name `exists`;
/// else the new host (down until its daemon starts, epoch 0) and its
/// `host.joined` event.
pub fn join(
    name: &str,
    capacity: Option<u32>,
    exists: bool,
    now: &str,
) -> Result<(Host, NewEvent)> {
    validate_host_name(name)?;
    if exists {
        return Err(Error::refused(format!(
            "host '{name}' is already part of this town; choose another --host name"
        )));
    }
    let host = Host {
        name: name.to_string(),
        capacity,
        state: HostState::Down,
        epoch: 0,
        heartbeat_at: None,
        joined_at: now.to_string(),
        state_at: now.to_string(),
    };
    let ev = NewEvent::new(
        EventKind::HostJoined.as_str(),
        format!("host {name} joined (capacity {})", capacity_text(capacity)),
    )
    .payload(json!({ "host": name, "capacity": capacity }));
    Ok((host, ev))
}

fn capacity_text(c: Option<u32>) -> String {
    c.map_or_else(|| "unlimited".to_string(), |n| n.to_string())
}

/// Its daemon starts: `up` with a new epoch (returned to the daemon, which
/// carries it on every later write) and a fresh heartbeat.
pub fn come_up(host: &mut Host, now: &str) -> NewEvent {
    let was = host.state;
    host.state = HostState::Up;
    host.epoch += 1;
    host.heartbeat_at = Some(now.to_string());
    host.state_at = now.to_string();
    NewEvent::new(
        EventKind::HostUp.as_str(),
        format!("host {} up (epoch {}, was {was})", host.name, host.epoch),
    )
    .payload(json!({ "host": host.name, "epoch": host.epoch, "was": was }))
}

/// Refuses a write by a daemon of `host` that came up with `epoch` when the
/// host has come up again since, or was declared dead: that daemon is fenced.
pub fn check_epoch(host: &Host, epoch: i64) -> Result<()> {
    if host.epoch != epoch {
        return Err(Error::refused(format!(
            "host {} is fenced: epoch {epoch} ended, it is at epoch {} now",
            host.name, host.epoch
        )));
    }
    if host.state != HostState::Up {
        return Err(Error::refused(format!(
            "host {} is fenced: it is {} (epoch {epoch}); its daemon must start again",
            host.name, host.state
        )));
    }
    Ok(())
}

/// A patrol's heartbeat (no event: heartbeats are not changes anyone reads
/// as history).
pub fn heartbeat(host: &mut Host, epoch: i64, now: &str) -> Result<()> {
    check_epoch(host, epoch)?;
    host.heartbeat_at = Some(now.to_string());
    Ok(())
}

/// Its daemon stops on purpose (`gt down`): `down`.
pub fn go_down(host: &mut Host, epoch: i64, now: &str) -> Result<NewEvent> {
    check_epoch(host, epoch)?;
    host.state = HostState::Down;
    host.state_at = now.to_string();
    Ok(NewEvent::new(
        EventKind::HostDown.as_str(),
        format!("host {} down (epoch {epoch})", host.name),
    )
    .payload(json!({ "host": host.name, "epoch": epoch })))
}

/// Another host's daemon finds `host` up with no heartbeat since
/// `stale_before`: `dead`, with the `host.dead` event; `None` when it is
/// not stale (or not up).
pub fn declare_dead(host: &mut Host, stale_before: &str, now: &str) -> Option<NewEvent> {
    if !host.is_stale(stale_before) {
        return None;
    }
    host.state = HostState::Dead;
    host.state_at = now.to_string();
    Some(
        NewEvent::new(
            EventKind::HostDead.as_str(),
            format!(
                "host {} declared dead (last heartbeat {}, epoch {})",
                host.name,
                host.heartbeat_at.as_deref().unwrap_or("never"),
                host.epoch
            ),
        )
        .payload(json!({
            "host": host.name,
            "epoch": host.epoch,
            "heartbeat_at": host.heartbeat_at,
        })),
    )
}

/// `gt host set-capacity`.
pub fn set_capacity(host: &mut Host, capacity: Option<u32>) -> NewEvent {
    host.capacity = capacity;
    NewEvent::new(
        EventKind::HostCapacity.as_str(),
        format!("host {} capacity = {}", host.name, capacity_text(capacity)),
    )
    .payload(json!({ "host": host.name, "capacity": capacity }))
}

/// `holder` takes or renews lease `name` until `expires_at`: refused while
/// another holder's lease is unexpired at `now`. A change of holder grows
/// the epoch and is a `lease.taken` event; a renewal is none.
pub fn take_lease(
    existing: Option<Lease>,
    name: &str,
    holder: &str,
    now: &str,
    expires_at: &str,
) -> Result<(Lease, Option<NewEvent>)> {
    match existing {
        Some(mut l) if l.holder == holder => {
            l.expires_at = expires_at.to_string();
            Ok((l, None))
        }
        Some(l) if l.is_held(now) => Err(Error::refused(format!(
            "{name} is held by host {} until {}",
            l.holder, l.expires_at
        ))),
        prev => {
            let from = prev.as_ref().map(|l| l.holder.clone());
            let lease = Lease {
                name: name.to_string(),
                holder: holder.to_string(),
                epoch: prev.map_or(1, |l| l.epoch + 1),
                taken_at: now.to_string(),
                expires_at: expires_at.to_string(),
            };
            let summary = match &from {
                Some(f) => format!(
                    "{name} taken by host {holder} from {f} (epoch {})",
                    lease.epoch
                ),
                None => format!("{name} taken by host {holder} (epoch {})", lease.epoch),
            };
            let ev = NewEvent::new(EventKind::LeaseTaken.as_str(), summary).payload(json!({
                "lease": name,
                "holder": holder,
                "epoch": lease.epoch,
                "from": from,
            }));
            Ok((lease, Some(ev)))
        }
    }
}

/// `holder` gives lease `l` up at `now` (it expires at once); `false` when
/// another host holds it (nothing changes).
pub fn release_lease(l: &mut Lease, holder: &str, now: &str) -> bool {
    if l.holder != holder {
        return false;
    }
    if l.expires_at.as_str() > now {
        l.expires_at = now.to_string();
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::fixtures::{assert_event, T0};

    const T1: &str = "2026-01-01T00:01:00.000Z";
    const T2: &str = "2026-01-01T00:02:00.000Z";

    fn joined() -> Host {
        join("a", Some(3), false, T0).unwrap().0
    }

    #[test]
    fn a_host_joins_down_at_epoch_zero_and_a_name_is_taken_once() {
        let (h, ev) = join("a", Some(3), false, T0).unwrap();
        assert_eq!(
            (h.state, h.epoch, h.heartbeat_at.as_deref()),
            (HostState::Down, 0, None)
        );
        assert_event(
            &ev,
            "host.joined",
            "host a joined (capacity 3)",
            None,
            None,
            json!({ "host": "a", "capacity": 3 }),
        );
        let err = join("a", None, true, T0).unwrap_err().to_string();
        assert_eq!(
            err,
            "host 'a' is already part of this town; choose another --host name"
        );
        assert!(join("A b", None, false, T0).is_err());
    }

    #[test]
    fn coming_up_starts_a_new_epoch_and_fences_the_old_one() {
        let mut h = joined();
        let ev = come_up(&mut h, T1);
        assert_eq!((h.state, h.epoch), (HostState::Up, 1));
        assert_event(
            &ev,
            "host.up",
            "host a up (epoch 1, was down)",
            None,
            None,
            json!({ "host": "a", "epoch": 1, "was": "down" }),
        );
        heartbeat(&mut h, 1, T2).unwrap();
        assert_eq!(h.heartbeat_at.as_deref(), Some(T2));
        come_up(&mut h, T2);
        let err = heartbeat(&mut h, 1, T2).unwrap_err().to_string();
        assert_eq!(err, "host a is fenced: epoch 1 ended, it is at epoch 2 now");
        assert!(go_down(&mut h, 1, T2).is_err());
        assert_eq!(h.state, HostState::Up);
        go_down(&mut h, 2, T2).unwrap();
        assert_eq!(h.state, HostState::Down);
        let err = heartbeat(&mut h, 2, T2).unwrap_err().to_string();
        assert!(err.contains("it is down (epoch 2)"), "{err}");
    }

    #[test]
    fn a_stale_up_host_is_declared_dead_once_and_then_fenced() {
        let mut h = joined();
        come_up(&mut h, T0);
        assert!(
            declare_dead(&mut h, T0, T2).is_none(),
            "heartbeat at the cut is fresh"
        );
        let ev = declare_dead(&mut h, T1, T2).unwrap();
        assert_eq!((h.state, h.state_at.as_str()), (HostState::Dead, T2));
        assert_event(
            &ev,
            "host.dead",
            &format!("host a declared dead (last heartbeat {T0}, epoch 1)"),
            None,
            None,
            json!({ "host": "a", "epoch": 1, "heartbeat_at": T0 }),
        );
        assert!(declare_dead(&mut h, T2, T2).is_none(), "already dead");
        assert!(heartbeat(&mut h, 1, T2).is_err());
        // A host that went down on purpose is never declared dead.
        let mut d = joined();
        assert!(declare_dead(&mut d, T2, T2).is_none());
    }

    #[test]
    fn capacity_changes_are_events() {
        let mut h = joined();
        let ev = set_capacity(&mut h, None);
        assert_eq!(h.capacity, None);
        assert_eq!(ev.summary, "host a capacity = unlimited");
    }

    #[test]
    fn a_lease_has_one_holder_until_it_expires() {
        let (l, ev) = take_lease(None, "refinery/app", "a", T0, T1).unwrap();
        assert_eq!((l.holder.as_str(), l.epoch), ("a", 1));
        assert_event(
            &ev.unwrap(),
            "lease.taken",
            "refinery/app taken by host a (epoch 1)",
            None,
            None,
            json!({ "lease": "refinery/app", "holder": "a", "epoch": 1, "from": null }),
        );
        // Another host is refused until it expires; the holder renews quietly.
        let err = take_lease(Some(l.clone()), "refinery/app", "b", T0, T2).unwrap_err();
        assert!(err.to_string().contains("held by host a"), "{err}");
        let (renewed, ev) = take_lease(Some(l.clone()), "refinery/app", "a", T1, T2).unwrap();
        assert!(ev.is_none());
        assert_eq!(
            (
                renewed.epoch,
                renewed.expires_at.as_str(),
                renewed.taken_at.as_str()
            ),
            (1, T2, T0)
        );
        // Expired: b takes it over, at the next epoch.
        let (b, ev) = take_lease(Some(l), "refinery/app", "b", T1, T2).unwrap();
        assert_eq!((b.holder.as_str(), b.epoch), ("b", 2));
        assert_eq!(ev.unwrap().payload["from"], "a");
    }

    #[test]
    fn only_the_holder_releases_a_lease() {
        let (mut l, _) = take_lease(None, "refinery/app", "a", T0, T2).unwrap();
        assert!(!release_lease(&mut l, "b", T1));
        assert!(l.is_held(T1));
        assert!(release_lease(&mut l, "a", T1));
        assert!(!l.is_held(T1));
    }
}
