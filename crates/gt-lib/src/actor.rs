//! Who is acting: recorded on every event.

use crate::error::{Error, Result};

/// The caller's actor: `GT_ACTOR`, else `GT_AGENT`, else `human`.
pub fn of(caller: &gt_core::caller::CallerEnv) -> Result<String> {
    let actor = caller.actor().unwrap_or("human").to_string();
    validate(&actor)?;
    Ok(actor)
}

/// An actor is free text, but short and without control characters.
pub fn validate(actor: &str) -> Result<()> {
    if actor.is_empty() || actor.chars().count() > 100 {
        return Err(Error::invalid("actor must be 1 to 100 characters"));
    }
    if actor.chars().any(char::is_control) {
        return Err(Error::invalid("actor must not contain control characters"));
    }
    Ok(())
}
