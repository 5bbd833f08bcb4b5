//! [`ObserveStore`] for PostgreSQL. NOT PORTED YET: every method refuses
//! (`unported`) until it mirrors `gt-store-sqlite/src/observe.rs` (see the
//! crate docs for the rules of a port).
#![allow(unused_variables, unused_imports)]

use gt_core::bead::*;
use gt_core::error::Result;
use gt_core::event::*;
use gt_core::merge::*;
use gt_core::polecat::*;
use gt_core::rig::*;
use gt_core::session::*;
use gt_store::costs::*;
use gt_store::deacon::*;
use gt_store::mail::*;
use gt_store::merge::*;
use gt_store::observe::*;
use gt_store::*;

use crate::{unported, PgStore};

impl ObserveStore for PgStore {
    fn record_screens(&self, samples: &[ScreenSample<'_>]) -> Result<Vec<ScreenObservation>> {
        Err(unported("record_screens"))
    }

    fn screen_observations(&self) -> Result<Vec<ScreenObservation>> {
        Err(unported("screen_observations"))
    }

    fn last_event_time_by(&self, actor: &str) -> Result<Option<String>> {
        Err(unported("last_event_time_by"))
    }

    fn events_after(&self, after_id: i64, limit: usize) -> Result<Vec<Event>> {
        Err(unported("events_after"))
    }

    fn first_event_id_since(&self, time: &str) -> Result<Option<i64>> {
        Err(unported("first_event_id_since"))
    }

    fn hook_states(&self) -> Result<Vec<HookState>> {
        Err(unported("hook_states"))
    }

    fn event_cursor(&self) -> Result<i64> {
        Err(unported("event_cursor"))
    }

    fn merge_queue_lengths(&self) -> Result<Vec<(String, u64)>> {
        Err(unported("merge_queue_lengths"))
    }

    fn town_extras(&self) -> Result<TownExtras> {
        Err(unported("town_extras"))
    }
}
