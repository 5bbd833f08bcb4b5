//! `gt.toml`: the town's configuration. Keys are typed and validated; unknown
//! keys are refused. Writes keep the user's comments and formatting.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TownConfig {
    pub town: TownSection,
    #[serde(default, skip_serializing_if = "DeaconConfig::is_default")]
    pub deacon: DeaconConfig,
    #[serde(default, skip_serializing_if = "SchedulerConfig::is_default")]
    pub scheduler: SchedulerConfig,
    #[serde(default, skip_serializing_if = "RigDefaults::is_default")]
    pub rig: RigDefaults,
    #[serde(default, skip_serializing_if = "RuntimeConfig::is_default")]
    pub runtime: RuntimeConfig,
    /// Custom agents: name → command line (`gt config agent set`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub agents: std::collections::BTreeMap<String, AgentConfig>,
    /// Where the town's shared state lives when it is not the embedded
    /// `.gt/town.db` (`gt init --store`). Chosen once, at init: not a
    /// `gt config` key, and never printed with its password.
    #[serde(default, skip_serializing_if = "StoreConfig::is_default")]
    pub store: StoreConfig,
    /// This host of the town (`gt init --host`, `gt join --host`) and the
    /// hosts' settings.
    #[serde(default, skip_serializing_if = "HostConfig::is_default")]
    pub host: HostConfig,
    /// `gt dashboard`'s settings.
    #[serde(default, skip_serializing_if = "DashboardConfig::is_default")]
    pub dashboard: DashboardConfig,
}

/// `[dashboard]` in gt.toml: the PEM certificate chain and key that make
/// `gt dashboard` serve HTTPS (a relative path is from the town root).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DashboardConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<String>,
}

impl DashboardConfig {
    fn is_default(&self) -> bool {
        *self == DashboardConfig::default()
    }
}

/// `[host]` in gt.toml.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HostConfig {
    /// This host's name in the town (chosen at `gt init`/`gt join`; not a
    /// `gt config` key). Unset: `local`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A host whose daemon has not reported for this long is dead: its
    /// agents' work goes to other hosts.
    pub dead_after: String,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            name: None,
            dead_after: "2m".into(),
        }
    }
}

impl HostConfig {
    fn is_default(&self) -> bool {
        *self == HostConfig::default()
    }

    /// This host's name.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or(DEFAULT_HOST)
    }

    pub fn dead_after(&self) -> time::Duration {
        crate::clock::parse_duration(&self.dead_after).unwrap_or(time::Duration::minutes(2))
    }
}

/// The name of a town's host when none was chosen.
pub const DEFAULT_HOST: &str = "local";

/// `[store]` in gt.toml.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// A PostgreSQL URL (`postgres://user@host:port/db`); none: SQLite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl StoreConfig {
    fn is_default(&self) -> bool {
        self.url.is_none()
    }
}

/// Checks a `--store` URL: PostgreSQL's `postgres://` or `postgresql://`
/// form, printable characters only.
pub fn validate_store_url(url: &str) -> Result<()> {
    let scheme_ok = url.starts_with("postgres://") || url.starts_with("postgresql://");
    if !scheme_ok || url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Error::invalid(
            "a store is a PostgreSQL URL: postgres://USER@HOST[:PORT]/DATABASE",
        ));
    }
    Ok(())
}

/// Deacon thresholds (`deacon.*`); durations like `30s`, `10m`, `2h`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeaconConfig {
    /// How often the daemon patrols.
    pub interval: String,
    /// No activity for this long: the agent is stalled and gets nudged.
    pub stall_after: String,
    /// Still stalled this long after the nudge: escalate to human.
    pub escalate_after: String,
    /// Restarts of a dead session before the bead is given back.
    pub max_restarts: u32,
    /// First wait before a restart; doubles with each further restart.
    pub restart_backoff: String,
    /// Orphans (sessions and worktrees nobody owns) are cleaned after this.
    pub orphan_grace: String,
    /// How long dispatch holds for a runtime that hit its rate limit.
    pub rate_limit_wait: String,
}

impl Default for DeaconConfig {
    fn default() -> Self {
        DeaconConfig {
            interval: "30s".into(),
            stall_after: "15m".into(),
            escalate_after: "30m".into(),
            max_restarts: 3,
            restart_backoff: "10s".into(),
            orphan_grace: "10m".into(),
            rate_limit_wait: "15m".into(),
        }
    }
}

impl DeaconConfig {
    fn is_default(&self) -> bool {
        *self == DeaconConfig::default()
    }

    fn text(&self, which: &str) -> &str {
        match which {
            "interval" => &self.interval,
            "stall_after" => &self.stall_after,
            "escalate_after" => &self.escalate_after,
            "restart_backoff" => &self.restart_backoff,
            "orphan_grace" => &self.orphan_grace,
            _ => &self.rate_limit_wait,
        }
    }

    pub fn duration(&self, which: &str) -> time::Duration {
        crate::clock::parse_duration(self.text(which)).unwrap_or(time::Duration::seconds(30))
    }
}

/// Settings of every rig (`rig.*`); durations like `30s`, `10m`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RigDefaults {
    /// `gt rig add` gives up on a clone that takes longer.
    pub clone_timeout: String,
    /// A sling fetches the rig's upstream at most this often.
    pub fetch_interval: String,
}

impl Default for RigDefaults {
    fn default() -> Self {
        RigDefaults {
            clone_timeout: "10m".into(),
            fetch_interval: "60s".into(),
        }
    }
}

impl RigDefaults {
    fn is_default(&self) -> bool {
        *self == RigDefaults::default()
    }

    /// `clone_timeout` or `fetch_interval` as a duration.
    pub fn duration(&self, which: &str) -> std::time::Duration {
        let (text, fallback) = match which {
            "clone_timeout" => (&self.clone_timeout, 600),
            _ => (&self.fetch_interval, 60),
        };
        crate::clock::parse_duration(text)
            .ok()
            .and_then(|d| std::time::Duration::try_from(d).ok())
            .unwrap_or(std::time::Duration::from_secs(fallback))
    }
}

/// The range a `[deacon]` duration must lie in. The patrol interval and the
/// restart backoff are short by nature; the rest may be long. One second is
/// the least anything may be (`0s` would patrol in a busy loop).
pub fn duration_range(which: &str) -> (time::Duration, time::Duration) {
    let max = match which {
        "interval" | "restart_backoff" | "fetch_interval" => time::Duration::hours(1),
        "clone_timeout" => time::Duration::days(1),
        _ => time::Duration::days(30),
    };
    (time::Duration::seconds(1), max)
}

fn show_duration(d: time::Duration) -> String {
    let s = d.whole_seconds();
    match s {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// Checks one value of `key` as `gt config set` and reading gt.toml both do;
/// the message names the key.
fn check_value(spec: &KeySpec, value: &str) -> Result<()> {
    let key = spec.key;
    match spec.kind {
        KeyKind::TownName => validate_town_name(value),
        KeyKind::Prefix => crate::id::validate_prefix(value),
        KeyKind::Agent => crate::runtime::validate_agent_name(value),
        KeyKind::EnvList => check_env_list(key, value),
        KeyKind::DashboardFile(_) => {
            if value.chars().any(char::is_control) {
                return Err(Error::invalid(format!(
                    "{key} must be a path without control characters"
                )));
            }
            Ok(())
        }
        KeyKind::Duration(_) | KeyKind::RigDuration(_) | KeyKind::HostDeadAfter => {
            let which = match spec.kind {
                KeyKind::Duration(w) | KeyKind::RigDuration(w) => w,
                _ => "dead_after",
            };
            let (min, max) = duration_range(which);
            let d = crate::clock::parse_duration(value)
                .map_err(|e| Error::invalid(format!("{key}: {e}")))?;
            if d < min || d > max {
                return Err(Error::invalid(format!(
                    "{key} must be from {} to {}, not '{}'",
                    show_duration(min),
                    show_duration(max),
                    value.escape_debug()
                )));
            }
            Ok(())
        }
        KeyKind::Count => match value.trim().parse::<u32>() {
            Ok(n) if n <= 100 => Ok(()),
            _ => Err(Error::invalid(format!(
                "{key} must be a whole number from 0 to 100, not '{}'",
                value.escape_debug()
            ))),
        },
        KeyKind::MaxPolecats => match value.trim() {
            "unlimited" => Ok(()),
            v => match v.parse::<u32>() {
                Ok(n) if (1..=10_000).contains(&n) => Ok(()),
                _ => Err(Error::invalid(format!(
                    "{key} must be a whole number from 1 to 10000, or unlimited, not '{}'",
                    value.escape_debug()
                ))),
            },
        },
    }
}

impl DeaconConfig {}

/// What every agent session takes from the caller (`runtime.*`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeConfig {
    /// More variables passed to every session: `NAME,PREFIX_*`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
}

impl RuntimeConfig {
    fn is_default(&self) -> bool {
        *self == RuntimeConfig::default()
    }

    /// The patterns of `runtime.env` (`NAME` or `PREFIX*`).
    pub fn env_patterns(&self) -> Vec<String> {
        self.env
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect()
    }
}

/// `runtime.env`: comma-separated `NAME` or `PREFIX*`, each made of
/// `A-Z a-z 0-9 _` (a `*` only at the end).
fn check_env_list(key: &str, value: &str) -> Result<()> {
    for p in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let name = p.strip_suffix('*').unwrap_or(p);
        let ok = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if !ok {
            return Err(Error::invalid(format!(
                "{key}: '{}' is not a variable name or PREFIX*",
                p.escape_debug()
            )));
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchedulerConfig {
    /// Most live polecat sessions at once; unlimited when unset.
    pub max_polecats: Option<u32>,
}

impl SchedulerConfig {
    fn is_default(&self) -> bool {
        *self == SchedulerConfig::default()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// `COMMAND [ARGS...]`, split like a shell would but never run by one.
    pub command: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TownSection {
    pub name: String,
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// The agent runtime used when neither `--agent` nor the rig names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_agent: Option<String>,
}

fn default_prefix() -> String {
    "hq".to_string()
}

/// The kind of value a key holds, which decides its validation.
#[derive(Debug, Clone, Copy)]
enum KeyKind {
    TownName,
    Prefix,
    Agent,
    /// A duration under `[deacon]`.
    Duration(&'static str),
    /// A count under `[deacon]`.
    Count,
    /// A count, or `unlimited` to remove the limit.
    MaxPolecats,
    /// A duration under `[rig]`.
    RigDuration(&'static str),
    /// `runtime.env`: variable names and prefixes.
    EnvList,
    /// `host.dead_after`.
    HostDeadAfter,
    /// A file under `[dashboard]`; empty unsets it.
    DashboardFile(&'static str),
}

/// A settable key.
#[derive(Debug, Clone, Copy)]
pub struct KeySpec {
    pub key: &'static str,
    kind: KeyKind,
    pub doc: &'static str,
}

pub const KEYS: &[KeySpec] = &[
    KeySpec {
        key: "town.name",
        kind: KeyKind::TownName,
        doc: "the town's display name",
    },
    KeySpec {
        key: "town.prefix",
        kind: KeyKind::Prefix,
        doc: "id prefix of town-level beads (e.g. hq → hq-4k2m)",
    },
    KeySpec {
        key: "town.default_agent",
        kind: KeyKind::Agent,
        doc: "agent runtime used when neither --agent nor the rig names one (default claude)",
    },
    KeySpec {
        key: "deacon.interval",
        kind: KeyKind::Duration("interval"),
        doc: "how often the deacon patrols (default 30s)",
    },
    KeySpec {
        key: "deacon.stall_after",
        kind: KeyKind::Duration("stall_after"),
        doc: "no activity this long: nudge the agent (default 15m)",
    },
    KeySpec {
        key: "deacon.escalate_after",
        kind: KeyKind::Duration("escalate_after"),
        doc: "still stalled this long after the nudge: escalate to human (default 30m)",
    },
    KeySpec {
        key: "deacon.max_restarts",
        kind: KeyKind::Count,
        doc: "restarts of a dead session before its bead is given back (default 3)",
    },
    KeySpec {
        key: "deacon.restart_backoff",
        kind: KeyKind::Duration("restart_backoff"),
        doc: "wait before a restart, doubled each time (default 10s)",
    },
    KeySpec {
        key: "deacon.orphan_grace",
        kind: KeyKind::Duration("orphan_grace"),
        doc: "orphaned sessions and worktrees are cleaned after this (default 10m)",
    },
    KeySpec {
        key: "deacon.rate_limit_wait",
        kind: KeyKind::Duration("rate_limit_wait"),
        doc: "dispatch holds this long for a rate-limited runtime (default 15m)",
    },
    KeySpec {
        key: "scheduler.max_polecats",
        kind: KeyKind::MaxPolecats,
        doc: "most live agent sessions at once, or unlimited (default)",
    },
    KeySpec {
        key: "rig.clone_timeout",
        kind: KeyKind::RigDuration("clone_timeout"),
        doc: "gt rig add gives up on a clone taking longer (default 10m)",
    },
    KeySpec {
        key: "rig.fetch_interval",
        kind: KeyKind::RigDuration("fetch_interval"),
        doc: "a sling fetches the rig's upstream at most this often (default 60s)",
    },
    KeySpec {
        key: "runtime.env",
        kind: KeyKind::EnvList,
        doc: "more caller variables every agent session gets: NAME,PREFIX_* (default none)",
    },
    KeySpec {
        key: "host.dead_after",
        kind: KeyKind::HostDeadAfter,
        doc: "a host whose daemon has not reported this long is dead; its work moves (default 2m)",
    },
    KeySpec {
        key: "dashboard.tls_cert",
        kind: KeyKind::DashboardFile("tls_cert"),
        doc: "PEM certificate chain: gt dashboard serves HTTPS (with dashboard.tls_key; empty: unset)",
    },
    KeySpec {
        key: "dashboard.tls_key",
        kind: KeyKind::DashboardFile("tls_key"),
        doc: "PEM private key of dashboard.tls_cert (empty: unset)",
    },
];

fn spec(key: &str) -> Result<&'static KeySpec> {
    KEYS.iter().find(|k| k.key == key).ok_or_else(|| {
        Error::invalid(format!(
            "unknown config key '{}': known keys are {}",
            key.escape_debug(),
            KEYS.iter().map(|k| k.key).collect::<Vec<_>>().join(", ")
        ))
    })
}

pub fn validate_town_name(name: &str) -> Result<()> {
    let n = name.chars().count();
    if name.trim().is_empty() || n > 64 || name.chars().any(|c| c.is_control()) {
        return Err(Error::invalid(
            "town name must be 1 to 64 characters without control characters",
        ));
    }
    Ok(())
}

impl TownConfig {
    pub fn new(name: &str) -> Result<Self> {
        validate_town_name(name)?;
        Ok(TownConfig {
            town: TownSection {
                name: name.to_string(),
                prefix: default_prefix(),
                default_agent: None,
            },
            deacon: Default::default(),
            scheduler: Default::default(),
            rig: Default::default(),
            runtime: Default::default(),
            agents: Default::default(),
            store: Default::default(),
            host: Default::default(),
            dashboard: Default::default(),
        })
    }

    /// Reads and validates gt.toml. A value `gt config set` would refuse is
    /// refused here too (exit 3), naming the file and the key.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Environment(format!("cannot read {}: {e}", path.display())))?;
        Self::parse(&text, path).map_err(|e| match e {
            Error::Invalid(m) => {
                Error::Environment(format!("{}: {m}; edit the file to fix it", path.display()))
            }
            other => other,
        })
    }

    fn parse(text: &str, path: &Path) -> Result<Self> {
        let cfg: TownConfig = toml::from_str(text).map_err(|e| {
            Error::Environment(format!(
                "{} is not a valid town config: {}",
                path.display(),
                e.message()
            ))
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<()> {
        validate_town_name(&self.town.name)?;
        crate::id::validate_prefix(&self.town.prefix)?;
        if let Some(url) = &self.store.url {
            validate_store_url(url)?;
        }
        if let Some(name) = &self.host.name {
            gt_core::host::validate_host_name(name)?;
        }
        for spec in KEYS {
            if matches!(
                spec.kind,
                KeyKind::Duration(_)
                    | KeyKind::RigDuration(_)
                    | KeyKind::Count
                    | KeyKind::MaxPolecats
                    | KeyKind::EnvList
                    | KeyKind::HostDeadAfter
            ) {
                check_value(spec, &self.get(spec.key)?)?;
            }
        }
        for (name, a) in &self.agents {
            crate::runtime::custom(name, &a.command)?;
        }
        if let Some(a) = &self.town.default_agent {
            self.runtime(a)?;
        }
        Ok(())
    }

    pub fn max_polecats(&self) -> Option<u32> {
        self.scheduler.max_polecats
    }

    pub fn default_agent(&self) -> Option<&str> {
        self.town.default_agent.as_deref()
    }

    /// The runtime called `name`: a custom agent of this town, else a preset.
    pub fn runtime(&self, name: &str) -> Result<crate::runtime::Runtime> {
        if let Some(a) = self.agents.get(name) {
            return crate::runtime::custom(name, &a.command);
        }
        crate::runtime::preset(name).ok_or_else(|| {
            let mut known: Vec<String> = crate::runtime::presets()
                .into_iter()
                .map(|r| r.name)
                .collect();
            known.extend(self.agents.keys().cloned());
            Error::invalid(format!(
                "unknown agent '{}': known agents are {}",
                name.escape_debug(),
                known.join(", ")
            ))
        })
    }

    pub fn to_toml(&self) -> String {
        let body = toml::to_string_pretty(self).expect("config serializes");
        format!("# Gas Town configuration. Edit with `gt config set KEY VALUE`.\n\n{body}")
    }

    /// The value of `key` as text.
    pub fn get(&self, key: &str) -> Result<String> {
        let spec = spec(key)?;
        Ok(match spec.kind {
            KeyKind::TownName => self.town.name.clone(),
            KeyKind::Prefix => self.town.prefix.clone(),
            KeyKind::Agent => self
                .town
                .default_agent
                .clone()
                .unwrap_or_else(|| "claude".to_string()),
            KeyKind::Duration(which) => match which {
                "interval" => self.deacon.interval.clone(),
                "stall_after" => self.deacon.stall_after.clone(),
                "escalate_after" => self.deacon.escalate_after.clone(),
                "restart_backoff" => self.deacon.restart_backoff.clone(),
                "orphan_grace" => self.deacon.orphan_grace.clone(),
                _ => self.deacon.rate_limit_wait.clone(),
            },
            KeyKind::Count => self.deacon.max_restarts.to_string(),
            KeyKind::MaxPolecats => self
                .scheduler
                .max_polecats
                .map(|n| n.to_string())
                .unwrap_or_else(|| "unlimited".into()),
            KeyKind::RigDuration(which) => match which {
                "clone_timeout" => self.rig.clone_timeout.clone(),
                _ => self.rig.fetch_interval.clone(),
            },
            KeyKind::EnvList => self.runtime.env.clone().unwrap_or_default(),
            KeyKind::HostDeadAfter => self.host.dead_after.clone(),
            KeyKind::DashboardFile(which) => match which {
                "tls_cert" => self.dashboard.tls_cert.clone(),
                _ => self.dashboard.tls_key.clone(),
            }
            .unwrap_or_default(),
        })
    }

    /// Every key with its current value.
    pub fn list(&self) -> Vec<(&'static str, String, &'static str)> {
        KEYS.iter()
            .map(|k| (k.key, self.get(k.key).unwrap_or_default(), k.doc))
            .collect()
    }
}

/// Sets `key` to `value` in the config file at `path`, keeping comments and
/// layout, after validating both the value and the resulting file.
pub fn set(path: &Path, key: &str, value: &str) -> Result<TownConfig> {
    set_in(Doc::File(path), key, value).map(|(_, c)| c)
}

/// [`set`] on the shared settings document `text` of a town of several
/// hosts: the new document (checked as a whole config).
pub fn set_text(text: &str, key: &str, value: &str) -> Result<String> {
    set_in(Doc::Text(text), key, value).map(|(t, _)| t)
}

fn set_in(target: Doc<'_>, key: &str, value: &str) -> Result<(String, TownConfig)> {
    let spec = spec(key)?;
    check_value(spec, value)?;
    let item = match spec.kind {
        KeyKind::TownName | KeyKind::Prefix | KeyKind::Agent => toml_edit::value(value),
        KeyKind::EnvList => toml_edit::value(value.trim()),
        KeyKind::DashboardFile(which) => {
            if value.trim().is_empty() {
                return edit_doc(target, |doc| {
                    if let Some(t) = doc.get_mut("dashboard").and_then(|s| s.as_table_mut()) {
                        t.remove(which);
                    }
                    Ok(())
                });
            }
            toml_edit::value(value.trim())
        }
        KeyKind::Duration(_) | KeyKind::RigDuration(_) | KeyKind::HostDeadAfter => {
            toml_edit::value(value.trim())
        }
        KeyKind::Count => {
            let n: u32 = value.trim().parse().unwrap_or_default();
            toml_edit::value(i64::from(n))
        }
        KeyKind::MaxPolecats => {
            if value.trim() == "unlimited" {
                return edit_doc(target, |doc| {
                    if let Some(t) = doc.get_mut("scheduler").and_then(|s| s.as_table_mut()) {
                        t.remove("max_polecats");
                    }
                    Ok(())
                });
            }
            let n: u32 = value.trim().parse().unwrap_or(1);
            toml_edit::value(i64::from(n))
        }
    };
    edit_doc(target, |doc| {
        let mut parts: Vec<&str> = key.split('.').collect();
        let last = parts.pop().expect("keys have a name");
        let mut table = doc.as_table_mut();
        for p in parts {
            let entry = table
                .entry(p)
                .or_insert_with(|| toml_edit::Item::Table(toml_edit::Table::new()));
            table = entry
                .as_table_mut()
                .ok_or_else(|| Error::Environment(format!("{p} in gt.toml is not a table")))?;
        }
        table.insert(last, item.clone());
        Ok(())
    })
}

/// Adds or replaces a custom agent (`[agents.NAME] command = "..."`).
pub fn set_agent(path: &Path, name: &str, command_line: &str) -> Result<TownConfig> {
    set_agent_in(Doc::File(path), name, command_line).map(|(_, c)| c)
}

/// [`set_agent`] on a shared settings document (see [`set_text`]).
pub fn set_agent_text(text: &str, name: &str, command_line: &str) -> Result<String> {
    set_agent_in(Doc::Text(text), name, command_line).map(|(t, _)| t)
}

fn set_agent_in(target: Doc<'_>, name: &str, command_line: &str) -> Result<(String, TownConfig)> {
    crate::runtime::custom(name, command_line)?;
    edit_doc(target, |doc| {
        let agents = doc
            .entry("agents")
            .or_insert_with(|| {
                let mut t = toml_edit::Table::new();
                t.set_implicit(true);
                toml_edit::Item::Table(t)
            })
            .as_table_mut()
            .ok_or_else(|| Error::Environment("agents in gt.toml is not a table".into()))?;
        let mut t = toml_edit::Table::new();
        t.insert("command", toml_edit::value(command_line));
        agents.insert(name, toml_edit::Item::Table(t));
        Ok(())
    })
}

/// Removes a custom agent.
pub fn remove_agent(path: &Path, name: &str) -> Result<TownConfig> {
    remove_agent_in(Doc::File(path), name).map(|(_, c)| c)
}

/// [`remove_agent`] on a shared settings document (see [`set_text`]).
pub fn remove_agent_text(text: &str, name: &str) -> Result<String> {
    remove_agent_in(Doc::Text(text), name).map(|(t, _)| t)
}

fn remove_agent_in(target: Doc<'_>, name: &str) -> Result<(String, TownConfig)> {
    edit_doc(target, |doc| {
        let removed = doc
            .get_mut("agents")
            .and_then(|a| a.as_table_mut())
            .and_then(|t| t.remove(name));
        if removed.is_none() {
            return Err(Error::not_found("custom agent", name));
        }
        Ok(())
    })
}

/// What a change edits: gt.toml, or the shared settings of a town of
/// several hosts (kept in its store).
#[derive(Clone, Copy)]
enum Doc<'a> {
    File(&'a Path),
    Text(&'a str),
}

/// What the shared settings are called in messages.
const SHARED: &str = "the town's shared settings";

/// Reads the document, applies `change`, validates the result, and (for
/// gt.toml) writes it atomically; comments and layout are kept. Returns the
/// new text and its config.
fn edit_doc(
    target: Doc<'_>,
    change: impl FnOnce(&mut toml_edit::DocumentMut) -> Result<()>,
) -> Result<(String, TownConfig)> {
    let (text, origin) = match target {
        Doc::File(path) => (
            std::fs::read_to_string(path)
                .map_err(|e| Error::Environment(format!("cannot read {}: {e}", path.display())))?,
            path,
        ),
        Doc::Text(t) => (t.to_string(), Path::new(SHARED)),
    };
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| {
        Error::Environment(format!(
            "{} is not valid TOML: {}",
            origin.display(),
            e.message()
        ))
    })?;
    change(&mut doc)?;
    let new_text = doc.to_string();
    let cfg = TownConfig::parse(&new_text, origin)?;
    if let Doc::File(path) = target {
        crate::fsutil::write_atomic(path, new_text.as_bytes())?;
    }
    Ok((new_text, cfg))
}

/// Whether `key` stays in this host's gt.toml in a town of several hosts
/// (the dashboard's certificate files are this machine's); every other key
/// is one of the town's shared settings.
pub fn is_host_key(key: &str) -> bool {
    key.starts_with("dashboard.")
}

impl TownConfig {
    /// The settings a town of several hosts shares, as the document its
    /// store keeps: everything but the store URL, this host's name and the
    /// dashboard's files.
    pub fn shared_toml(&self) -> String {
        let mut c = self.clone();
        c.store = StoreConfig::default();
        c.host.name = None;
        c.dashboard = DashboardConfig::default();
        c.to_toml()
    }

    /// This host's config with the shared settings `text` in force (its
    /// store, host name and dashboard files stay its own).
    pub fn with_shared(&self, text: &str) -> Result<TownConfig> {
        let mut c = TownConfig::parse(text, Path::new(SHARED))?;
        c.store = self.store.clone();
        c.host.name = self.host.name.clone();
        c.dashboard = self.dashboard.clone();
        c.validate()?;
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_settings_are_all_but_this_hosts_own() {
        let mut local = TownConfig::new("t").unwrap();
        local.store.url = Some("postgres://gt@db/t".into());
        local.host.name = Some("a".into());
        local.dashboard.tls_cert = Some("cert.pem".into());
        local.deacon.interval = "5s".into();
        let shared = local.shared_toml();
        for own in ["postgres://", "cert.pem", "name = \"a\""] {
            assert!(!shared.contains(own), "{shared}");
        }
        assert!(shared.contains("interval = \"5s\""), "{shared}");
        // Another host's settings in force, this host's own parts kept.
        let text = set_text(&shared, "deacon.interval", "9s").unwrap();
        let text = set_agent_text(&text, "mine", "echo hi").unwrap();
        let mut b = TownConfig::new("t").unwrap();
        b.store.url = local.store.url.clone();
        b.host.name = Some("b".into());
        let in_force = b.with_shared(&text).unwrap();
        assert_eq!(in_force.deacon.interval, "9s");
        assert!(in_force.agents.contains_key("mine"));
        assert_eq!(in_force.host.name(), "b");
        assert_eq!(in_force.store.url, local.store.url);
        assert_eq!(in_force.dashboard.tls_cert, None);
        // Bad values and documents are refused.
        assert!(set_text(&text, "deacon.interval", "soon").is_err());
        assert!(remove_agent_text(&text, "nobody").is_err());
        assert!(b.with_shared("[deacon]\ninterval = 3").is_err());
        assert!(b.with_shared("not toml [").is_err());
        assert!(is_host_key("dashboard.tls_key") && !is_host_key("deacon.interval"));
    }

    #[test]
    fn set_keeps_comments_and_validates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gt.toml");
        std::fs::write(&path, "# mine\n[town]\nname = \"a\" # inline\n").unwrap();
        let cfg = set(&path, "town.prefix", "zz").unwrap();
        assert_eq!(cfg.town.prefix, "zz");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("# mine"));
        assert!(text.contains("# inline"));
        assert!(set(&path, "town.prefix", "Bad!").is_err());
        assert!(set(&path, "town.nope", "x").is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    }

    #[test]
    fn durations_have_ranges_on_set_and_on_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gt.toml");
        std::fs::write(&path, "[town]\nname = \"a\"\n").unwrap();
        for bad in ["0s", "1ms", "999ms", "2h", "x", "-1s"] {
            let e = set(&path, "deacon.interval", bad).unwrap_err();
            assert!(matches!(e, Error::Invalid(_)), "{bad}: {e}");
            assert!(e.to_string().contains("deacon.interval"), "{e}");
        }
        for good in ["1s", "1500ms", "1h"] {
            set(&path, "deacon.interval", good).unwrap();
        }
        set(&path, "deacon.stall_after", "30d").unwrap();
        assert!(set(&path, "deacon.stall_after", "31d").is_err());
        std::fs::write(&path, "[town]\nname = \"a\"\n[deacon]\ninterval = \"0s\"\n").unwrap();
        let e = TownConfig::load(&path).unwrap_err();
        assert_eq!(e.class(), crate::ErrorClass::Environment);
        let m = e.to_string();
        assert!(
            m.contains("gt.toml") && m.contains("deacon.interval") && m.contains("'0s'"),
            "{m}"
        );
        std::fs::write(
            &path,
            "[town]\nname = \"a\"\n[scheduler]\nmax_polecats = 0\n",
        )
        .unwrap();
        assert!(TownConfig::load(&path).is_err());
        std::fs::write(
            &path,
            "[town]\nname = \"a\"\n[deacon]\nmax_restarts = 1000\n",
        )
        .unwrap();
        assert!(TownConfig::load(&path).is_err());
    }

    #[test]
    fn unknown_fields_refused() {
        let r = TownConfig::parse("[town]\nname='a'\nbogus=1\n", Path::new("gt.toml"));
        assert!(r.is_err());
    }
}
