//! What gt hands to tmux, checked and escaped: session and socket names,
//! targets, and arguments that tmux would otherwise split into commands.

use super::*;

/// Session names: 1 to 100 ASCII letters, digits, `-` and `_`, not starting
/// with `-`. This is stricter than tmux needs (it only mangles `.` and `:`):
/// it also keeps out whitespace, control characters, `;`, `#`, `=` and
/// target prefixes like `%`, `$`, `@`.
pub fn validate_session_name(name: &str) -> Result<()> {
    if plain_name(name, 100) && !name.starts_with('-') {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "invalid tmux session name '{}': use 1 to 100 letters, digits, '-' or '_'",
            name.escape_debug()
        )))
    }
}

pub(super) fn validate_socket_name(name: &str) -> Result<()> {
    if plain_name(name, 64) {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "invalid tmux socket name '{}'",
            name.escape_debug()
        )))
    }
}

/// 1 to `max` ASCII letters, digits, `-` or `_`: safe in a tmux target and
/// a file name.
fn plain_name(name: &str, max: usize) -> bool {
    !name.is_empty()
        && name.len() <= max
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Protects one argument from tmux's command splitting: an argument ending
/// in `;` separates commands, one ending in `\;` is taken as ending in `;`.
pub(crate) fn escape_arg(arg: &str) -> String {
    match arg.strip_suffix(';') {
        Some(head) => format!("{head}\\;"),
        None => arg.to_string(),
    }
}

/// `=NAME`: exactly the session NAME.
pub(super) fn session_target(name: &str) -> String {
    format!("={name}")
}

/// `=NAME:`: the active pane of the current window of exactly session NAME.
pub(super) fn pane_target(name: &str) -> String {
    format!("={name}:")
}
