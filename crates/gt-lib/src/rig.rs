//! Rigs: projects, one git repository each, cloned bare into the town.

use serde::{Deserialize, Serialize};

/// A rig as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rig {
    pub name: String,
    /// Where it was cloned from (URL or path), as given.
    pub source: String,
    /// The default (target) branch.
    pub branch: String,
    /// Prefix of the rig's bead ids.
    pub prefix: String,
    /// The rig's default agent runtime, if set.
    pub agent: Option<String>,
    pub created_at: String,
}

use std::path::PathBuf;

use crate::error::{Error, Result};

use crate::polecat::validate_name;
use crate::store::{BeadStore, RigStore};
use crate::workspace::Workspace;

/// What `gt rig add` asks for.
#[derive(Debug, Clone)]
pub struct AddRig<'a> {
    pub name: &'a str,
    pub source: &'a str,
    pub branch: Option<&'a str>,
    pub prefix: Option<&'a str>,
}

/// A bead prefix from a rig name: its first three letters and digits
/// (starting with a letter), numbered when taken.
pub fn derive_prefix(name: &str, taken: &[String]) -> String {
    let base: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .skip_while(|c| c.is_ascii_digit())
        .take(3)
        .collect();
    let base = if base.is_empty() {
        "r".to_string()
    } else {
        base
    };
    if !taken.contains(&base) {
        return base;
    }
    (2..)
        .map(|i| format!("{base}{i}"))
        .find(|p| !taken.contains(p))
        .expect("unbounded")
}

/// Clones SOURCE bare into the town and records the rig. On any failure
/// nothing is left behind: no directory, no row.
pub fn add(
    ws: &Workspace,
    req: &AddRig<'_>,
    actor: &str,
    progress: &mut dyn FnMut(&str),
) -> Result<Rig> {
    validate_name("rig", req.name)?;
    if let Some(p) = req.prefix {
        crate::id::validate_prefix(p)?;
    }
    if let Some(b) = req.branch {
        crate::git::validate_branch_name(b)?;
    }
    if req.source.trim().is_empty() || req.source.chars().any(char::is_control) {
        return Err(Error::invalid(
            "rig source must be a git URL or a repository path",
        ));
    }
    if req.source.starts_with('-') {
        return Err(Error::invalid(format!(
            "rig source '{}' looks like an option, not a repository",
            req.source.escape_debug()
        )));
    }
    if ws.store.get_rig(req.name).is_ok() {
        return Err(Error::refused(format!("rig '{}' already exists", req.name)));
    }
    let dir = ws.rig_dir(req.name);
    if dir.exists() || req.name == crate::town::STATE_DIR {
        return Err(Error::refused(format!(
            "{} already exists in the town; choose another rig name",
            dir.display()
        )));
    }
    let mut taken: Vec<String> = ws
        .store
        .list_rigs()?
        .into_iter()
        .map(|r| r.prefix)
        .collect();
    taken.push(ws.town.config.town.prefix.clone());
    let prefix = match req.prefix {
        Some(p) => p.to_string(),
        None => derive_prefix(req.name, &taken),
    };
    // A local path is cloned by its absolute form, so a later `cd` never changes it.
    let source = match std::path::Path::new(req.source) {
        p if p.exists() => p
            .canonicalize()
            .map_err(|e| Error::io(format!("cannot resolve {}", p.display()), e))?
            .to_string_lossy()
            .into_owned(),
        _ => req.source.to_string(),
    };
    let result = (|| -> Result<Rig> {
        std::fs::create_dir(&dir)
            .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        let repo = ws.repo_dir(req.name);
        ws.git
            .clone_bare(&source, &repo, progress)
            .map_err(|e| match e {
                Error::Command { message, .. } => Error::invalid(format!(
                    "cannot clone '{}': {}",
                    req.source,
                    message.lines().last().unwrap_or("not a git repository")
                )),
                other => other,
            })?;
        let branch = match req.branch {
            Some(b) => {
                if !ws.git.branch_exists(&repo, b)? {
                    return Err(Error::invalid(format!(
                        "branch '{b}' does not exist in {}",
                        req.source
                    )));
                }
                b.to_string()
            }
            None => ws.git.default_branch(&repo)?,
        };
        if ws
            .git
            .resolve(&repo, &format!("refs/heads/{branch}"))?
            .is_none()
        {
            return Err(Error::invalid(format!(
                "{} has no commits on '{branch}'; a rig needs at least one commit",
                req.source
            )));
        }
        std::fs::create_dir(dir.join(crate::workspace::POLECATS_DIR))
            .map_err(|e| Error::io("cannot create the polecats folder", e))?;
        let rig = Rig {
            name: req.name.to_string(),
            source: source.clone(),
            branch,
            prefix: prefix.clone(),
            agent: None,
            created_at: String::new(),
        };
        ws.store.add_rig(&rig, actor)?;
        ws.store.get_rig(req.name)
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

/// Polecat branches of a rig that hold commits not on its default branch.
pub fn unmerged_branches(ws: &Workspace, rig: &Rig) -> Result<Vec<(String, usize)>> {
    let repo = ws.repo_dir(&rig.name);
    let mut out = Vec::new();
    for b in ws.git.list_branches(&repo, "polecat/")? {
        let n = ws.git.count_commits_between(
            &repo,
            &format!("refs/heads/{}", rig.branch),
            &format!("refs/heads/{b}"),
        )?;
        if n > 0 {
            out.push((b, n));
        }
    }
    Ok(out)
}

/// What `gt rig remove` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RemovedRig {
    pub name: String,
    /// Bundle file keeping unmerged polecat branches (with `--force`).
    pub bundle: Option<PathBuf>,
    pub kept_branches: Vec<String>,
    /// Worktrees whose state could not be read (e.g. `.git` points nowhere),
    /// moved out of the rig, untouched, before it was removed (with `--force`).
    pub kept_worktrees: Vec<PathBuf>,
}

/// Removes a rig. Refuses while polecat branches hold unmerged commits or
/// worktrees hold uncommitted changes, unless `force` — which first saves
/// uncommitted changes as WIP commits and keeps every unmerged branch in a
/// bundle file under `.gt/bundles/`.
pub fn remove(ws: &Workspace, name: &str, force: bool, actor: &str) -> Result<RemovedRig> {
    let rig = ws.store.get_rig(name)?;
    let _lock = ws.lock_rig(name)?;
    let polecats = ws.store.list_polecats(Some(name))?;
    let mut dirty = Vec::new();
    // Worktrees git cannot read: their files may hold work nobody can commit.
    let mut unreadable = Vec::new();
    for p in &polecats {
        let wt = ws.worktree(name, &p.name);
        match wt.exists().then(|| ws.git.is_dirty(&wt)) {
            Some(Ok(true)) => dirty.push(p.name.clone()),
            Some(Err(e)) => unreadable.push((p.name.clone(), e.to_string())),
            _ => {}
        }
    }
    let unmerged = unmerged_branches(ws, &rig)?;
    if !force && (!unmerged.is_empty() || !dirty.is_empty() || !unreadable.is_empty()) {
        let mut why = Vec::new();
        if !unmerged.is_empty() {
            why.push(format!(
                "unmerged branches: {}",
                unmerged
                    .iter()
                    .map(|(b, n)| format!("{b} ({n} commits)"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !dirty.is_empty() {
            why.push(format!("uncommitted changes in: {}", dirty.join(", ")));
        }
        for (p, e) in &unreadable {
            why.push(format!(
                "worktree of {p} cannot be read ({})",
                e.lines().next().unwrap_or("")
            ));
        }
        return Err(Error::refused(format!(
            "rig {name} still holds work ({}); use --force to keep it in a bundle and remove the rig",
            why.join("; ")
        )));
    }
    for p in &polecats {
        let _ = ws
            .tmux
            .kill_session(&Workspace::session_name(name, &p.name));
    }
    for p in &dirty {
        let wt = ws.worktree(name, p);
        ws.git
            .commit_all(&wt, &format!("WIP: saved by gt before removing rig {name}"))?;
    }
    // Unreadable worktrees are kept, as they are, outside the rig.
    let mut kept_worktrees = Vec::new();
    if !unreadable.is_empty() {
        let stamp = crate::clock::format_ts(ws.town.clock().now()).replace([':', '.'], "-");
        let dir = ws
            .town
            .state_dir()
            .join("kept-worktrees")
            .join(format!("{name}-{stamp}"));
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        for (p, _) in &unreadable {
            let to = dir.join(p);
            std::fs::rename(ws.worktree(name, p), &to)
                .map_err(|e| Error::io(format!("cannot keep the worktree of {p}"), e))?;
            kept_worktrees.push(to);
        }
    }
    let unmerged = unmerged_branches(ws, &rig)?;
    let mut bundle = None;
    if !unmerged.is_empty() {
        let dir = ws.town.state_dir().join("bundles");
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io("cannot create the bundles folder", e))?;
        let stamp = crate::clock::format_ts(ws.town.clock().now()).replace([':', '.'], "-");
        let file = dir.join(format!("{name}-{stamp}.bundle"));
        let branches: Vec<String> = unmerged.iter().map(|(b, _)| b.clone()).collect();
        ws.git.bundle_create(&ws.repo_dir(name), &file, &branches)?;
        bundle = Some(file);
    }
    ws.store.remove_rig(name, actor)?;
    std::fs::remove_dir_all(ws.rig_dir(name))
        .map_err(|e| Error::io(format!("cannot remove {}", ws.rig_dir(name).display()), e))?;
    Ok(RemovedRig {
        name: name.to_string(),
        bundle,
        kept_branches: unmerged.into_iter().map(|(b, _)| b).collect(),
        kept_worktrees,
    })
}

/// `gt rig show`: the rig with its polecats and open bead count.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RigDetails {
    #[serde(flatten)]
    pub rig: Rig,
    pub path: PathBuf,
    pub polecats: Vec<crate::polecat::Polecat>,
    pub open_beads: usize,
}

pub fn details(ws: &Workspace, name: &str) -> Result<RigDetails> {
    let rig = ws.store.get_rig(name)?;
    let polecats = ws.store.list_polecats(Some(name))?;
    let open_beads = ws
        .store
        .list_beads(&crate::bead::BeadFilter::default())?
        .iter()
        .filter(|b| {
            b.id.starts_with(&format!("{}-", rig.prefix))
                || b.metadata.get("rig").and_then(|v| v.as_str()) == Some(name)
        })
        .count();
    Ok(RigDetails {
        path: ws.rig_dir(name),
        rig,
        polecats,
        open_beads,
    })
}
