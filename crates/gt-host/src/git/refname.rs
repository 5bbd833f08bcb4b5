//! Validation of branch names, ref names, revisions and object ids: stricter
//! than git's own, so that a name that passes can never be read as an option.

use super::*;

/// Checks a short branch name strictly: ASCII letters, digits, `/`, `-`,
/// `_`, `.`; 1 to 200 bytes; no leading `-`; no empty, dot-leading or
/// `.lock`-ending component; no `..`; not `HEAD`. Everything accepted is also
/// accepted by `git check-ref-format --branch`.
pub fn validate_branch_name(name: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::invalid(format!(
            "invalid branch name '{}': {why}",
            name.escape_debug()
        )))
    };
    if name.is_empty() || name.len() > 200 {
        return bad("must be 1 to 200 characters");
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.')))
    {
        return bad(&format!("character '{}' is not allowed", c.escape_debug()));
    }
    if name.starts_with('-') {
        return bad("must not start with '-'");
    }
    if name == "HEAD" {
        return bad("HEAD is reserved");
    }
    if name.contains("..") {
        return bad("must not contain '..'");
    }
    for part in name.split('/') {
        if part.is_empty() {
            return bad("must not have an empty component");
        }
        if part.starts_with('.') {
            return bad("a component must not start with '.'");
        }
        if part.ends_with(".lock") {
            return bad("a component must not end with '.lock'");
        }
    }
    if name.ends_with('.') {
        return bad("must not end with '.'");
    }
    Ok(())
}

/// A full ref name: `refs/` followed by a valid branch-like name.
pub fn validate_ref_name(refname: &str) -> Result<()> {
    match refname.strip_prefix("refs/") {
        Some(rest) => validate_branch_name(rest)
            .map_err(|_| Error::invalid(format!("invalid ref name '{}'", refname.escape_debug()))),
        None => Err(Error::invalid(format!(
            "invalid ref name '{}': must start with refs/",
            refname.escape_debug()
        ))),
    }
}

/// A revision (`main`, `polecat/x~2`, an object id, `HEAD`): non-empty, at
/// most 256 bytes, not starting with `-`, no whitespace, control characters
/// or `..` (ranges are built by the callee).
pub fn validate_rev(rev: &str) -> Result<()> {
    if rev.is_empty()
        || rev.len() > 256
        || rev.starts_with('-')
        || rev.contains("..")
        || rev.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Error::invalid(format!(
            "invalid revision '{}'",
            rev.escape_debug()
        )));
    }
    Ok(())
}

pub(super) fn validate_oid(oid: &str) -> Result<()> {
    if (oid.len() == 40 || oid.len() == 64) && oid.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "'{}' is not a full object id",
            oid.escape_debug()
        )))
    }
}

/// A branch pattern: a branch name that may also contain `*` and end with `/`.
pub(super) fn validate_branch_pattern(pattern: &str) -> Result<()> {
    let probe = pattern.replace('*', "x");
    let probe = probe.strip_suffix('/').unwrap_or(&probe);
    validate_branch_name(probe).map_err(|_| {
        Error::invalid(format!(
            "invalid branch pattern '{}'",
            pattern.escape_debug()
        ))
    })
}
