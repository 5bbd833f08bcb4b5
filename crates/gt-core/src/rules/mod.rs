//! The state machine, above every store backend: what may become what, each
//! refusal, and the event each change appends. Pure functions over the rows a
//! change reads; no I/O.
//!
//! A backend's write method is always the same three steps inside its one
//! transaction:
//! 1. read the rows the rule names (a bead, the open session of a polecat, …);
//! 2. call the rule: it refuses (`Err`, the message users see) or changes the
//!    rows in place and/or returns a plan of what else to write, plus the
//!    event(s) to append;
//! 3. write the rows and append the events, exactly as returned.
//!
//! So the SQLite backend and any other (PostgreSQL for multi-machine towns)
//! refuse the same things with the same words, reach the same statuses and
//! append the same events; `gt-store`'s conformance suite checks it through
//! the store traits, and the unit tests here check each rule without a
//! database. Backends hold no refusal, no status change and no event summary
//! of their own (`crates/gt-lib/tests/crate_graph.rs` checks the SQLite one).
//!
//! One file per concern: [`bead`] (beads, comments, dependencies), [`work`]
//! (rigs, polecats, sessions: hook, run, release, finish), [`comms`] (mail,
//! nudges, escalations), [`merge`] (merge requests, convoys), [`deacon`]
//! (the watchdog's and the costs' records), [`host`] (the machines of a
//! town: join, up, heartbeat, down, dead; epochs as fencing tokens).

pub mod bead;
pub mod blocking;
pub mod comms;
pub mod deacon;
pub mod host;
pub mod merge;
pub mod work;

/// Rows for the rules' unit tests.
#[cfg(test)]
pub(crate) mod fixtures {
    use crate::bead::{Bead, BeadType, Status};

    pub const T0: &str = "2026-01-01T00:00:00.000Z";

    /// Asserts every field of an event a rule returned.
    pub fn assert_event(
        ev: &crate::event::NewEvent,
        kind: &str,
        summary: &str,
        rig: Option<&str>,
        bead: Option<&str>,
        payload: serde_json::Value,
    ) {
        assert_eq!((ev.kind, ev.summary.as_str()), (kind, summary));
        assert_eq!((ev.rig.as_deref(), ev.bead.as_deref()), (rig, bead));
        assert_eq!(ev.payload, payload);
    }

    /// A bead `id` in `status`, created at [`T0`], unassigned.
    pub fn bead(id: &str, status: Status) -> Bead {
        Bead {
            id: id.to_string(),
            title: format!("title of {id}"),
            description: String::new(),
            status,
            priority: crate::bead::DEFAULT_PRIORITY,
            bead_type: BeadType::Task,
            assignee: None,
            labels: Vec::new(),
            parent: None,
            created_at: T0.to_string(),
            updated_at: T0.to_string(),
            closed_at: None,
            close_reason: None,
            created_by: None,
            metadata: Default::default(),
        }
    }
}
