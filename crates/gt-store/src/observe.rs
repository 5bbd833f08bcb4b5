//! Store seam for issue 5: agent screen observations and cheap reads for
//! following the event log.

use gt_core::error::Result;
use gt_core::event::Event;

pub use gt_core::observe::*;

pub trait ObserveStore {
    /// Records samples in one transaction and returns the observations
    /// after the change, in the order given.
    fn record_screens(&self, samples: &[ScreenSample<'_>]) -> Result<Vec<ScreenObservation>>;
    /// Waits up to `timeout` for an event that another connection commits,
    /// and says whether one may have come (the caller then reads the new
    /// events). A backend that cannot be told (SQLite) sleeps the whole
    /// `timeout` and says `true`: its callers poll as before. PostgreSQL
    /// `LISTEN`s for the notification every committed event insert sends,
    /// so a follower wakes within milliseconds and reads nothing while the
    /// town is quiet; a lost listener also answers `true`.
    fn wait_for_events(&self, timeout: std::time::Duration) -> Result<bool> {
        std::thread::sleep(timeout);
        Ok(true)
    }
    /// Every stored observation, by agent.
    fn screen_observations(&self) -> Result<Vec<ScreenObservation>>;
    /// The last screen text recorded for `agent` (a sample with
    /// `screen_text`), if any.
    fn stored_screen(&self, agent: &str) -> Result<Option<StoredScreen>>;
    /// Time of the latest event caused by `actor` (an indexed lookup).
    fn last_event_time_by(&self, actor: &str) -> Result<Option<String>>;
    /// Events with an id greater than `after_id`, oldest first, at most
    /// `limit` (a range scan on the primary key).
    fn events_after(&self, after_id: i64, limit: usize) -> Result<Vec<Event>>;
    /// The id of the first event at or after `time` (canonical), if any.
    fn first_event_id_since(&self, time: &str) -> Result<Option<i64>>;
    /// The states agents' runtime hooks reported (`agent_state`, kept by
    /// `gt agent-report`); empty when the table does not exist.
    fn hook_states(&self) -> Result<Vec<HookState>>;
    /// The id of the newest event, 0 when none (an indexed max): every
    /// committed change appends an event, so a follower compares this with
    /// the last id it read before querying for new events.
    fn event_cursor(&self) -> Result<i64>;
    /// Merge requests waiting or landing, per rig (status `queued` or `landing`).
    fn merge_queue_lengths(&self) -> Result<Vec<(String, u64)>>;
    /// Counts from other features' tables, when they exist.
    fn town_extras(&self) -> Result<TownExtras>;
}
