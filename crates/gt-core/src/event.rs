//! The event log: every state change appends one event in the same transaction
//! as the change. Kinds are stable dotted names (see `docs/cli.md`).

use serde::{Deserialize, Serialize};

/// Stable event kinds.
pub mod kind {
    pub const BEAD_CREATED: &str = super::EventKind::BeadCreated.as_str();
    pub const BEAD_UPDATED: &str = super::EventKind::BeadUpdated.as_str();
    pub const BEAD_CLAIMED: &str = super::EventKind::BeadClaimed.as_str();
    pub const BEAD_CLOSED: &str = super::EventKind::BeadClosed.as_str();
    pub const BEAD_REOPENED: &str = super::EventKind::BeadReopened.as_str();
    pub const BEAD_COMMENTED: &str = super::EventKind::BeadCommented.as_str();
    pub const DEP_ADDED: &str = super::EventKind::BeadDepAdded.as_str();
    pub const DEP_REMOVED: &str = super::EventKind::BeadDepRemoved.as_str();
    pub const BEADS_IMPORTED: &str = super::EventKind::BeadImported.as_str();
    pub const TOWN_CREATED: &str = super::EventKind::TownCreated.as_str();
    pub const CONFIG_SET: &str = super::EventKind::ConfigSet.as_str();
    pub const RIG_ADDED: &str = super::EventKind::RigAdded.as_str();
    pub const RIG_REMOVED: &str = super::EventKind::RigRemoved.as_str();
    pub const POLECAT_ADDED: &str = super::EventKind::PolecatAdded.as_str();
    pub const POLECAT_REMOVED: &str = super::EventKind::PolecatRemoved.as_str();
    pub const POLECAT_STATE: &str = super::EventKind::PolecatState.as_str();
    pub const SLING: &str = super::EventKind::Sling.as_str();
    pub const SLING_FAILED: &str = super::EventKind::SlingFailed.as_str();
    pub const SESSION_STARTED: &str = super::EventKind::SessionStarted.as_str();
    pub const SESSION_ENDED: &str = super::EventKind::SessionEnded.as_str();
    pub const SESSION_USAGE: &str = super::EventKind::SessionUsage.as_str();
    pub const STORE_MIGRATED: &str = super::EventKind::StoreMigrated.as_str();
    pub const SESSION_AGENT_ID: &str = super::EventKind::SessionAgentId.as_str();
    pub const BEAD_RELEASED: &str = super::EventKind::BeadReleased.as_str();
    pub const DONE: &str = super::EventKind::Done.as_str();
    pub const MERGE_QUEUED: &str = super::EventKind::MergeQueued.as_str();
}

/// Every kind of event gt appends: the one list. The `kind` modules beside
/// the services name these as `&str` constants for the store's API; events
/// are stored and printed by [`EventKind::as_str`] (docs/cli.md lists each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    BeadClaimed,
    BeadClosed,
    BeadCommented,
    BeadCreated,
    BeadDepAdded,
    BeadDepRemoved,
    BeadImported,
    BeadReleased,
    BeadReopened,
    BeadUpdated,
    ConfigSet,
    ConvoyCreated,
    ConvoyLanded,
    ConvoyUpdated,
    DeaconAdopted,
    DeaconAgentFailed,
    DeaconAskedHuman,
    DeaconCompleted,
    DeaconDispatched,
    DeaconEscalated,
    DeaconGaveUp,
    DeaconNudged,
    DeaconOrphanCleaned,
    DeaconOrphanFound,
    DeaconPatrolFailed,
    DeaconRateLimitOver,
    DeaconRateLimited,
    DeaconRecovered,
    DeaconRestartFailed,
    DeaconRestarted,
    DeaconRigFailed,
    DeaconSavedWork,
    DeaconSessionDead,
    DeaconStarted,
    DeaconStopped,
    Done,
    Escalation,
    EscalationAcked,
    Handoff,
    HostCapacity,
    HostDead,
    HostDown,
    HostJoined,
    HostUp,
    LeaseTaken,
    MailArchived,
    MailRead,
    MailSent,
    MergeConflict,
    MergeFailed,
    MergeGateKilled,
    MergeLanded,
    MergeLanding,
    MergeQueued,
    MergeRemoved,
    MergeRequeued,
    MoleculeCreated,
    NudgeDelivered,
    NudgeQueued,
    PolecatAdded,
    PolecatRemoved,
    PolecatState,
    RigAdded,
    RigConfigSet,
    RigConfigTampered,
    RigFetchFailed,
    RigFetched,
    RigRemoved,
    SchedulerPaused,
    SchedulerResumed,
    SessionAgentId,
    SessionEnded,
    SessionStarted,
    SessionUsage,
    StoreMigrated,
    Sling,
    SlingFailed,
    TownCreated,
}

impl EventKind {
    /// Every kind, in name order.
    pub const ALL: &'static [EventKind] = &[
        EventKind::BeadClaimed,
        EventKind::BeadClosed,
        EventKind::BeadCommented,
        EventKind::BeadCreated,
        EventKind::BeadDepAdded,
        EventKind::BeadDepRemoved,
        EventKind::BeadImported,
        EventKind::BeadReleased,
        EventKind::BeadReopened,
        EventKind::BeadUpdated,
        EventKind::ConfigSet,
        EventKind::ConvoyCreated,
        EventKind::ConvoyLanded,
        EventKind::ConvoyUpdated,
        EventKind::DeaconAdopted,
        EventKind::DeaconAgentFailed,
        EventKind::DeaconAskedHuman,
        EventKind::DeaconCompleted,
        EventKind::DeaconDispatched,
        EventKind::DeaconEscalated,
        EventKind::DeaconGaveUp,
        EventKind::DeaconNudged,
        EventKind::DeaconOrphanCleaned,
        EventKind::DeaconOrphanFound,
        EventKind::DeaconPatrolFailed,
        EventKind::DeaconRateLimitOver,
        EventKind::DeaconRateLimited,
        EventKind::DeaconRecovered,
        EventKind::DeaconRestartFailed,
        EventKind::DeaconRestarted,
        EventKind::DeaconRigFailed,
        EventKind::DeaconSavedWork,
        EventKind::DeaconSessionDead,
        EventKind::DeaconStarted,
        EventKind::DeaconStopped,
        EventKind::Done,
        EventKind::Escalation,
        EventKind::EscalationAcked,
        EventKind::Handoff,
        EventKind::HostCapacity,
        EventKind::HostDead,
        EventKind::HostDown,
        EventKind::HostJoined,
        EventKind::HostUp,
        EventKind::LeaseTaken,
        EventKind::MailArchived,
        EventKind::MailRead,
        EventKind::MailSent,
        EventKind::MergeConflict,
        EventKind::MergeFailed,
        EventKind::MergeGateKilled,
        EventKind::MergeLanded,
        EventKind::MergeLanding,
        EventKind::MergeQueued,
        EventKind::MergeRemoved,
        EventKind::MergeRequeued,
        EventKind::MoleculeCreated,
        EventKind::NudgeDelivered,
        EventKind::NudgeQueued,
        EventKind::PolecatAdded,
        EventKind::PolecatRemoved,
        EventKind::PolecatState,
        EventKind::RigAdded,
        EventKind::RigConfigSet,
        EventKind::RigConfigTampered,
        EventKind::RigFetchFailed,
        EventKind::RigFetched,
        EventKind::RigRemoved,
        EventKind::SchedulerPaused,
        EventKind::SchedulerResumed,
        EventKind::SessionAgentId,
        EventKind::SessionEnded,
        EventKind::SessionStarted,
        EventKind::SessionUsage,
        EventKind::StoreMigrated,
        EventKind::Sling,
        EventKind::SlingFailed,
        EventKind::TownCreated,
    ];

    /// Whether events of kind `k` are only those of exactly that kind: a
    /// known kind that no other kind extends (`bead` is a prefix:
    /// `bead.created`, …), so a query may match it with `=`.
    pub fn is_exact(k: &str) -> bool {
        let dotted = format!("{k}.");
        EventKind::ALL.iter().any(|e| e.as_str() == k)
            && !EventKind::ALL
                .iter()
                .any(|e| e.as_str().starts_with(&dotted))
    }

    /// The stored name (`bead.created`, `deacon.restarted`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::BeadClaimed => "bead.claimed",
            EventKind::BeadClosed => "bead.closed",
            EventKind::BeadCommented => "bead.commented",
            EventKind::BeadCreated => "bead.created",
            EventKind::BeadDepAdded => "bead.dep_added",
            EventKind::BeadDepRemoved => "bead.dep_removed",
            EventKind::BeadImported => "bead.imported",
            EventKind::BeadReleased => "bead.released",
            EventKind::BeadReopened => "bead.reopened",
            EventKind::BeadUpdated => "bead.updated",
            EventKind::ConfigSet => "config.set",
            EventKind::ConvoyCreated => "convoy.created",
            EventKind::ConvoyLanded => "convoy.landed",
            EventKind::ConvoyUpdated => "convoy.updated",
            EventKind::DeaconAdopted => "deacon.adopted",
            EventKind::DeaconAgentFailed => "deacon.agent_failed",
            EventKind::DeaconAskedHuman => "deacon.asked_human",
            EventKind::DeaconCompleted => "deacon.completed",
            EventKind::DeaconDispatched => "deacon.dispatched",
            EventKind::DeaconEscalated => "deacon.escalated",
            EventKind::DeaconGaveUp => "deacon.gave_up",
            EventKind::DeaconNudged => "deacon.nudged",
            EventKind::DeaconOrphanCleaned => "deacon.orphan_cleaned",
            EventKind::DeaconOrphanFound => "deacon.orphan_found",
            EventKind::DeaconPatrolFailed => "deacon.patrol_failed",
            EventKind::DeaconRateLimitOver => "deacon.rate_limit_over",
            EventKind::DeaconRateLimited => "deacon.rate_limited",
            EventKind::DeaconRecovered => "deacon.recovered",
            EventKind::DeaconRestartFailed => "deacon.restart_failed",
            EventKind::DeaconRestarted => "deacon.restarted",
            EventKind::DeaconRigFailed => "deacon.rig_failed",
            EventKind::DeaconSavedWork => "deacon.saved_work",
            EventKind::DeaconSessionDead => "deacon.session_dead",
            EventKind::DeaconStarted => "deacon.started",
            EventKind::DeaconStopped => "deacon.stopped",
            EventKind::Done => "done",
            EventKind::Escalation => "escalation",
            EventKind::EscalationAcked => "escalation.acked",
            EventKind::Handoff => "handoff",
            EventKind::HostCapacity => "host.capacity",
            EventKind::HostDead => "host.dead",
            EventKind::HostDown => "host.down",
            EventKind::HostJoined => "host.joined",
            EventKind::HostUp => "host.up",
            EventKind::LeaseTaken => "lease.taken",
            EventKind::MailArchived => "mail.archived",
            EventKind::MailRead => "mail.read",
            EventKind::MailSent => "mail.sent",
            EventKind::MergeConflict => "merge.conflict",
            EventKind::MergeFailed => "merge.failed",
            EventKind::MergeGateKilled => "merge.gate_killed",
            EventKind::MergeLanded => "merge.landed",
            EventKind::MergeLanding => "merge.landing",
            EventKind::MergeQueued => "merge.queued",
            EventKind::MergeRemoved => "merge.removed",
            EventKind::MergeRequeued => "merge.requeued",
            EventKind::MoleculeCreated => "molecule.created",
            EventKind::NudgeDelivered => "nudge.delivered",
            EventKind::NudgeQueued => "nudge.queued",
            EventKind::PolecatAdded => "polecat.added",
            EventKind::PolecatRemoved => "polecat.removed",
            EventKind::PolecatState => "polecat.state",
            EventKind::RigAdded => "rig.added",
            EventKind::RigConfigSet => "rig.config_set",
            EventKind::RigConfigTampered => "rig.config_tampered",
            EventKind::RigFetchFailed => "rig.fetch_failed",
            EventKind::RigFetched => "rig.fetched",
            EventKind::RigRemoved => "rig.removed",
            EventKind::SchedulerPaused => "scheduler.paused",
            EventKind::SchedulerResumed => "scheduler.resumed",
            EventKind::SessionAgentId => "session.agent_id",
            EventKind::SessionEnded => "session.ended",
            EventKind::SessionStarted => "session.started",
            EventKind::SessionUsage => "session.usage",
            EventKind::StoreMigrated => "store.migrated",
            EventKind::Sling => "sling",
            EventKind::SlingFailed => "sling.failed",
            EventKind::TownCreated => "town.created",
        }
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for EventKind {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        EventKind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                crate::Error::invalid(format!("unknown event kind '{}'", s.escape_debug()))
            })
    }
}

impl Serialize for EventKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: i64,
    pub time: String,
    pub kind: String,
    pub actor: String,
    pub rig: Option<String>,
    pub bead: Option<String>,
    pub summary: String,
    pub payload: serde_json::Value,
    /// Where the change was made when not the command line: `dashboard`
    /// for the web dashboard's actions; null otherwise.
    pub source: Option<String>,
    /// The town host whose gt made the change, in a town whose store is
    /// shared by several hosts (PostgreSQL); null otherwise.
    pub host: Option<String>,
}

/// An event to append; time and actor are filled in by the store.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub kind: &'static str,
    pub rig: Option<String>,
    pub bead: Option<String>,
    pub summary: String,
    pub payload: serde_json::Value,
}

impl NewEvent {
    pub fn new(kind: &'static str, summary: impl Into<String>) -> Self {
        NewEvent {
            kind,
            rig: None,
            bead: None,
            summary: summary.into(),
            payload: serde_json::Value::Object(Default::default()),
        }
    }

    pub fn bead(mut self, id: impl Into<String>) -> Self {
        self.bead = Some(id.into());
        self
    }

    pub fn rig(mut self, rig: impl Into<String>) -> Self {
        self.rig = Some(rig.into());
        self
    }

    pub fn payload(mut self, payload: serde_json::Value) -> Self {
        self.payload = payload;
        self
    }
}

/// Which events to read (`gt trail`). Results are newest last.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Canonical timestamp: only events at or after it.
    pub since: Option<String>,
    /// Only events with an id greater than this (following a feed).
    pub after_id: Option<i64>,
    pub actor: Option<String>,
    pub rig: Option<String>,
    pub bead: Option<String>,
    pub kinds: Vec<String>,
    /// The newest `limit` matching events.
    pub limit: Option<usize>,
}

/// An actor (recorded on every event) is free text, but short and without
/// control characters.
pub fn validate_actor(actor: &str) -> crate::error::Result<()> {
    if actor.is_empty() || actor.chars().count() > 100 {
        return Err(crate::error::Error::invalid(
            "actor must be 1 to 100 characters",
        ));
    }
    if actor.chars().any(char::is_control) {
        return Err(crate::error::Error::invalid(
            "actor must not contain control characters",
        ));
    }
    Ok(())
}
