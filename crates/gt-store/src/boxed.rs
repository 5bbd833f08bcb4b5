//! The store traits for `Box<T>` (T = `dyn Store + Send`, or any backend):
//! each method hands over to the boxed store, so a `Box<dyn Store + Send>`
//! (the workspace's store) can be passed wherever one trait is asked for
//! (`&ws.store` as `&dyn DeaconStore`, a generic `S: BeadStore`), and a
//! caller's `use …Store` keeps naming the trait its calls go through.
//! Missing a method here is a compile error, so this stays complete.

use serde_json::{Map, Value};

use gt_core::bead::{
    Bead, BeadDetails, BeadFilter, BeadPatch, BlockedBead, Comment, DepType, Dependency, NewBead,
    Status,
};
use gt_core::error::Result;
use gt_core::event::{Event, EventQuery, NewEvent};
use gt_core::merge::MergeRequest;
use gt_core::polecat::Polecat;
use gt_core::rig::Rig;
use gt_core::session::Session;

use crate::costs::*;
use crate::deacon::*;
use crate::host::*;
use crate::mail::*;
use crate::merge::*;
use crate::observe::*;
use crate::*;

impl<T: BeadStore + ?Sized> BeadStore for Box<T> {
    fn create_bead(&self, new: &NewBead, actor: &str) -> Result<Bead> {
        (**self).create_bead(new, actor)
    }

    fn resolve_bead_id(&self, query: &str) -> Result<String> {
        (**self).resolve_bead_id(query)
    }

    fn get_bead(&self, id: &str) -> Result<Bead> {
        (**self).get_bead(id)
    }

    fn bead_details(&self, id: &str) -> Result<BeadDetails> {
        (**self).bead_details(id)
    }

    fn list_beads(&self, filter: &BeadFilter) -> Result<Vec<Bead>> {
        (**self).list_beads(filter)
    }

    fn each_bead(
        &self,
        filter: &BeadFilter,
        sink: &mut dyn FnMut(Bead) -> Result<()>,
    ) -> Result<()> {
        (**self).each_bead(filter, sink)
    }

    fn update_bead(&self, id: &str, patch: &BeadPatch, actor: &str) -> Result<Bead> {
        (**self).update_bead(id, patch, actor)
    }

    fn claim_bead(&self, id: &str, assignee: &str, actor: &str) -> Result<Bead> {
        (**self).claim_bead(id, assignee, actor)
    }

    fn close_bead(&self, id: &str, reason: Option<&str>, actor: &str) -> Result<Bead> {
        (**self).close_bead(id, reason, actor)
    }

    fn reopen_bead(&self, id: &str, actor: &str) -> Result<Bead> {
        (**self).reopen_bead(id, actor)
    }

    fn add_comment(&self, id: &str, author: &str, text: &str, actor: &str) -> Result<Comment> {
        (**self).add_comment(id, author, text, actor)
    }

    fn add_dependency(
        &self,
        bead: &str,
        depends_on: &str,
        dep_type: DepType,
        actor: &str,
    ) -> Result<Dependency> {
        (**self).add_dependency(bead, depends_on, dep_type, actor)
    }

    fn remove_dependency(
        &self,
        bead: &str,
        depends_on: &str,
        dep_type: Option<DepType>,
        actor: &str,
    ) -> Result<usize> {
        (**self).remove_dependency(bead, depends_on, dep_type, actor)
    }

    fn dep_tree(&self, id: &str, up: bool, max_depth: usize) -> Result<DepTreeNode> {
        (**self).dep_tree(id, up, max_depth)
    }

    fn ready_beads(&self, limit: usize) -> Result<Vec<Bead>> {
        (**self).ready_beads(limit)
    }

    fn blocked_beads(&self, limit: Option<usize>) -> Result<Vec<BlockedBead>> {
        (**self).blocked_beads(limit)
    }

    fn is_blocked(&self, id: &str) -> Result<bool> {
        (**self).is_blocked(id)
    }

    fn count_by_status(&self) -> Result<Vec<(Status, u64)>> {
        (**self).count_by_status()
    }

    fn import_records(
        &self,
        records: &dyn gt_core::bead::RecordSource,
        summary: NewEvent,
        actor: &str,
    ) -> Result<ImportCounts> {
        (**self).import_records(records, summary, actor)
    }

    fn export_records(&self, sink: &mut dyn FnMut(BeadRecord) -> Result<()>) -> Result<()> {
        (**self).export_records(sink)
    }
}

impl<T: EventStore + ?Sized> EventStore for Box<T> {
    fn append_event(&self, event: NewEvent, actor: &str) -> Result<Event> {
        (**self).append_event(event, actor)
    }

    fn events(&self, query: &EventQuery) -> Result<Vec<Event>> {
        (**self).events(query)
    }

    fn set_source(&self, source: Option<&str>) -> Result<()> {
        (**self).set_source(source)
    }
    fn set_host(&self, host: Option<&str>) -> Result<()> {
        (**self).set_host(host)
    }
}

impl<T: RigStore + ?Sized> RigStore for Box<T> {
    fn add_rig(&self, rig: &Rig, actor: &str) -> Result<()> {
        (**self).add_rig(rig, actor)
    }

    fn get_rig(&self, name: &str) -> Result<Rig> {
        (**self).get_rig(name)
    }

    fn list_rigs(&self) -> Result<Vec<Rig>> {
        (**self).list_rigs()
    }

    fn remove_rig(&self, name: &str, actor: &str) -> Result<()> {
        (**self).remove_rig(name, actor)
    }

    fn add_polecat(&self, rig: &str, name: &str, actor: &str) -> Result<Polecat> {
        (**self).add_polecat(rig, name, actor)
    }

    fn get_polecat(&self, rig: &str, name: &str) -> Result<Polecat> {
        (**self).get_polecat(rig, name)
    }

    fn list_polecats(&self, rig: Option<&str>) -> Result<Vec<Polecat>> {
        (**self).list_polecats(rig)
    }

    fn remove_polecat(&self, rig: &str, name: &str, actor: &str) -> Result<()> {
        (**self).remove_polecat(rig, name, actor)
    }

    fn set_rig_agent(&self, rig: &str, agent: Option<&str>, actor: &str) -> Result<()> {
        (**self).set_rig_agent(rig, agent, actor)
    }

    fn set_polecat_state(
        &self,
        rig: &str,
        name: &str,
        state: gt_core::polecat::PolecatState,
        actor: &str,
    ) -> Result<()> {
        (**self).set_polecat_state(rig, name, state, actor)
    }
}

impl<T: WorkStore + ?Sized> WorkStore for Box<T> {
    fn hook(&self, req: &HookRequest<'_>, actor: &str) -> Result<Session> {
        (**self).hook(req, actor)
    }

    fn mark_running(&self, session: i64, actor: &str) -> Result<()> {
        (**self).mark_running(session, actor)
    }

    fn release(&self, session: i64, reason: &str, note: Option<&str>, actor: &str) -> Result<()> {
        (**self).release(session, reason, note, actor)
    }
    fn release_and_queue(
        &self,
        session: i64,
        reason: &str,
        note: Option<&str>,
        queue: &gt_core::bead::BeadPatch,
        actor: &str,
    ) -> Result<bool> {
        (**self).release_and_queue(session, reason, note, queue, actor)
    }

    fn discard_sling(&self, undo: &SlingUndo<'_>, actor: &str) -> Result<()> {
        (**self).discard_sling(undo, actor)
    }

    fn end_session(&self, session: i64, reason: &str, actor: &str) -> Result<()> {
        (**self).end_session(session, reason, actor)
    }

    fn finish(&self, req: &DoneRequest<'_>, actor: &str) -> Result<DoneOutcome> {
        (**self).finish(req, actor)
    }

    fn get_session(&self, id: i64) -> Result<Session> {
        (**self).get_session(id)
    }

    fn list_sessions(&self, filter: &SessionFilter<'_>) -> Result<Vec<Session>> {
        (**self).list_sessions(filter)
    }

    fn last_session(&self, rig: &str, polecat: &str) -> Result<Option<Session>> {
        (**self).last_session(rig, polecat)
    }

    fn list_merge_requests(&self, rig: Option<&str>) -> Result<Vec<MergeRequest>> {
        (**self).list_merge_requests(rig)
    }
}

impl<T: StoreMaintenance + ?Sized> StoreMaintenance for Box<T> {
    fn integrity_problems(&self, limit: u32) -> Result<Vec<String>> {
        (**self).integrity_problems(limit)
    }

    fn schema_version(&self) -> Result<i64> {
        (**self).schema_version()
    }

    fn location(&self) -> String {
        (**self).location()
    }
}

impl<T: DeaconStore + ?Sized> DeaconStore for Box<T> {
    fn deacon_state(&self) -> Result<DeaconState> {
        (**self).deacon_state()
    }

    fn deacon_started(&self, pid: Option<u32>) -> Result<()> {
        (**self).deacon_started(pid)
    }

    fn deacon_heartbeat(&self, actions: u64) -> Result<()> {
        (**self).deacon_heartbeat(actions)
    }

    fn set_scheduler_paused(&self, paused: bool, actor: &str) -> Result<()> {
        (**self).set_scheduler_paused(paused, actor)
    }

    fn mark(&self, key: &str) -> Result<Option<DeaconMark>> {
        (**self).mark(key)
    }

    fn marks(&self, prefix: &str) -> Result<Vec<DeaconMark>> {
        (**self).marks(prefix)
    }

    fn record_action(&self, key: &str, event: NewEvent, actor: &str) -> Result<DeaconMark> {
        (**self).record_action(key, event, actor)
    }

    fn forget_mark(&self, key: &str) -> Result<bool> {
        (**self).forget_mark(key)
    }

    fn record_fault(
        &self,
        f: &NewFault<'_>,
        event: NewEvent,
        actor: &str,
    ) -> Result<(Fault, bool)> {
        (**self).record_fault(f, event, actor)
    }

    fn clear_fault(&self, subject: &str, step: &str, event: NewEvent, actor: &str) -> Result<bool> {
        (**self).clear_fault(subject, step, event, actor)
    }

    fn faults(&self) -> Result<Vec<Fault>> {
        (**self).faults()
    }

    fn gate_started(&self, g: &GateRun) -> Result<()> {
        (**self).gate_started(g)
    }

    fn gate_finished(
        &self,
        rig: &str,
        pgid: u32,
        event: Option<NewEvent>,
        actor: &str,
    ) -> Result<()> {
        (**self).gate_finished(rig, pgid, event, actor)
    }

    fn gate_runs(&self) -> Result<Vec<GateRun>> {
        (**self).gate_runs()
    }
}

impl<T: MailStore + ?Sized> MailStore for Box<T> {
    fn send_mail(&self, m: &NewMail<'_>, actor: &str) -> Result<Mail> {
        (**self).send_mail(m, actor)
    }

    fn inbox(&self, owner: &str, filter: InboxFilter, limit: Option<usize>) -> Result<Vec<Mail>> {
        (**self).inbox(owner, filter, limit)
    }

    fn get_mail(&self, id: i64, viewer: &str) -> Result<Mail> {
        (**self).get_mail(id, viewer)
    }

    fn mark_read(&self, ids: &[i64], owner: &str, actor: &str) -> Result<usize> {
        (**self).mark_read(ids, owner, actor)
    }

    fn archive_mail(&self, ids: &[i64], owner: &str, actor: &str) -> Result<usize> {
        (**self).archive_mail(ids, owner, actor)
    }

    fn take_unread(&self, owner: &str, actor: &str) -> Result<(Vec<Mail>, Vec<QueuedNudge>)> {
        (**self).take_unread(owner, actor)
    }

    fn thread(&self, id: i64, viewer: &str) -> Result<Vec<Mail>> {
        (**self).thread(id, viewer)
    }

    fn search_mail(&self, owner: &str, text: &str, limit: Option<usize>) -> Result<Vec<Mail>> {
        (**self).search_mail(owner, text, limit)
    }

    fn queue_nudge(
        &self,
        agent: &str,
        from: &str,
        message: &str,
        actor: &str,
    ) -> Result<QueuedNudge> {
        (**self).queue_nudge(agent, from, message, actor)
    }

    fn record_nudge(&self, agent: &str, from: &str, message: &str, actor: &str) -> Result<()> {
        (**self).record_nudge(agent, from, message, actor)
    }

    fn pending_nudges(&self, agent: &str) -> Result<Vec<QueuedNudge>> {
        (**self).pending_nudges(agent)
    }

    fn mark_nudge_delivered(&self, id: i64) -> Result<bool> {
        (**self).mark_nudge_delivered(id)
    }

    fn set_agent_state(&self, agent: &str, state: &str, source: &str) -> Result<()> {
        (**self).set_agent_state(agent, state, source)
    }

    fn agent_state(&self, agent: &str) -> Result<Option<AgentStateRecord>> {
        (**self).agent_state(agent)
    }

    #[allow(clippy::too_many_arguments)]
    fn add_escalation(
        &self,
        bead: &str,
        from: &str,
        severity: gt_core::mail::Severity,
        message: &str,
        source_bead: Option<&str>,
        mail: &NewMail<'_>,
        actor: &str,
    ) -> Result<Escalation> {
        (**self).add_escalation(bead, from, severity, message, source_bead, mail, actor)
    }

    fn list_escalations(&self, open_only: bool) -> Result<Vec<Escalation>> {
        (**self).list_escalations(open_only)
    }

    fn ack_escalation(&self, id_or_bead: &str, actor: &str) -> Result<Escalation> {
        (**self).ack_escalation(id_or_bead, actor)
    }

    fn handoff(&self, req: &HandoffRequest<'_>, actor: &str) -> Result<Session> {
        (**self).handoff(req, actor)
    }
}

impl<T: MergeStore + ?Sized> MergeStore for Box<T> {
    fn rig_config(&self, rig: &str) -> Result<Map<String, Value>> {
        (**self).rig_config(rig)
    }

    fn set_rig_config(
        &self,
        rig: &str,
        key: &str,
        value: Option<Value>,
        actor: &str,
    ) -> Result<Map<String, Value>> {
        (**self).set_rig_config(rig, key, value, actor)
    }

    fn merge_entry(&self, id: i64) -> Result<MergeEntry> {
        (**self).merge_entry(id)
    }

    fn merge_entries(
        &self,
        rig: Option<&str>,
        statuses: &[MergeStatus],
    ) -> Result<Vec<MergeEntry>> {
        (**self).merge_entries(rig, statuses)
    }

    fn merge_entries_for_bead(&self, bead: &str) -> Result<Vec<MergeEntry>> {
        (**self).merge_entries_for_bead(bead)
    }

    fn rigs_with_merge_work(&self) -> Result<Vec<String>> {
        (**self).rigs_with_merge_work()
    }

    fn mark_landing(
        &self,
        landings: &[Landing],
        target_from: &str,
        batch: i64,
        actor: &str,
    ) -> Result<()> {
        (**self).mark_landing(landings, target_from, batch, actor)
    }

    fn record_merged(&self, landed: &[Landing], actor: &str) -> Result<Vec<Convoy>> {
        (**self).record_merged(landed, actor)
    }

    fn record_failure(
        &self,
        id: i64,
        kind: FailureKind,
        failure: &str,
        files: &[String],
        note: &str,
        actor: &str,
    ) -> Result<MergeEntry> {
        (**self).record_failure(id, kind, failure, files, note, actor)
    }

    fn requeue(&self, id: i64, reason: &str, actor: &str) -> Result<MergeEntry> {
        (**self).requeue(id, reason, actor)
    }

    fn remove_merge_request(&self, id: i64, actor: &str) -> Result<MergeEntry> {
        (**self).remove_merge_request(id, actor)
    }

    fn set_followup_done(&self, id: i64) -> Result<()> {
        (**self).set_followup_done(id)
    }

    fn next_batch(&self) -> Result<i64> {
        (**self).next_batch()
    }

    fn create_convoy(&self, name: &str, beads: &[String], actor: &str) -> Result<Convoy> {
        (**self).create_convoy(name, beads, actor)
    }

    fn create_molecule(
        &self,
        formula: &str,
        epic: &gt_core::bead::NewBead,
        steps: &[gt_core::bead::NewBead],
        convoy: &str,
        actor: &str,
    ) -> Result<Molecule> {
        (**self).create_molecule(formula, epic, steps, convoy, actor)
    }

    fn add_to_convoy(&self, convoy: &str, beads: &[String], actor: &str) -> Result<Convoy> {
        (**self).add_to_convoy(convoy, beads, actor)
    }

    fn get_convoy(&self, convoy: &str) -> Result<Convoy> {
        (**self).get_convoy(convoy)
    }

    fn list_convoys(&self) -> Result<Vec<Convoy>> {
        (**self).list_convoys()
    }

    fn refresh_convoys(&self, actor: &str) -> Result<Vec<Convoy>> {
        (**self).refresh_convoys(actor)
    }
}

impl<T: ObserveStore + ?Sized> ObserveStore for Box<T> {
    fn record_screens(&self, samples: &[ScreenSample<'_>]) -> Result<Vec<ScreenObservation>> {
        (**self).record_screens(samples)
    }

    fn screen_observations(&self) -> Result<Vec<ScreenObservation>> {
        (**self).screen_observations()
    }

    fn stored_screen(&self, agent: &str) -> Result<Option<StoredScreen>> {
        (**self).stored_screen(agent)
    }

    fn wait_for_events(&self, timeout: std::time::Duration) -> Result<bool> {
        (**self).wait_for_events(timeout)
    }

    fn last_event_time_by(&self, actor: &str) -> Result<Option<String>> {
        (**self).last_event_time_by(actor)
    }

    fn events_after(&self, after_id: i64, limit: usize) -> Result<Vec<Event>> {
        (**self).events_after(after_id, limit)
    }

    fn first_event_id_since(&self, time: &str) -> Result<Option<i64>> {
        (**self).first_event_id_since(time)
    }

    fn hook_states(&self) -> Result<Vec<HookState>> {
        (**self).hook_states()
    }

    fn event_cursor(&self) -> Result<i64> {
        (**self).event_cursor()
    }

    fn merge_queue_lengths(&self) -> Result<Vec<(String, u64)>> {
        (**self).merge_queue_lengths()
    }

    fn town_extras(&self) -> Result<TownExtras> {
        (**self).town_extras()
    }
}

impl<T: CostStore + ?Sized> CostStore for Box<T> {
    fn record_usage(
        &self,
        session: i64,
        usage: &Usage,
        source: &str,
        actor: &str,
    ) -> Result<SessionUsage> {
        (**self).record_usage(session, usage, source, actor)
    }

    fn session_usage(&self, session: i64) -> Result<Option<SessionUsage>> {
        (**self).session_usage(session)
    }

    fn set_agent_session_id(&self, session: i64, id: &str, actor: &str) -> Result<()> {
        (**self).set_agent_session_id(session, id, actor)
    }

    fn agent_session_id(&self, session: i64) -> Result<Option<String>> {
        (**self).agent_session_id(session)
    }

    fn costs_by(&self, group: CostGroup, q: &CostQuery) -> Result<Vec<CostRow>> {
        (**self).costs_by(group, q)
    }

    fn cost_totals(&self, q: &CostQuery) -> Result<CostTotals> {
        (**self).cost_totals(q)
    }
}

impl<T: HostStore + ?Sized> HostStore for Box<T> {
    fn add_host(&self, name: &str, capacity: Option<u32>, actor: &str) -> Result<Host> {
        (**self).add_host(name, capacity, actor)
    }

    fn get_host(&self, name: &str) -> Result<Host> {
        (**self).get_host(name)
    }

    fn list_hosts(&self) -> Result<Vec<Host>> {
        (**self).list_hosts()
    }

    fn host_up(&self, name: &str, actor: &str) -> Result<Host> {
        (**self).host_up(name, actor)
    }

    fn host_heartbeat(&self, name: &str, epoch: i64) -> Result<Host> {
        (**self).host_heartbeat(name, epoch)
    }

    fn host_down(&self, name: &str, epoch: i64, actor: &str) -> Result<Host> {
        (**self).host_down(name, epoch, actor)
    }

    fn declare_dead_hosts(&self, stale_before: &str, actor: &str) -> Result<Vec<Host>> {
        (**self).declare_dead_hosts(stale_before, actor)
    }

    fn set_host_capacity(&self, name: &str, capacity: Option<u32>, actor: &str) -> Result<Host> {
        (**self).set_host_capacity(name, capacity, actor)
    }

    fn take_lease(&self, name: &str, holder: &str, expires_at: &str, actor: &str) -> Result<Lease> {
        (**self).take_lease(name, holder, expires_at, actor)
    }

    fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        (**self).release_lease(name, holder)
    }
    fn town_settings(&self) -> Result<Option<String>> {
        (**self).town_settings()
    }
    fn set_town_settings(
        &self,
        settings: &str,
        expected: Option<&str>,
        event: gt_core::event::NewEvent,
        actor: &str,
    ) -> Result<()> {
        (**self).set_town_settings(settings, expected, event, actor)
    }

    fn list_leases(&self) -> Result<Vec<Lease>> {
        (**self).list_leases()
    }
}
