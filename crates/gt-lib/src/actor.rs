//! Who is acting: recorded on every event.

use crate::error::Result;

/// The caller's actor: `GT_ACTOR`, else `GT_AGENT`, else `human`.
pub fn of(caller: &gt_core::caller::CallerEnv) -> Result<String> {
    let actor = caller.actor().unwrap_or("human").to_string();
    validate(&actor)?;
    Ok(actor)
}

/// An actor is free text, but short and without control characters (the
/// rule lives in `gt-core`, where the store backends check it too).
pub use gt_core::event::validate_actor as validate;
