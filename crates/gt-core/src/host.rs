//! Hosts: the machines of a town. A town on SQLite has one host; a town on
//! PostgreSQL has one per `gt init`/`gt join`. Each host has a name, a
//! capacity (how many agents its daemon runs at once), a heartbeat its daemon
//! refreshes every patrol, a state, and an epoch: the fencing token that
//! grows each time the host comes up, so a host that was declared dead and
//! returns can change nothing it no longer owns.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A host's state as stored. `Dead` is written by another host's daemon
/// when the heartbeat is older than `host.dead_after`; see
/// [`Host::observed_state`] for what readers show before that happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostState {
    /// Its daemon runs and heartbeats.
    Up,
    /// Its daemon stopped on purpose (`gt down`), or never started.
    Down,
    /// Its heartbeat went stale while up: its agents' work is given to other
    /// hosts, and its old epoch is fenced.
    Dead,
}

impl HostState {
    pub const fn as_str(self) -> &'static str {
        match self {
            HostState::Up => "up",
            HostState::Down => "down",
            HostState::Dead => "dead",
        }
    }
}

impl std::fmt::Display for HostState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for HostState {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "up" => Ok(HostState::Up),
            "down" => Ok(HostState::Down),
            "dead" => Ok(HostState::Dead),
            _ => Err(Error::invalid(format!(
                "unknown host state '{}': use up, down or dead",
                s.escape_debug()
            ))),
        }
    }
}

/// A host as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Host {
    pub name: String,
    /// How many agents it runs at once; `None` is unlimited.
    pub capacity: Option<u32>,
    pub state: HostState,
    /// Grows by one each time the host comes up (its fencing token).
    pub epoch: i64,
    /// When its daemon last reported (canonical timestamp), if ever.
    pub heartbeat_at: Option<String>,
    pub joined_at: String,
    /// When the state last changed.
    pub state_at: String,
}

impl Host {
    /// The state readers show: an `up` host whose heartbeat is older than
    /// `stale_before` (a canonical timestamp: now − `host.dead_after`) is
    /// shown `dead` even before a daemon writes it so.
    pub fn observed_state(&self, stale_before: &str) -> HostState {
        match self.state {
            HostState::Up if self.is_stale(stale_before) => HostState::Dead,
            s => s,
        }
    }

    /// Up, but with no heartbeat at or after `stale_before`.
    pub fn is_stale(&self, stale_before: &str) -> bool {
        self.state == HostState::Up
            && self
                .heartbeat_at
                .as_deref()
                .is_none_or(|t| t < stale_before)
    }
}

/// A lease: one holder (a host) at a time for a town-wide duty, such as
/// the refinery of a rig (`refinery/<rig>`), until `expires_at` unless
/// renewed. Its epoch grows each time the holder changes (a fencing token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub name: String,
    pub holder: String,
    pub epoch: i64,
    /// When it was taken by its holder (renewals keep it).
    pub taken_at: String,
    /// Canonical timestamp; after it any host may take the lease.
    pub expires_at: String,
}

impl Lease {
    /// Whether it still binds others at `now`.
    pub fn is_held(&self, now: &str) -> bool {
        self.expires_at.as_str() > now
    }
}

/// The lease of the refinery of `rig`.
pub fn refinery_lease(rig: &str) -> String {
    format!("refinery/{rig}")
}

/// The longest host name.
pub const MAX_NAME: usize = 63;

/// Host names: `[a-z0-9][a-z0-9_-]{0,62}` (they appear in tmux, paths and
/// columns).
pub fn validate_host_name(name: &str) -> Result<()> {
    crate::polecat::validate_name_up_to("host", name, MAX_NAME)
}

/// The most agents one host may be given.
pub const MAX_CAPACITY: u32 = 10_000;

/// A host's capacity: `unlimited` or 1 to [`MAX_CAPACITY`].
pub fn parse_capacity(value: &str) -> Result<Option<u32>> {
    match value.trim() {
        "unlimited" => Ok(None),
        v => match v.parse::<u32>() {
            Ok(n) if (1..=MAX_CAPACITY).contains(&n) => Ok(Some(n)),
            _ => Err(Error::invalid(format!(
                "invalid capacity '{}': use 1 to {MAX_CAPACITY} or 'unlimited'",
                value.escape_debug()
            ))),
        },
    }
}

/// A name for this machine's host from its hostname: lowercased, other
/// characters turned into '-', cut to [`MAX_NAME`]; `local` when nothing
/// usable is left.
pub fn host_name_from(hostname: &str) -> String {
    let mut name: String = hostname
        .split('.')
        .next()
        .unwrap_or("")
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(MAX_NAME)
        .collect();
    while name.starts_with(['-', '_']) {
        name.remove(0);
    }
    if name.is_empty() {
        "local".to_string()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(state: HostState, heartbeat: Option<&str>) -> Host {
        Host {
            name: "a".into(),
            capacity: Some(3),
            state,
            epoch: 1,
            heartbeat_at: heartbeat.map(str::to_string),
            joined_at: "2026-01-01T00:00:00.000Z".into(),
            state_at: "2026-01-01T00:00:00.000Z".into(),
        }
    }

    #[test]
    fn an_up_host_with_a_stale_heartbeat_shows_dead() {
        let cut = "2026-01-01T00:01:00.000Z";
        let fresh = host(HostState::Up, Some("2026-01-01T00:01:30.000Z"));
        let stale = host(HostState::Up, Some("2026-01-01T00:00:59.999Z"));
        assert_eq!(fresh.observed_state(cut), HostState::Up);
        assert_eq!(stale.observed_state(cut), HostState::Dead);
        assert_eq!(
            host(HostState::Up, None).observed_state(cut),
            HostState::Dead
        );
        // A host that went down on purpose stays down, however old.
        assert_eq!(
            host(HostState::Down, None).observed_state(cut),
            HostState::Down
        );
        assert!(!host(HostState::Down, None).is_stale(cut));
    }

    #[test]
    fn names_and_capacities_are_checked() {
        for ok in ["a", "host-1", "h_2", "0"] {
            validate_host_name(ok).unwrap();
        }
        let long = "a".repeat(MAX_NAME + 1);
        for bad in ["", "A", "-a", "a b", "a/b", "a\u{0}", "é", &long] {
            assert!(validate_host_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_capacity("3").unwrap(), Some(3));
        assert_eq!(parse_capacity("unlimited").unwrap(), None);
        for bad in ["0", "-1", "x", "10001", ""] {
            assert!(parse_capacity(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_hostname_becomes_a_valid_host_name() {
        assert_eq!(host_name_from("Build-01.example.com"), "build-01");
        assert_eq!(host_name_from("my host"), "my-host");
        assert_eq!(host_name_from(""), "local");
        assert_eq!(host_name_from("..."), "local");
        assert_eq!(host_name_from("-x"), "x");
        let n = host_name_from(&"x".repeat(200));
        validate_host_name(&n).unwrap();
        assert_eq!(host_name_from("ü"), "local");
    }
}
