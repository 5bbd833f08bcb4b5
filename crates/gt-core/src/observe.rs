//! Observe records the store traits read and write (no I/O).

use serde::Serialize;

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
    /// The captured text itself, kept for other hosts' `gt peek` (given in
    /// a town with a shared store, for a sample of an open session); `None`
    /// leaves the text stored before.
    pub screen_text: Option<&'a str>,
}

/// The last screen of an agent's open session as its host captured it,
/// for `gt peek` on another host of the town.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredScreen {
    /// `rig/polecat`.
    pub agent: String,
    pub session_id: i64,
    pub screen: String,
    pub captured_at: String,
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
