//! Token usage and cost per agent session (issue 12 §3): the records the
//! store's `CostStore` reads and writes (no I/O).

use serde::Serialize;

use crate::error::{Error, Result};

/// Token counts and cost a runtime reported for one session, as running
/// totals (a later report replaces an earlier one).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
    /// Cost in micro-dollars (1 USD = 1 000 000); `None` when the runtime
    /// does not expose a cost.
    pub cost_micros: Option<i64>,
    /// The model the runtime named, when it named one.
    pub model: Option<String>,
}

impl Usage {
    /// Refuses negative counts, a negative cost and an unreasonable model name.
    pub fn validate(&self) -> Result<()> {
        for (name, v) in [
            ("input_tokens", self.input_tokens),
            ("output_tokens", self.output_tokens),
            ("cache_read_tokens", self.cache_read_tokens),
            ("cache_write_tokens", self.cache_write_tokens),
            ("cost_micros", self.cost_micros.unwrap_or(0)),
        ] {
            if v < 0 {
                return Err(Error::invalid(format!("{name} must not be negative")));
            }
        }
        if let Some(m) = &self.model {
            if m.is_empty() || m.chars().count() > 200 || m.chars().any(char::is_control) {
                return Err(Error::invalid(
                    "model must be 1 to 200 characters without control characters",
                ));
            }
        }
        Ok(())
    }

    /// Input plus output plus cache tokens.
    pub fn total_tokens(&self) -> i64 {
        self.input_tokens
            .saturating_add(self.output_tokens)
            .saturating_add(self.cache_read_tokens)
            .saturating_add(self.cache_write_tokens)
    }
}

/// Where usage was read (`claude-transcript`, `codex-rollout`, …): a short
/// lowercase name.
pub fn validate_source(source: &str) -> Result<()> {
    let ok = !source.is_empty()
        && source.len() <= 40
        && source
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "usage source '{}' must be 1 to 40 of a-z, 0-9, - and _",
            source.escape_debug()
        )))
    }
}

/// A runtime's own conversation id (Claude Code's `session_id`): it goes on
/// the agent's command line (`--resume ID`), so only a plain token is kept.
pub fn validate_agent_session_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && !id.starts_with('-')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "an agent session id must be 1 to 128 of A-Z, a-z, 0-9, -, _ and . (not starting with -)",
        ))
    }
}

/// The stored usage of one session, with what it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionUsage {
    pub session: i64,
    pub rig: String,
    pub polecat: String,
    pub bead: String,
    pub runtime: String,
    #[serde(flatten)]
    pub usage: Usage,
    pub source: String,
    pub updated_at: String,
}

/// How `gt costs` groups sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CostGroup {
    /// `rig/polecat`.
    Agent,
    Rig,
    Bead,
    /// The UTC day (`YYYY-MM-DD`) the session started.
    Day,
}

impl CostGroup {
    pub const ALL: [CostGroup; 4] = [
        CostGroup::Agent,
        CostGroup::Rig,
        CostGroup::Bead,
        CostGroup::Day,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CostGroup::Agent => "agent",
            CostGroup::Rig => "rig",
            CostGroup::Bead => "bead",
            CostGroup::Day => "day",
        }
    }
}

impl std::str::FromStr for CostGroup {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        CostGroup::ALL
            .into_iter()
            .find(|g| g.as_str() == s)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "unknown grouping '{}': use agent, rig, bead or day",
                    s.escape_debug()
                ))
            })
    }
}

/// Summed usage of some sessions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CostTotals {
    /// Sessions with recorded usage.
    pub sessions: u64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
    /// The sum of the known costs (micro-dollars); `None` when no session
    /// had a cost.
    pub cost_micros: Option<i64>,
    /// Sessions whose runtime exposes no cost (not in `cost_micros`).
    pub sessions_without_cost: u64,
}

/// One group of `gt costs --by …`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CostRow {
    /// The agent, rig, bead or day.
    pub key: String,
    #[serde(flatten)]
    pub totals: CostTotals,
}

/// Which usage to sum.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CostQuery {
    /// Only sessions started at or after this canonical time.
    pub since: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_validation() {
        let mut u = Usage {
            input_tokens: 1,
            ..Default::default()
        };
        assert!(u.validate().is_ok());
        u.cache_read_tokens = -1;
        assert!(u.validate().is_err());
        u.cache_read_tokens = 0;
        u.cost_micros = Some(-5);
        assert!(u.validate().is_err());
        u.cost_micros = None;
        u.model = Some("a\nb".into());
        assert!(u.validate().is_err());
        assert!(validate_source("claude-transcript").is_ok());
        assert!(validate_source("Claude").is_err());
        assert!(validate_agent_session_id("4f1c2d3e-aaaa-bbbb-cccc-0123456789ab").is_ok());
        for bad in ["", "-rf", "a b", "x;y", &"a".repeat(129)] {
            assert!(validate_agent_session_id(bad).is_err(), "{bad}");
        }
        assert_eq!("day".parse::<CostGroup>().unwrap(), CostGroup::Day);
        assert!("nope".parse::<CostGroup>().is_err());
    }
}
