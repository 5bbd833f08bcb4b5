//! Who is acting: recorded on every event.

use crate::error::{Error, Result};

/// The actor for this process: `GT_ACTOR`, else `GT_AGENT`, else `human`.
pub fn from_env() -> Result<String> {
    let pick = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let actor = pick("GT_ACTOR")
        .or_else(|| pick("GT_AGENT"))
        .unwrap_or_else(|| "human".to_string());
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
