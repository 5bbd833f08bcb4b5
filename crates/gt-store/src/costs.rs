//! Store seam for issue 12 §3: token usage and cost per session, and the
//! runtime's own conversation id of a session (for resuming it).

use gt_core::error::Result;

pub use gt_core::costs::*;

pub trait CostStore {
    /// Records the usage of `session` read from `source`, replacing what was
    /// recorded before (runtimes report running totals), in one transaction
    /// with a `session.usage` event. From the same source, the cost is the
    /// larger known one (a running cost only grows; a reading without a cost
    /// keeps it); the tokens are the new reading's. The same
    /// totals again change nothing and append no event. Refuses an unknown
    /// session and negative numbers.
    fn record_usage(
        &self,
        session: i64,
        usage: &Usage,
        source: &str,
        actor: &str,
    ) -> Result<SessionUsage>;
    /// The usage recorded for `session`, if any.
    fn session_usage(&self, session: i64) -> Result<Option<SessionUsage>>;
    /// Records the runtime's own conversation id of `session` (with a
    /// `session.agent_id` event; the same id again appends nothing).
    fn set_agent_session_id(&self, session: i64, id: &str, actor: &str) -> Result<()>;
    /// The runtime's conversation id recorded for `session`.
    fn agent_session_id(&self, session: i64) -> Result<Option<String>>;
    /// Usage summed per agent, rig, bead or day (by key).
    fn costs_by(&self, group: CostGroup, q: &CostQuery) -> Result<Vec<CostRow>>;
    /// Usage summed over every session matching `q`.
    fn cost_totals(&self, q: &CostQuery) -> Result<CostTotals>;
}
