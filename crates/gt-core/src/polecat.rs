//! Polecats: persistent worker identities in a rig, each with its own worktree.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The themed name pool, used in this order before numbered overflow.
pub const NAME_POOL: &[&str] = &[
    "nux", "slit", "toast", "capable", "dag", "cheedo", "furiosa", "ace", "rictus", "morsov",
    "keeper", "valkyrie", "angharad", "corpus", "scrotus", "organic", "coma", "prime",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolecatState {
    Idle,
    Working,
    Stuck,
    Dead,
}

impl PolecatState {
    pub fn as_str(self) -> &'static str {
        match self {
            PolecatState::Idle => "idle",
            PolecatState::Working => "working",
            PolecatState::Stuck => "stuck",
            PolecatState::Dead => "dead",
        }
    }
}

impl fmt::Display for PolecatState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PolecatState {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "idle" => PolecatState::Idle,
            "working" => PolecatState::Working,
            "stuck" => PolecatState::Stuck,
            "dead" => PolecatState::Dead,
            _ => return Err(Error::invalid(format!("unknown polecat state '{s}'"))),
        })
    }
}

/// A polecat as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Polecat {
    pub rig: String,
    pub name: String,
    pub state: PolecatState,
    /// The bead it holds now.
    pub bead: Option<String>,
    /// Its current (or last) branch.
    pub branch: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl Polecat {
    /// `rig/name`: the agent address.
    pub fn address(&self) -> String {
        format!("{}/{}", self.rig, self.name)
    }
}

/// Names of rigs and polecats: `[a-z0-9][a-z0-9_-]{0,30}`. They become
/// directory names, branch parts and tmux session names, so nothing else is
/// allowed.
pub fn validate_name(kind: &str, name: &str) -> Result<()> {
    validate_name_up_to(kind, name, 31)
}

/// [`validate_name`] with another longest length (host names: 63).
pub fn validate_name_up_to(kind: &str, name: &str, max: usize) -> Result<()> {
    let mut chars = name.chars();
    let ok = name.len() <= max
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "invalid {kind} name '{}': use 1 to {max} characters a-z, 0-9, '_' or '-', starting with a letter or digit",
            name.escape_debug()
        )))
    }
}

/// Splits `rig/polecat`.
pub fn parse_address(addr: &str) -> Result<(String, String)> {
    let (rig, name) = addr.split_once('/').ok_or_else(|| {
        Error::invalid(format!(
            "'{}' is not an agent address: use RIG/POLECAT",
            addr.escape_debug()
        ))
    })?;
    validate_name("rig", rig)?;
    validate_name("polecat", name)?;
    Ok((rig.to_string(), name.to_string()))
}

/// The first pool name not in `taken`, else `pc<N>`.
pub fn next_name(taken: &[String]) -> String {
    for n in NAME_POOL {
        if !taken.iter().any(|t| t == n) {
            return n.to_string();
        }
    }
    (1..)
        .map(|i| format!("pc{i}"))
        .find(|n| !taken.contains(n))
        .expect("unbounded")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["nux", "a", "rig-1", "r_2", "0day", &"a".repeat(31)] {
            assert!(validate_name("rig", ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "..",
            ".",
            "a/b",
            "a:b",
            "a b",
            "Nux",
            "-a",
            "_a",
            "a.b",
            &"a".repeat(32),
            "é",
        ] {
            assert!(validate_name("rig", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pool_then_overflow() {
        assert_eq!(next_name(&[]), "nux");
        assert_eq!(next_name(&["nux".into()]), "slit");
        let all: Vec<String> = NAME_POOL.iter().map(|s| s.to_string()).collect();
        assert_eq!(next_name(&all), "pc1");
        let mut more = all.clone();
        more.push("pc1".into());
        assert_eq!(next_name(&more), "pc2");
    }

    #[test]
    fn addresses() {
        assert_eq!(parse_address("r/nux").unwrap(), ("r".into(), "nux".into()));
        assert!(parse_address("r").is_err());
        assert!(parse_address("r/../x").is_err());
    }
}
