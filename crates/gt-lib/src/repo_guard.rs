//! The rig repository's config is gt's own.
//!
//! Every worktree of a rig shares `<rig>/.repo.git/config`, and agents can
//! write it (`git config core.hooksPath …`, a `filter.*` driver, an
//! `include.path` into their worktree). gt pins the settings that run code
//! on each of its own git commands (see [`crate::git::PINNED_CONFIG`]), but
//! other agents' git would still read them, and some (drivers, includes)
//! cannot be pinned. So `gt rig add` records the config (a copy under
//! `.gt/rigs/<rig>/repo-config`), and gt puts it back whenever it differs:
//! on every deacon patrol, right before the refinery works on the rig and
//! before a sling cuts a branch. Each revert is a `rig.config_tampered`
//! event and shows as a `config_tampered` problem for a day (and for as
//! long as the config differs, when nobody reverted it yet).
//!
//! Per-worktree config (`worktrees/*/config.worktree`) is never gt's: any
//! such file is removed as part of a revert. A rig added before the record
//! existed is recorded the first time it is checked.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::event::{EventQuery, NewEvent};
use crate::store::{EventStore, RigStore};
use crate::workspace::Workspace;

/// Event kind of a reverted rig config.
pub const RIG_CONFIG_TAMPERED: &str = crate::event::EventKind::RigConfigTampered.as_str();

/// How long a revert stays a problem.
const PROBLEM_FOR: time::Duration = time::Duration::hours(24);

/// How the rig repository's config differs from what gt recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    pub rig: String,
    /// Keys added, changed or removed (`section.key`), sorted; values are
    /// never shown (they may hold secrets).
    pub changed: Vec<String>,
    /// Per-worktree config files (gt never writes any).
    pub worktree_configs: Vec<PathBuf>,
}

impl Drift {
    /// One line for humans.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if !self.changed.is_empty() {
            parts.push(format!("changed {}", self.changed.join(", ")));
        }
        if !self.worktree_configs.is_empty() {
            parts.push(format!(
                "{} per-worktree config file(s)",
                self.worktree_configs.len()
            ));
        }
        if parts.is_empty() {
            parts.push("the file changed".into());
        }
        format!(
            "repository config of rig {}: {}",
            self.rig,
            parts.join("; ")
        )
    }
}

/// The recorded copy of a rig's repository config.
pub fn record_path(ws: &Workspace, rig: &str) -> PathBuf {
    ws.town
        .state_dir()
        .join("rigs")
        .join(rig)
        .join("repo-config")
}

fn config_path(ws: &Workspace, rig: &str) -> PathBuf {
    ws.repo_dir(rig).join("config")
}

/// The config file's bytes; `None` when it is not a regular file (a link,
/// a folder, missing).
fn read_config(path: &Path) -> Option<Vec<u8>> {
    let meta = path.symlink_metadata().ok()?;
    if !meta.file_type().is_file() {
        return None;
    }
    std::fs::read(path).ok()
}

/// Records the rig repository's current config as gt's own.
pub fn record(ws: &Workspace, rig: &str) -> Result<()> {
    let cfg = config_path(ws, rig);
    let bytes = read_config(&cfg)
        .ok_or_else(|| Error::Environment(format!("{} is not a regular file", cfg.display())))?;
    let path = record_path(ws, rig);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
    }
    crate::fsutil::write_atomic(&path, &bytes)
}

fn worktree_configs(ws: &Workspace, rig: &str) -> Vec<PathBuf> {
    let dir = ws.repo_dir(rig).join("worktrees");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path().join("config.worktree"))
        .filter(|p| p.symlink_metadata().is_ok())
        .collect();
    out.sort();
    out
}

/// Keys whose values differ between two config files (by git's own reading).
fn changed_keys(ws: &Workspace, a: &Path, b: &[u8]) -> Vec<String> {
    let Ok(tmp) = tempfile::NamedTempFile::new() else {
        return Vec::new();
    };
    if std::fs::write(tmp.path(), b).is_err() {
        return Vec::new();
    }
    let (Ok(now), Ok(was)) = (
        ws.host.git.config_file_entries(a),
        ws.host.git.config_file_entries(tmp.path()),
    ) else {
        return vec!["(unreadable config)".into()];
    };
    let mut keys: Vec<String> = now
        .iter()
        .filter(|e| !was.contains(e))
        .chain(was.iter().filter(|e| !now.contains(e)))
        .map(|(k, _)| k.clone())
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// How the rig's repository config differs from the record, if it does
/// (reads two small files; asks git only when they differ). Changes nothing
/// (except recording a rig that has no record yet). For `gt doctor` and the
/// checks below.
pub fn check(ws: &Workspace, rig: &str) -> Result<Option<Drift>> {
    let kept = record_path(ws, rig);
    let Some(recorded) = read_config(&kept) else {
        // Trust on first use: a rig added before gt kept records.
        if kept.symlink_metadata().is_err() && read_config(&config_path(ws, rig)).is_some() {
            record(ws, rig)?;
        }
        return Ok(None);
    };
    let cfg = config_path(ws, rig);
    let current = read_config(&cfg);
    let wt_configs = worktree_configs(ws, rig);
    if current.as_deref() == Some(&recorded[..]) && wt_configs.is_empty() {
        return Ok(None);
    }
    let changed = match current {
        Some(c) if c == recorded => Vec::new(),
        Some(_) => changed_keys(ws, &cfg, &recorded),
        None => vec!["(config is not a regular file)".into()],
    };
    Ok(Some(Drift {
        rig: rig.to_string(),
        changed,
        worktree_configs: wt_configs,
    }))
}

/// [`check`] for every rig, without changing anything (for `gt doctor`):
/// the rigs whose repository config differs from gt's record.
pub fn check_all(ws: &Workspace) -> Result<Vec<Drift>> {
    let mut out = Vec::new();
    for r in ws.store.list_rigs()? {
        out.extend(check(ws, &r.name)?);
    }
    Ok(out)
}

/// Puts the recorded config back when it differs, and records the revert
/// (`rig.config_tampered`). Returns what differed.
pub fn enforce(ws: &Workspace, rig: &str, actor: &str) -> Result<Option<Drift>> {
    let Some(drift) = check(ws, rig)? else {
        return Ok(None);
    };
    let recorded = read_config(&record_path(ws, rig))
        .ok_or_else(|| Error::Environment(format!("the config record of rig {rig} is gone")))?;
    let cfg = config_path(ws, rig);
    if read_config(&cfg).as_deref() != Some(&recorded[..]) {
        if let Ok(m) = cfg.symlink_metadata() {
            if !m.file_type().is_file() {
                let gone = if m.is_dir() {
                    std::fs::remove_dir_all(&cfg)
                } else {
                    std::fs::remove_file(&cfg)
                };
                gone.map_err(|e| Error::io(format!("cannot remove {}", cfg.display()), e))?;
            }
        }
        crate::fsutil::write_atomic(&cfg, &recorded)?;
    }
    for f in &drift.worktree_configs {
        std::fs::remove_file(f)
            .or_else(|_| std::fs::remove_dir_all(f))
            .map_err(|e| Error::io(format!("cannot remove {}", f.display()), e))?;
    }
    let payload = serde_json::json!({
        "changed": drift.changed,
        "worktree_configs": drift.worktree_configs,
    });
    ws.store.append_event(
        NewEvent::new(
            RIG_CONFIG_TAMPERED,
            format!("reverted the {}", drift.summary()),
        )
        .rig(rig)
        .payload(payload),
        actor,
    )?;
    Ok(Some(drift))
}

/// Rigs whose config differs now, or was reverted in the last day.
pub fn problems(ws: &Workspace) -> Result<Vec<crate::problems::Problem>> {
    use crate::problems::{Problem, ProblemKind};
    let now = ws.town.clock().now();
    let since = crate::clock::format_ts(now - PROBLEM_FOR);
    let mut out = Vec::new();
    for r in ws.store.list_rigs()? {
        let current = check(ws, &r.name).ok().flatten();
        let last = ws
            .store
            .events(&EventQuery {
                since: Some(since.clone()),
                rig: Some(r.name.clone()),
                kinds: vec![RIG_CONFIG_TAMPERED.into()],
                limit: Some(1),
                ..Default::default()
            })?
            .pop();
        let (since, detail) = match (&current, &last) {
            (Some(d), _) => (None, format!("{} (not reverted yet)", d.summary())),
            (None, Some(e)) => (Some(e.time.clone()), e.summary.clone()),
            (None, None) => continue,
        };
        out.push(Problem {
            reason: None,
            agent: format!("rig/{}", r.name),
            rig: r.name.clone(),
            polecat: String::new(),
            kind: ProblemKind::ConfigTampered,
            bead: None,
            session: None,
            since,
            last_activity: None,
            detail,
            suggested_action: crate::problems::suggest(ProblemKind::ConfigTampered, &r.name, None),
        });
    }
    Ok(out)
}
