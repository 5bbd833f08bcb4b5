//! The conformance suite every store backend passes (`testing` feature).
//!
//! A backend's test file calls `gt_store::store_conformance!(factory)`,
//! where `factory()` returns a [`Subject`]: an empty, migrated store whose
//! clock stands still at [`NOW`]. The macro expands to one `#[test]` per
//! case; each case drives the store through the traits only, covering the
//! success path and the refusals (unknown ids, cycles, closed beads, a busy
//! polecat, a double hook, a wrong-state `done`, …) and checking that a
//! refusal writes nothing. `tests/coverage.rs` fails when a trait method has
//! no case.

use gt_core::bead::{Bead, NewBead};
use gt_core::error::Error;
use gt_core::event::{Event, EventQuery};
use gt_core::rig::Rig;
use gt_core::session::Session;

use crate::{HookRequest, Store};

pub mod beads;
pub mod comms;
pub mod costs;
pub mod deacon;
pub mod hosts;
pub mod merge;
pub mod work;

/// The time of the subject's fixed clock (canonical form).
pub const NOW: &str = "2026-01-02T03:04:05.000000Z";
/// The bead id prefix the subject's store gives new beads.
pub const PREFIX: &str = "ct";

/// A store under test, and whatever keeps it alive (a temporary directory,
/// a server connection).
pub struct Subject {
    pub store: Box<dyn Store>,
    pub guard: Box<dyn std::any::Any>,
}

/// What a factory returns: a [`Subject`], or `None` for a backend whose
/// server is not available (the case then ends at once).
pub trait MaybeSubject {
    fn subject(self) -> Option<Subject>;
}

impl MaybeSubject for Subject {
    fn subject(self) -> Option<Subject> {
        Some(self)
    }
}

impl MaybeSubject for Option<Subject> {
    fn subject(self) -> Option<Subject> {
        self
    }
}

/// The error kind (`Error::kind`) of a result that must fail.
pub fn refusal<T: std::fmt::Debug>(r: gt_core::error::Result<T>) -> &'static str {
    match r {
        Ok(v) => panic!("expected a refusal, got {v:?}"),
        Err(e) => kind(&e),
    }
}

fn kind(e: &Error) -> &'static str {
    e.kind()
}

/// Every event, oldest first.
pub fn all_events(s: &dyn Store) -> Vec<Event> {
    s.events_after(0, 100_000).unwrap()
}

/// Events of exactly one kind (a query by kind also matches its dotted
/// sub-kinds: `escalation` finds `escalation.acked`).
pub fn events_of(s: &dyn Store, kind: &str) -> Vec<Event> {
    let mut v = s
        .events(&EventQuery {
            kinds: vec![kind.to_string()],
            limit: Some(1000),
            ..Default::default()
        })
        .unwrap();
    v.retain(|e| e.kind == kind);
    v
}

pub fn bead(s: &dyn Store, title: &str) -> Bead {
    s.create_bead(&NewBead::new(title), "human").unwrap()
}

pub fn rig(s: &dyn Store, name: &str) -> Rig {
    let r = Rig {
        name: name.into(),
        source: format!("/repos/{name}"),
        branch: "main".into(),
        prefix: name.into(),
        agent: None,
        created_at: String::new(),
    };
    s.add_rig(&r, "human").unwrap();
    s.get_rig(name).unwrap()
}

/// Rig `app` with polecat `nux`.
pub fn rig_with_polecat(s: &dyn Store) {
    rig(s, "app");
    s.add_polecat("app", "nux", "human").unwrap();
}

pub fn hook_req<'a>(bead: &'a str, polecat: &'a str, tmux: &'a str) -> HookRequest<'a> {
    HookRequest {
        bead,
        rig: "app",
        polecat,
        tmux_session: tmux,
        runtime: "fake",
        branch: "polecat/nux/x",
        base_commit: "aaaa",
        supersede: None,
        host: "h1",
    }
}

/// A bead hooked to `app/nux`, its session running.
pub fn hooked(s: &dyn Store) -> (Bead, Session) {
    rig_with_polecat(s);
    let b = bead(s, "work");
    let sess = s
        .hook(&hook_req(&b.id, "nux", "gt-app-nux"), "human")
        .unwrap();
    s.mark_running(sess.id, "app/nux").unwrap();
    (s.get_bead(&b.id).unwrap(), s.get_session(sess.id).unwrap())
}

/// One `#[test]` per conformance case, each on a fresh `factory()` subject.
#[macro_export]
macro_rules! store_conformance {
    ($factory:expr) => {
        $crate::store_conformance!(@cases $factory;
            beads::beads_create_get_resolve,
            beads::beads_create_refusals_write_nothing,
            beads::beads_details_and_comments,
            beads::beads_list_and_count,
            beads::beads_each_streams_the_list,
            beads::beads_update,
            beads::beads_claim,
            beads::beads_close_and_reopen,
            beads::beads_dependencies_and_cycles,
            beads::beads_ready_and_blocked,
            beads::beads_import_and_export,
            beads::events_append_and_query,
            beads::events_record_their_source,
            beads::events_record_their_host,
            beads::counts_by_status_follow_every_change,
            work::rigs_add_get_list_remove,
            work::polecats_add_get_list_state_remove,
            work::work_hook_and_refusals,
            work::work_sessions_running_and_ended,
            work::work_release_and_discard,
            work::work_release_and_queue_in_one_transaction,
            work::work_finish_and_wrong_state,
            comms::mail_send_read_archive,
            comms::mail_thread_search_take_unread,
            comms::nudges_queue_and_deliver,
            comms::agent_state_and_hook_states,
            comms::escalations_add_list_ack,
            comms::handoff_moves_the_work,
            merge::merge_rig_config,
            merge::merge_queue_lands,
            merge::merge_failure_requeue_remove,
            merge::convoys_create_add_refresh,
            merge::molecules_in_one_transaction,
            deacon::deacon_state_and_scheduler,
            deacon::deacon_marks_and_actions,
            deacon::deacon_faults,
            deacon::deacon_gate_runs,
            deacon::observe_screens_and_cursor,
            deacon::observe_counts,
            deacon::maintenance_reports,
            costs::costs_record_replace_and_refusals,
            costs::costs_agent_session_id,
            costs::costs_grouped_and_totals,
            hosts::hosts_join_up_heartbeat_down,
            hosts::hosts_dead_and_fenced,
            hosts::hosts_run_sessions,
            hosts::town_settings_are_stored_with_their_event,
            hosts::leases_have_one_holder,
        );
    };
    (@cases $factory:expr; $($module:ident :: $case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                // A factory may give `None` when its server is not there
                // (it says so on one "skipped:" line).
                let Some(subject) = $crate::conformance::MaybeSubject::subject(($factory)())
                else {
                    return;
                };
                $crate::conformance::$module::$case(&*subject.store);
                drop(subject);
            }
        )*
    };
}
