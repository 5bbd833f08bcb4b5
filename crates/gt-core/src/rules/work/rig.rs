//! Rules for rigs and polecats: add, remove, configure, change state.

use serde_json::json;

use crate::error::{Error, Result};
use crate::event::{kind, EventKind, NewEvent};
use crate::polecat::{Polecat, PolecatState};
use crate::rig::Rig;

/// `gt rig add`: refused when a rig of that name `exists`, or when its
/// prefix is `prefix_taken` by another rig or is the town's
/// `default_prefix`; else the `rig.added` event.
pub fn add_rig(
    rig: &Rig,
    exists: bool,
    prefix_taken: bool,
    default_prefix: &str,
) -> Result<NewEvent> {
    if exists {
        return Err(Error::refused(format!("rig '{}' already exists", rig.name)));
    }
    if prefix_taken || rig.prefix == default_prefix {
        return Err(Error::refused(format!(
            "bead prefix '{}' is already used in this town; choose another with --prefix",
            rig.prefix
        )));
    }
    Ok(NewEvent::new(
        kind::RIG_ADDED,
        format!(
            "rig {} added ({}, branch {})",
            rig.name, rig.source, rig.branch
        ),
    )
    .rig(&rig.name)
    .payload(json!({ "source": rig.source, "branch": rig.branch, "prefix": rig.prefix })))
}

/// `gt rig remove`: the `rig.removed` event (its open sessions end first,
/// their beads given back: [`super::session_ended`], [`super::reopen_for_others`]).
pub fn rig_removed(name: &str) -> NewEvent {
    NewEvent::new(kind::RIG_REMOVED, format!("rig {name} removed")).rig(name)
}

/// `gt rig config agent`: sets the rig's default agent (`None`: the town's)
/// and returns the `rig.config_set` event.
pub fn set_rig_agent(rig: &mut Rig, agent: Option<&str>) -> NewEvent {
    rig.agent = agent.map(str::to_string);
    NewEvent::new(
        EventKind::RigConfigSet.as_str(),
        format!(
            "rig {} agent = {}",
            rig.name,
            agent.unwrap_or("(town default)")
        ),
    )
    .rig(&rig.name)
    .payload(json!({ "key": "agent", "value": agent }))
}

/// `gt polecat add`: refused when polecat `rig/name` `exists`; else the
/// state a new polecat starts in and the `polecat.added` event.
pub fn add_polecat(rig: &str, name: &str, exists: bool) -> Result<(PolecatState, NewEvent)> {
    if exists {
        return Err(Error::refused(format!(
            "polecat {rig}/{name} already exists"
        )));
    }
    Ok((
        PolecatState::Idle,
        NewEvent::new(kind::POLECAT_ADDED, format!("polecat {rig}/{name} added")).rig(rig),
    ))
}

/// `gt polecat remove`: the `polecat.removed` event (its open session ends
/// first and its bead is given back).
pub fn polecat_removed(rig: &str, name: &str) -> NewEvent {
    NewEvent::new(
        kind::POLECAT_REMOVED,
        format!("polecat {rig}/{name} removed"),
    )
    .rig(rig)
}

/// Sets `p`'s state (the deacon's stuck/dead, or back to idle) and returns
/// the `polecat.state` event naming the old one.
pub fn set_polecat_state(p: &mut Polecat, state: PolecatState, now: &str) -> NewEvent {
    let was = p.state;
    p.state = state;
    p.updated_at = now.to_string();
    NewEvent::new(
        kind::POLECAT_STATE,
        format!("polecat {} is now {state} (was {was})", p.address()),
    )
    .rig(&p.rig)
    .payload(json!({ "polecat": p.name, "state": state, "was": was }))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::rules::work::fixtures::{polecat, rig};

    #[test]
    fn add_rig_refuses_a_taken_name_or_prefix() {
        let r = rig("app");
        let err = add_rig(&r, true, false, "gt").unwrap_err();
        assert_eq!(err.to_string(), "rig 'app' already exists");
        let taken = "bead prefix 'app' is already used in this town; choose another with --prefix";
        let err = add_rig(&r, false, true, "gt").unwrap_err();
        assert_eq!(err.to_string(), taken);
        let err = add_rig(&r, false, false, "app").unwrap_err();
        assert_eq!(err.to_string(), taken, "the town's own prefix is taken");
        assert!(matches!(err, Error::Refused(_)));
        let ev = add_rig(&r, false, false, "gt").unwrap();
        assert_eq!(ev.kind, kind::RIG_ADDED);
        assert_eq!(ev.summary, "rig app added (/repos/app, branch main)");
        assert_eq!(ev.rig.as_deref(), Some("app"));
        assert_eq!(
            ev.payload,
            json!({ "source": "/repos/app", "branch": "main", "prefix": "app" })
        );
    }

    #[test]
    fn rig_removed_and_agent_set() {
        let ev = rig_removed("app");
        assert_eq!(
            (ev.kind, ev.summary.as_str()),
            (kind::RIG_REMOVED, "rig app removed")
        );
        assert_eq!(ev.rig.as_deref(), Some("app"));

        let mut r = rig("app");
        let ev = set_rig_agent(&mut r, Some("codex"));
        assert_eq!(r.agent.as_deref(), Some("codex"));
        assert_eq!(ev.kind, "rig.config_set");
        assert_eq!(ev.summary, "rig app agent = codex");
        assert_eq!(ev.payload, json!({ "key": "agent", "value": "codex" }));
        let ev = set_rig_agent(&mut r, None);
        assert_eq!(r.agent, None);
        assert_eq!(ev.summary, "rig app agent = (town default)");
        assert_eq!(ev.payload, json!({ "key": "agent", "value": null }));
    }

    #[test]
    fn add_polecat_refuses_a_taken_name_and_starts_idle() {
        let err = add_polecat("app", "nux", true).unwrap_err();
        assert_eq!(err.to_string(), "polecat app/nux already exists");
        let (state, ev) = add_polecat("app", "nux", false).unwrap();
        assert_eq!(state, PolecatState::Idle);
        assert_eq!(ev.kind, kind::POLECAT_ADDED);
        assert_eq!(ev.summary, "polecat app/nux added");
        assert_eq!(ev.rig.as_deref(), Some("app"));

        let ev = polecat_removed("app", "nux");
        assert_eq!(ev.kind, kind::POLECAT_REMOVED);
        assert_eq!(ev.summary, "polecat app/nux removed");
        assert_eq!(ev.rig.as_deref(), Some("app"));
    }

    #[test]
    fn set_polecat_state_names_the_old_state() {
        let mut p = polecat("app", "nux");
        let ev = set_polecat_state(&mut p, PolecatState::Stuck, "later");
        assert_eq!(
            (p.state, p.updated_at.as_str()),
            (PolecatState::Stuck, "later")
        );
        assert_eq!(ev.kind, kind::POLECAT_STATE);
        assert_eq!(ev.summary, "polecat app/nux is now stuck (was idle)");
        assert_eq!(ev.rig.as_deref(), Some("app"));
        assert_eq!(
            ev.payload,
            json!({ "polecat": "nux", "state": "stuck", "was": "idle" })
        );
    }
}
