//! Store seam for issue 5: agent screen observations and cheap reads for
//! following the event log.

use serde::Serialize;

use crate::error::Result;
use crate::event::Event;

/// What gt last saw on an agent's screen. Recorded when `gt status`,
/// `gt feed`, `gt agents` or the deacon sample a pane (never as events).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScreenObservation {
    /// `rig/polecat`.
    pub agent: String,
    /// The session the samples belong to; a new session starts afresh.
    pub session_id: Option<i64>,
    /// Hash of the captured screen text.
    pub screen_hash: String,
    /// First sample of this session.
    pub first_observed_at: String,
    /// When a sample differed from the previous one; `None` while every
    /// sample of this session was the same (the screen has not been seen to
    /// change since `first_observed_at`).
    pub screen_changed_at: Option<String>,
    /// The latest sample.
    pub observed_at: String,
    /// What the latest sample showed ([`crate::problems::Screen`] encoded),
    /// reused while the pane has had no output since.
    pub screen_kind: Option<String>,
}

/// One screen sample to record.
#[derive(Debug, Clone)]
pub struct ScreenSample<'a> {
    pub agent: &'a str,
    pub session_id: Option<i64>,
    pub screen_hash: &'a str,
    pub screen_kind: &'a str,
}

/// Counts kept by other parts of gt, read when their tables exist in this
/// town's database (`None` when the table is not there).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TownExtras {
    /// Unread mail addressed to `human`.
    pub unread_mail_for_human: Option<u64>,
    /// Escalations not yet resolved.
    pub open_escalations: Option<u64>,
    /// Convoys not yet closed.
    pub open_convoys: Option<u64>,
}

/// What an agent's runtime hooks last reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookState {
    pub agent: String,
    /// `working`, `idle` or `waiting-for-input`.
    pub state: String,
    pub updated_at: String,
}

pub trait ObserveStore {
    /// Records samples in one transaction and returns the observations
    /// after the change, in the order given.
    fn record_screens(&self, samples: &[ScreenSample<'_>]) -> Result<Vec<ScreenObservation>>;
    /// Every stored observation, by agent.
    fn screen_observations(&self) -> Result<Vec<ScreenObservation>>;
    /// Time of the latest event caused by `actor` (an indexed lookup).
    fn last_event_time_by(&self, actor: &str) -> Result<Option<String>>;
    /// Events with an id greater than `after_id`, oldest first, at most
    /// `limit` (a range scan on the primary key).
    fn events_after(&self, after_id: i64, limit: usize) -> Result<Vec<Event>>;
    /// The id of the newest event (0 when none).
    fn last_event_id(&self) -> Result<i64>;
    /// The id of the first event at or after `time` (canonical), if any.
    fn first_event_id_since(&self, time: &str) -> Result<Option<i64>>;
    /// The states agents' runtime hooks reported (`agent_state`, kept by
    /// `gt agent-report`); empty when the table does not exist.
    fn hook_states(&self) -> Result<Vec<HookState>>;
    /// Changes whenever another connection commits (SQLite `data_version`):
    /// a free check before querying for new events.
    fn data_version(&self) -> Result<i64>;
    /// Merge requests waiting or landing, per rig (status `queued` or `landing`).
    fn merge_queue_lengths(&self) -> Result<Vec<(String, u64)>>;
    /// Counts from other features' tables, when they exist.
    fn town_extras(&self) -> Result<TownExtras>;
}
