//! `gt rig trust`: the user's one-time statement that agents may work in a
//! rig unattended. gt records it (rig config `trust`) and writes each agent
//! runtime's own folder-trust setting for the rig's worktrees, the way each
//! CLI stores it when its user answers the dialog:
//!
//! - Claude Code: `~/.claude.json`, `projects["<dir>"].hasTrustDialogAccepted`
//!   (and `hasCompletedOnboarding: true` when the file has no such key: the
//!   first-run onboarding would stop every agent; a revoke leaves it);
//! - Codex: `$CODEX_HOME/config.toml` (default `~/.codex`),
//!   `[projects."<dir>"] trust_level = "trusted"`;
//! - Gemini CLI: `~/.gemini/trustedFolders.json`, `{"<dir>": "TRUST_FOLDER"}`.
//!
//! A runtime is written for when it is installed (its program on PATH) or
//! its settings already exist. Each file is changed in place: everything else
//! in it is kept (the Codex file's comments and layout too), it is replaced
//! atomically, and the change is re-done when the CLI wrote the same file
//! meanwhile (the file is read again right before the replace). A file that
//! does not parse is left alone and reported: gt never overwrites a user's
//! settings it cannot read. Without trust, the first dialog is reported as
//! `waiting_for_input`, never answered.
//!
//! The library never reads the process environment: [`TrustEnv`] (HOME,
//! CODEX_HOME, PATH) comes from the caller's [`crate::caller::CallerEnv`].

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};

/// Where the agents' settings live: from the caller's environment.
#[derive(Debug, Clone, Default)]
pub struct TrustEnv {
    /// `HOME`: the user the agents run as.
    pub home: Option<PathBuf>,
    /// `CODEX_HOME`, when set.
    pub codex_home: Option<PathBuf>,
    /// `PATH`, to see which runtimes are installed.
    pub path: Option<OsString>,
}

impl TrustEnv {
    /// From the caller's environment.
    pub fn of(caller: &crate::caller::CallerEnv) -> Self {
        TrustEnv {
            home: caller.home(),
            codex_home: caller.var("CODEX_HOME").map(PathBuf::from),
            path: caller.path().map(OsString::from),
        }
    }
}

/// The runtimes whose trust gt writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrustingRuntime {
    Claude,
    Codex,
    Gemini,
}

impl TrustingRuntime {
    pub const ALL: [TrustingRuntime; 3] = [Self::Claude, Self::Codex, Self::Gemini];

    /// Its program's name, as gt shows it.
    pub fn program(self) -> &'static str {
        match self {
            Self::Claude => "claude",
            Self::Codex => "codex",
            Self::Gemini => "gemini",
        }
    }

    /// The settings file holding this runtime's folder trust.
    pub fn settings_file(self, env: &TrustEnv) -> Option<PathBuf> {
        let home = env.home.as_deref();
        match self {
            Self::Claude => home.map(|h| h.join(".claude.json")),
            Self::Codex => env
                .codex_home
                .clone()
                .or_else(|| home.map(|h| h.join(".codex")))
                .map(|d| d.join("config.toml")),
            Self::Gemini => home.map(|h| h.join(".gemini").join("trustedFolders.json")),
        }
    }

    /// Installed (on PATH) or already configured on this machine.
    fn present(self, env: &TrustEnv) -> bool {
        let configured = self
            .settings_file(env)
            .and_then(|f| f.parent().map(Path::to_path_buf))
            .is_some_and(|d| match self {
                // `~/.claude.json` sits in HOME itself.
                Self::Claude => d.join(".claude.json").exists() || d.join(".claude").is_dir(),
                _ => d.is_dir(),
            });
        configured || crate::workspace::find_program(self.program(), env.path.as_deref()).is_some()
    }
}

/// What trusting (or revoking) did for one runtime.
#[derive(Debug, Clone, Serialize)]
pub struct TrustWrite {
    pub runtime: TrustingRuntime,
    pub file: PathBuf,
    /// Folders added (trust) or removed (revoke); empty when already so.
    pub changed: Vec<PathBuf>,
    /// Why the file was left alone (it does not parse, cannot be written).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Grants (or with `revoke`, withdraws) trust for `dirs` in every present
/// runtime's settings. Per-runtime failures are reported in the result, not
/// raised: one unreadable file does not stop the others.
pub fn apply(env: &TrustEnv, dirs: &[PathBuf], revoke: bool) -> Result<Vec<TrustWrite>> {
    if env.home.is_none() {
        return Err(Error::invalid(
            "HOME is not set: gt cannot find the agents' settings to trust this rig",
        ));
    }
    let mut out = Vec::new();
    for rt in TrustingRuntime::ALL {
        if !rt.present(env) {
            continue;
        }
        let Some(file) = rt.settings_file(env) else {
            continue;
        };
        let mut changed = Vec::new();
        let result = update_file(&file, |text| {
            let (new, ch) = edit(rt, text, dirs, revoke)?;
            changed = ch;
            Ok(new)
        });
        out.push(TrustWrite {
            runtime: rt,
            file,
            changed,
            error: result.err().map(|e| e.to_string()),
        });
    }
    Ok(out)
}

/// The new text of a runtime's settings with `dirs` trusted (or not), and
/// the folders that changed. `text` is empty for a file that does not exist.
pub fn edit(
    rt: TrustingRuntime,
    text: &str,
    dirs: &[PathBuf],
    revoke: bool,
) -> Result<(String, Vec<PathBuf>)> {
    match rt {
        TrustingRuntime::Claude => edit_json(text, dirs, |doc, key| {
            if !revoke {
                // The first-run onboarding (theme, login) would stop every
                // unattended agent: trusting a rig also says it is done,
                // unless the file says otherwise already.
                if let Value::Object(m) = &mut *doc {
                    m.entry("hasCompletedOnboarding")
                        .or_insert(Value::Bool(true));
                }
            }
            let projects = object_at(doc, "projects")?;
            if revoke {
                let Some(Value::Object(p)) = projects.get_mut(key) else {
                    return Ok(false);
                };
                return Ok(p.remove("hasTrustDialogAccepted").is_some());
            }
            let entry = projects
                .entry(key.to_string())
                .or_insert_with(|| Value::Object(Default::default()));
            let Value::Object(p) = entry else {
                return Err(Error::invalid(format!(
                    "projects[\"{key}\"] is not an object"
                )));
            };
            let was = p.insert("hasTrustDialogAccepted".into(), Value::Bool(true));
            Ok(was != Some(Value::Bool(true)))
        }),
        TrustingRuntime::Gemini => edit_json(text, dirs, |doc, key| {
            let Value::Object(m) = doc else {
                return Err(Error::invalid("the file is not a JSON object"));
            };
            if revoke {
                return Ok(m.remove(key).is_some());
            }
            let was = m.insert(key.to_string(), Value::from("TRUST_FOLDER"));
            Ok(was.as_ref().and_then(Value::as_str) != Some("TRUST_FOLDER"))
        }),
        TrustingRuntime::Codex => edit_codex(text, dirs, revoke),
    }
}

fn object_at<'a>(doc: &'a mut Value, key: &str) -> Result<&'a mut serde_json::Map<String, Value>> {
    let Value::Object(m) = doc else {
        return Err(Error::invalid("the file is not a JSON object"));
    };
    let v = m
        .entry(key.to_string())
        .or_insert_with(|| Value::Object(Default::default()));
    match v {
        Value::Object(o) => Ok(o),
        _ => Err(Error::invalid(format!("\"{key}\" is not an object"))),
    }
}

fn edit_json(
    text: &str,
    dirs: &[PathBuf],
    mut one: impl FnMut(&mut Value, &str) -> Result<bool>,
) -> Result<(String, Vec<PathBuf>)> {
    let mut doc: Value = if text.trim().is_empty() {
        Value::Object(Default::default())
    } else {
        serde_json::from_str(text)
            .map_err(|e| Error::invalid(format!("the file is not valid JSON ({e})")))?
    };
    let mut changed = Vec::new();
    for d in dirs {
        if one(&mut doc, &key_of(d)?)? {
            changed.push(d.clone());
        }
    }
    let mut s = serde_json::to_string_pretty(&doc).map_err(|e| Error::invalid(e.to_string()))?;
    s.push('\n');
    Ok((s, changed))
}

fn edit_codex(text: &str, dirs: &[PathBuf], revoke: bool) -> Result<(String, Vec<PathBuf>)> {
    use toml_edit::{table, value, DocumentMut, Item};
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e| Error::invalid(format!("the file is not valid TOML ({e})")))?;
    let mut changed = Vec::new();
    if doc.get("projects").is_none() {
        if revoke {
            return Ok((text.to_string(), changed));
        }
        let mut t = toml_edit::Table::new();
        t.set_implicit(true);
        doc.insert("projects", Item::Table(t));
    }
    let Some(projects) = doc["projects"].as_table_like_mut() else {
        return Err(Error::invalid("\"projects\" is not a table"));
    };
    for d in dirs {
        let key = key_of(d)?;
        if revoke {
            let had = projects
                .get_mut(&key)
                .and_then(Item::as_table_like_mut)
                .and_then(|p| p.remove("trust_level"))
                .is_some();
            let empty = projects
                .get(&key)
                .and_then(Item::as_table_like)
                .is_some_and(|p| p.is_empty());
            if empty {
                projects.remove(&key);
            }
            if had {
                changed.push(d.clone());
            }
            continue;
        }
        let entry = projects.entry(&key).or_insert(table());
        let Some(p) = entry.as_table_like_mut() else {
            return Err(Error::invalid(format!("projects.\"{key}\" is not a table")));
        };
        let was = p.get("trust_level").and_then(Item::as_str) == Some("trusted");
        if !was {
            p.insert("trust_level", value("trusted"));
            changed.push(d.clone());
        }
    }
    Ok((doc.to_string(), changed))
}

/// A folder as the runtimes key it: its absolute path as text.
fn key_of(d: &Path) -> Result<String> {
    if !d.is_absolute() {
        return Err(Error::invalid(format!(
            "'{}' is not an absolute path",
            d.display()
        )));
    }
    d.to_str()
        .map(str::to_string)
        .ok_or_else(|| Error::invalid(format!("'{}' is not valid UTF-8", d.display())))
}

/// Read, change, and atomically replace `file`; when the file changed
/// between the read and the replace (the CLI wrote it), start over.
fn update_file(file: &Path, mut change: impl FnMut(&str) -> Result<String>) -> Result<()> {
    let read = |f: &Path| match std::fs::read_to_string(f) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(format!("cannot read {}", f.display()), e)),
    };
    // The user's own settings may be a link into their dotfiles: write
    // the file it names.
    let file = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    for _ in 0..5 {
        let before = read(&file)?;
        let new = change(before.as_deref().unwrap_or(""))?;
        if before.as_deref() == Some(new.as_str()) {
            return Ok(());
        }
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        }
        if read(&file)? != before {
            continue;
        }
        return crate::fsutil::write_atomic(&file, new.as_bytes());
    }
    Err(Error::refused(format!(
        "{} keeps changing (is the agent writing it?); try again",
        file.display()
    )))
}

/// The rig config key that records the user's statement.
pub const TRUST_KEY: &str = "trust";

/// What `gt rig trust` did.
#[derive(Debug, Clone, Serialize)]
pub struct RigTrust {
    pub rig: String,
    pub trusted: bool,
    /// The folders written for: the rig's polecats folder and each
    /// worktree in it.
    pub folders: Vec<PathBuf>,
    pub runtimes: Vec<TrustWrite>,
}

/// Whether the user trusted `rig` (`gt rig trust`).
pub fn is_trusted(ws: &crate::workspace::Workspace, rig: &str) -> Result<bool> {
    use crate::store::merge::MergeStore;
    Ok(ws.store.rig_config(rig)?.get(TRUST_KEY) == Some(&Value::Bool(true)))
}

/// `gt rig trust RIG [--revoke]`: records the statement (rig config
/// `trust`, with its `rig.config_set` event) and writes (or withdraws) each
/// present runtime's trust for the rig's polecats folder and worktrees.
pub fn trust_rig(
    ws: &crate::workspace::Workspace,
    rig: &str,
    env: &TrustEnv,
    revoke: bool,
    actor: &str,
) -> Result<RigTrust> {
    use crate::store::merge::MergeStore;
    use crate::store::RigStore;
    let r = ws.store.get_rig(rig)?;
    let polecats = ws.rig_dir(&r.name).join(crate::workspace::POLECATS_DIR);
    let mut folders = vec![polecats];
    for p in ws.store.list_polecats(Some(&r.name))? {
        let wt = ws.worktree(&r.name, &p.name);
        if wt.is_dir() {
            folders.push(wt);
        }
    }
    let runtimes = apply(env, &folders, revoke)?;
    let value = (!revoke).then_some(Value::Bool(true));
    ws.store.set_rig_config(&r.name, TRUST_KEY, value, actor)?;
    Ok(RigTrust {
        rig: r.name,
        trusted: !revoke,
        folders,
        runtimes,
    })
}

/// Before an agent starts in a new worktree of a trusted rig: its trust is
/// written so no dialog stops it. Untrusted rigs are left alone (the dialog
/// is reported, not answered).
pub fn trust_worktree(
    ws: &crate::workspace::Workspace,
    rig: &str,
    worktree: &Path,
    env: &TrustEnv,
) -> Result<Vec<TrustWrite>> {
    if !is_trusted(ws, rig)? {
        return Ok(Vec::new());
    }
    apply(env, &[worktree.to_path_buf()], false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dirs() -> Vec<PathBuf> {
        vec![
            PathBuf::from("/t/app/polecats"),
            PathBuf::from("/t/app/polecats/nux"),
        ]
    }

    #[test]
    fn claude_keeps_everything_else() {
        let text =
            r#"{"numStartups": 3, "projects": {"/t/app/polecats/nux": {"allowedTools": ["x"]}}}"#;
        let (new, changed) = edit(TrustingRuntime::Claude, text, &dirs(), false).unwrap();
        let v: Value = serde_json::from_str(&new).unwrap();
        assert_eq!(v["numStartups"], 3);
        assert_eq!(v["hasCompletedOnboarding"], true);
        assert_eq!(v["projects"]["/t/app/polecats/nux"]["allowedTools"][0], "x");
        assert_eq!(
            v["projects"]["/t/app/polecats/nux"]["hasTrustDialogAccepted"],
            true
        );
        assert_eq!(
            v["projects"]["/t/app/polecats"]["hasTrustDialogAccepted"],
            true
        );
        assert_eq!(changed.len(), 2);
        // Again: nothing changes.
        let (again, changed) = edit(TrustingRuntime::Claude, &new, &dirs(), false).unwrap();
        assert_eq!(again, new);
        assert!(changed.is_empty());
        // Revoked: only gt's key goes.
        let (rev, changed) = edit(TrustingRuntime::Claude, &new, &dirs(), true).unwrap();
        let v: Value = serde_json::from_str(&rev).unwrap();
        assert_eq!(changed.len(), 2);
        assert!(v["projects"]["/t/app/polecats/nux"]
            .get("hasTrustDialogAccepted")
            .is_none());
        assert_eq!(v["projects"]["/t/app/polecats/nux"]["allowedTools"][0], "x");
    }

    #[test]
    fn codex_keeps_comments_and_other_tables() {
        let text = "# my settings\nmodel = \"o3\"\n\n[projects.\"/elsewhere\"]\ntrust_level = \"trusted\"\n";
        let (new, changed) = edit(TrustingRuntime::Codex, text, &dirs(), false).unwrap();
        assert!(new.starts_with("# my settings\nmodel = \"o3\"\n"), "{new}");
        let doc: toml::Table = toml::from_str(&new).unwrap();
        let p = doc["projects"].as_table().unwrap();
        assert_eq!(p["/elsewhere"]["trust_level"].as_str(), Some("trusted"));
        assert_eq!(
            p["/t/app/polecats/nux"]["trust_level"].as_str(),
            Some("trusted")
        );
        assert_eq!(changed.len(), 2);
        let (rev, _) = edit(TrustingRuntime::Codex, &new, &dirs(), true).unwrap();
        let doc: toml::Table = toml::from_str(&rev).unwrap();
        let p = doc["projects"].as_table().unwrap();
        assert!(p.get("/t/app/polecats/nux").is_none(), "{rev}");
        assert!(p.get("/elsewhere").is_some());
    }

    #[test]
    fn gemini_and_files_that_do_not_parse() {
        let (new, _) = edit(TrustingRuntime::Gemini, "", &dirs(), false).unwrap();
        let v: Value = serde_json::from_str(&new).unwrap();
        assert_eq!(v["/t/app/polecats/nux"], "TRUST_FOLDER");
        for rt in TrustingRuntime::ALL {
            assert!(edit(rt, "{not json = [", &dirs(), false).is_err(), "{rt:?}");
        }
        assert!(edit(TrustingRuntime::Gemini, "[1]", &dirs(), false).is_err());
        assert!(edit(
            TrustingRuntime::Claude,
            r#"{"projects": 3}"#,
            &dirs(),
            false
        )
        .is_err());
    }
}
