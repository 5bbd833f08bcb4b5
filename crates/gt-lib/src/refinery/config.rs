//! A rig's refinery settings (`gt rig config`): keys, values, defaults.

use super::*;

/// How a request is put onto the target (`merge.strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    Rebase,
    Merge,
    Squash,
}

/// What a failed request becomes (`merge.on_failure`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    Resling,
    Leave,
}

/// A rig's refinery settings, from `gt rig config`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RigSettings {
    pub strategy: Strategy,
    pub batch: usize,
    pub on_failure: OnFailure,
    pub push: bool,
    /// `(name, command)`, by name.
    pub gates: Vec<(String, String)>,
    pub gate_timeout: Duration,
}

impl Default for RigSettings {
    fn default() -> Self {
        RigSettings {
            strategy: Strategy::Rebase,
            batch: 4,
            on_failure: OnFailure::Resling,
            push: false,
            gates: Vec::new(),
            gate_timeout: Duration::from_secs(600),
        }
    }
}

/// The keys `gt rig config` accepts (`gates.<name>` for any gate name).
pub const CONFIG_KEYS: &[&str] = &[
    "merge.strategy",
    "merge.batch",
    "merge.on_failure",
    "push",
    "gates.timeout",
    "gates.<name>",
    "agent",
];

/// Checks `key` and turns the text `value` into the value stored.
pub fn parse_config_value(key: &str, value: &str) -> Result<Value> {
    let bad = |what: &str| {
        Error::invalid(format!(
            "bad value '{}' for {key}: {what}",
            value.escape_debug()
        ))
    };
    match key {
        "merge.strategy" => match value {
            "rebase" | "merge" | "squash" => Ok(Value::from(value)),
            _ => Err(bad("use rebase, merge or squash")),
        },
        "merge.on_failure" => match value {
            "resling" | "leave" => Ok(Value::from(value)),
            _ => Err(bad("use resling or leave")),
        },
        "merge.batch" => match value.parse::<u64>() {
            Ok(n @ 1..=64) => Ok(Value::from(n)),
            _ => Err(bad("a number from 1 to 64")),
        },
        "gates.timeout" => match value.parse::<u64>() {
            Ok(n @ 1..=86_400) => Ok(Value::from(n)),
            _ => Err(bad("seconds, from 1 to 86400")),
        },
        "agent" => crate::runtime::validate_agent_name(value).map(|_| Value::from(value)),
        "push" => match value {
            "true" | "yes" | "on" | "1" => Ok(Value::Bool(true)),
            "false" | "no" | "off" | "0" => Ok(Value::Bool(false)),
            _ => Err(bad("use true or false")),
        },
        _ => {
            let Some(name) = key.strip_prefix("gates.") else {
                return Err(Error::invalid(format!(
                    "unknown rig config key '{}': use one of {}",
                    key.escape_debug(),
                    CONFIG_KEYS.join(", ")
                )));
            };
            crate::polecat::validate_name("gate", name)?;
            if value.chars().any(|c| c.is_control() && c != '\t') {
                return Err(bad("a command without control characters"));
            }
            match shell_words::split(value) {
                Ok(argv) if !argv.is_empty() => Ok(Value::from(value)),
                Ok(_) => Err(bad("an empty command")),
                Err(e) => Err(bad(&format!("cannot split it into arguments ({e})"))),
            }
        }
    }
}

/// Checks a key for `gt rig config RIG KEY` (reading or unsetting).
pub fn check_config_key(key: &str) -> Result<()> {
    if let Some(name) = key.strip_prefix("gates.") {
        if name == "timeout" {
            return Ok(());
        }
        return crate::polecat::validate_name("gate", name);
    }
    if CONFIG_KEYS.contains(&key) {
        return Ok(());
    }
    Err(Error::invalid(format!(
        "unknown rig config key '{}': use one of {}",
        key.escape_debug(),
        CONFIG_KEYS.join(", ")
    )))
}

impl RigSettings {
    /// Reads the stored config; values that do not parse fall back to defaults.
    pub fn from_config(map: &Map<String, Value>) -> RigSettings {
        let mut s = RigSettings::default();
        for (k, v) in map {
            match (k.as_str(), v) {
                ("merge.strategy", Value::String(x)) => match x.as_str() {
                    "merge" => s.strategy = Strategy::Merge,
                    "squash" => s.strategy = Strategy::Squash,
                    _ => s.strategy = Strategy::Rebase,
                },
                ("merge.batch", v) => {
                    if let Some(n) = v.as_u64().filter(|n| (1..=64).contains(n)) {
                        s.batch = n as usize;
                    }
                }
                ("merge.on_failure", Value::String(x)) => {
                    s.on_failure = if x == "leave" {
                        OnFailure::Leave
                    } else {
                        OnFailure::Resling
                    }
                }
                ("push", Value::Bool(b)) => s.push = *b,
                ("gates.timeout", v) => {
                    if let Some(n) = v.as_u64().filter(|n| *n >= 1) {
                        s.gate_timeout = Duration::from_secs(n);
                    }
                }
                (k, Value::String(cmd)) if k.starts_with("gates.") => {
                    s.gates.push((k["gates.".len()..].to_string(), cmd.clone()));
                }
                _ => {}
            }
        }
        s.gates.sort();
        s
    }
}

/// `gt rig config RIG KEY VALUE`: validates and stores one key.
pub fn set_config(
    ws: &Workspace,
    rig: &str,
    key: &str,
    value: Option<&str>,
    actor: &str,
) -> Result<Map<String, Value>> {
    ws.store.get_rig(rig)?;
    check_config_key(key)?;
    let v = value.map(|v| parse_config_value(key, v)).transpose()?;
    if key == "agent" {
        // The rig's default agent (a column of the rig, shown by `gt rig
        // show`); it must be one the town knows.
        if let Some(name) = value {
            ws.town.config.runtime(name)?;
        }
        ws.store.set_rig_agent(rig, value, actor)?;
        let mut map = ws.store.rig_config(rig)?;
        if let Some(name) = value {
            map.insert("agent".into(), Value::from(name));
        }
        return Ok(map);
    }
    ws.store.set_rig_config(rig, key, v, actor)
}
