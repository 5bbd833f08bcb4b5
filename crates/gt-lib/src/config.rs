//! `gt.toml`: the town's configuration. Keys are typed and validated; unknown
//! keys are refused. Writes keep the user's comments and formatting.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TownConfig {
    pub town: TownSection,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TownSection {
    pub name: String,
    #[serde(default = "default_prefix")]
    pub prefix: String,
}

fn default_prefix() -> String {
    "hq".to_string()
}

/// The kind of value a key holds, which decides its validation.
#[derive(Debug, Clone, Copy)]
enum KeyKind {
    TownName,
    Prefix,
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
            },
        })
    }

    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Environment(format!("cannot read {}: {e}", path.display())))?;
        Self::parse(&text, path)
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
        Ok(())
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
    let spec = spec(key)?;
    let item = match spec.kind {
        KeyKind::TownName => {
            validate_town_name(value)?;
            toml_edit::value(value)
        }
        KeyKind::Prefix => {
            crate::id::validate_prefix(value)?;
            toml_edit::value(value)
        }
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Environment(format!("cannot read {}: {e}", path.display())))?;
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| {
        Error::Environment(format!(
            "{} is not valid TOML: {}",
            path.display(),
            e.message()
        ))
    })?;
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
    table.insert(last, item);
    let new_text = doc.to_string();
    let cfg = TownConfig::parse(&new_text, path)?;
    crate::fsutil::write_atomic(path, new_text.as_bytes())?;
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn unknown_fields_refused() {
        let r = TownConfig::parse("[town]\nname='a'\nbogus=1\n", Path::new("gt.toml"));
        assert!(r.is_err());
    }
}
