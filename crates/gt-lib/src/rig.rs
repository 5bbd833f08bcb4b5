//! Rigs: projects, one git repository each, cloned bare into the town. The
//! record lives in `gt_core::rig`.

pub use gt_core::rig::Rig;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::git::CloneLimits;

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
    check_transport(req.source)?;
    let _adding = ws.lock(&format!("rig-add-{}", req.name))?;
    if ws.store.get_rig(req.name).is_ok() {
        return Err(Error::refused(format!("rig '{}' already exists", req.name)));
    }
    let dir = ws.rig_dir(req.name);
    // What an add killed before it could clean up left behind: it never
    // blocks the name.
    if is_leftover_of_add(&dir) && req.name != crate::town::STATE_DIR {
        end_leftover_clone(&dir);
        std::fs::remove_dir_all(&dir)
            .map_err(|e| Error::io(format!("cannot remove {}", dir.display()), e))?;
    }
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
    // SIGINT/SIGTERM during the add stop the clone and clean up (the
    // handlers live until the add returns).
    let cancel = Arc::new(AtomicBool::new(false));
    // Once the add is over, the signals act as before (their default action;
    // signal-hook cannot give the original disposition back otherwise).
    let restore = Arc::new(AtomicBool::new(false));
    let mut handlers = Vec::new();
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let _ = signal_hook::flag::register_conditional_default(sig, restore.clone());
        handlers.extend(signal_hook::flag::register(sig, cancel.clone()).ok());
    }
    let limits = CloneLimits {
        timeout: Some(ws.town.config.rig.duration("clone_timeout")),
        cancel: Some(cancel.clone()),
        pid_file: Some(dir.join(ADDING_MARKER)),
    };
    let interrupted = || -> Result<()> {
        if cancel.load(Ordering::SeqCst) {
            return Err(Error::refused(
                "gt rig add was interrupted; nothing was kept",
            ));
        }
        Ok(())
    };
    let result = (|| -> Result<Rig> {
        std::fs::create_dir(&dir)
            .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        crate::fsutil::write_new(&dir.join(ADDING_MARKER), b"")?;
        let repo = ws.repo_dir(req.name);
        ws.host
            .git
            .clone_bare(&source, &repo, &limits, progress)
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
                if !ws.host.git.branch_exists(&repo, b)? {
                    return Err(Error::invalid(format!(
                        "branch '{b}' does not exist in {}",
                        req.source
                    )));
                }
                b.to_string()
            }
            None => ws.host.git.default_branch(&repo)?,
        };
        if ws
            .host
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
        // gt's own transport policy, also for the agents' git; then the
        // config is recorded as gt's (see `repo_guard`).
        ws.host.git.pin_protocol_policy(&repo)?;
        crate::repo_guard::record(ws, req.name)?;
        interrupted()?;
        let rig = Rig {
            name: req.name.to_string(),
            source: source.clone(),
            branch,
            prefix: prefix.clone(),
            agent: None,
            created_at: String::new(),
        };
        ws.store.add_rig(&rig, actor)?;
        std::fs::remove_file(dir.join(ADDING_MARKER))
            .map_err(|e| Error::io("cannot finish the rig folder", e))?;
        ws.store.get_rig(req.name)
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(
            crate::repo_guard::record_path(ws, req.name)
                .parent()
                .unwrap_or(&dir),
        );
    }
    restore.store(true, Ordering::SeqCst);
    for h in handlers {
        signal_hook::low_level::unregister(h);
    }
    result
}

/// This host's clone of `rig`, made from the rig's source when it has none
/// (a host that joined a town after the rig was added): bare, with gt's
/// transport policy and config record, as `gt rig add` makes it. `true`
/// when it cloned. A folder in the way that is not a clone is refused,
/// never removed; a failed clone leaves nothing.
pub fn ensure_clone(ws: &Workspace, rig: &Rig) -> Result<bool> {
    let dir = ws.rig_dir(&rig.name);
    let is_ready = || ws.repo_dir(&rig.name).is_dir() && !dir.join(ADDING_MARKER).exists();
    if is_ready() {
        return Ok(false);
    }
    validate_name("rig", &rig.name)?;
    let _adding = ws.lock(&format!("rig-add-{}", rig.name))?;
    if is_ready() {
        return Ok(false);
    }
    if is_leftover_of_add(&dir) {
        end_leftover_clone(&dir);
        std::fs::remove_dir_all(&dir)
            .map_err(|e| Error::io(format!("cannot remove {}", dir.display()), e))?;
    }
    if dir.exists() || rig.name == crate::town::STATE_DIR {
        return Err(Error::refused(format!(
            "{} is in the way of rig {}'s clone on this host; move it away",
            dir.display(),
            rig.name
        )));
    }
    if rig.source.starts_with('-') || rig.source.chars().any(char::is_control) {
        return Err(Error::invalid(format!(
            "rig {}'s source '{}' is not a repository",
            rig.name,
            rig.source.escape_debug()
        )));
    }
    check_transport(&rig.source)?;
    let limits = CloneLimits {
        timeout: Some(ws.town.config.rig.duration("clone_timeout")),
        cancel: None,
        pid_file: Some(dir.join(ADDING_MARKER)),
    };
    let result = (|| -> Result<()> {
        std::fs::create_dir(&dir)
            .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        crate::fsutil::write_new(&dir.join(ADDING_MARKER), b"")?;
        let repo = ws.repo_dir(&rig.name);
        ws.host
            .git
            .clone_bare(&rig.source, &repo, &limits, &mut |_| {})?;
        if ws
            .host
            .git
            .resolve(&repo, &format!("refs/heads/{}", rig.branch))?
            .is_none()
        {
            return Err(Error::Environment(format!(
                "{} has no branch {} on this host",
                rig.source, rig.branch
            )));
        }
        std::fs::create_dir(dir.join(crate::workspace::POLECATS_DIR))
            .map_err(|e| Error::io("cannot create the polecats folder", e))?;
        ws.host.git.pin_protocol_policy(&repo)?;
        crate::repo_guard::record(ws, &rig.name)?;
        std::fs::remove_file(dir.join(ADDING_MARKER))
            .map_err(|e| Error::io("cannot finish the rig folder", e))
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(Error::Environment(format!(
            "cannot clone rig {} on this host from {}: {}",
            rig.name,
            rig.source,
            crate::deacon::error_line(&e)
        )));
    }
    Ok(true)
}

/// A file in a rig folder while `gt rig add` fills it.
const ADDING_MARKER: &str = ".gt-adding";

/// Ends the `git clone` a killed `gt rig add` may have left running into
/// `dir` (its process group id is in the marker): otherwise it would go on
/// writing there — and remove the folder when it fails, even once a new rig
/// lives in it. Only a process that is a clone into this folder is killed.
fn end_leftover_clone(dir: &std::path::Path) {
    let Some(pid) = std::fs::read_to_string(dir.join(ADDING_MARKER))
        .ok()
        .and_then(|t| t.trim().parse::<u32>().ok())
    else {
        return;
    };
    let repo = dir.join(crate::workspace::REPO_DIR);
    let is_that_clone = || {
        std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
            let args: Vec<&[u8]> = c.split(|b| *b == 0).collect();
            args.contains(&&b"clone"[..]) && args.contains(&repo.as_os_str().as_encoded_bytes())
        })
    };
    if !is_that_clone() {
        return;
    }
    crate::refinery::kill_group(pid);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while is_that_clone() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Whether `dir` is what an interrupted `gt rig add` left: the marker, maybe
/// a (partial) clone and an empty polecats folder — nothing else, so a
/// folder of someone else's is never removed for holding a marker.
fn is_leftover_of_add(dir: &std::path::Path) -> bool {
    if !dir.join(ADDING_MARKER).is_file() {
        return false;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().all(|e| {
        let name = e.file_name();
        let name = name.to_string_lossy();
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        name == ADDING_MARKER
            || (name == crate::workspace::REPO_DIR && is_dir)
            || (name == crate::workspace::POLECATS_DIR
                && is_dir
                && std::fs::read_dir(e.path()).is_ok_and(|mut d| d.next().is_none()))
    })
}

/// Refuses transports gt never uses: remote helpers named in the URL
/// (`ext::` runs a command, `fd::` reads a descriptor and hangs) — every
/// `<transport>::<address>` form.
fn check_transport(source: &str) -> Result<()> {
    if let Some((transport, _)) = source.split_once("::") {
        let helper_like = !transport.is_empty()
            && transport
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        if helper_like {
            return Err(Error::invalid(format!(
                "rig source '{}' uses the '{}::' transport; gt clones only local paths and file, git, http(s) and ssh URLs",
                source.escape_debug(),
                transport.escape_debug()
            )));
        }
    }
    Ok(())
}

/// Polecat branches of a rig that hold commits not on its default branch.
pub fn unmerged_branches(ws: &Workspace, rig: &Rig) -> Result<Vec<(String, usize)>> {
    let repo = ws.repo_dir(&rig.name);
    let mut out = Vec::new();
    for b in ws.host.git.list_branches(&repo, "polecat/")? {
        let n = ws.host.git.count_commits_between(
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
        match wt
            .exists()
            .then(|| crate::sling::own_worktree_dirty(ws, &wt))
        {
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
            .host
            .tmux
            .kill_session(&Workspace::session_name(name, &p.name));
    }
    for p in &dirty {
        let wt = ws.worktree(name, p);
        ws.host
            .git
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
        ws.host
            .git
            .bundle_create(&ws.repo_dir(name), &file, &branches)?;
        bundle = Some(file);
    }
    ws.store.remove_rig(name, actor)?;
    std::fs::remove_dir_all(ws.rig_dir(name))
        .map_err(|e| Error::io(format!("cannot remove {}", ws.rig_dir(name).display()), e))?;
    // gt's records of the rig (config record, last fetch).
    let _ = std::fs::remove_dir_all(ws.town.state_dir().join("rigs").join(name));
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

/// Event kinds of following the upstream.
pub mod kind {
    /// The upstream was fetched (payload: outcome, before, after, upstream).
    pub const RIG_FETCHED: &str = crate::event::EventKind::RigFetched.as_str();
    /// The upstream could not be fetched (a warning: work goes on).
    pub const RIG_FETCH_FAILED: &str = crate::event::EventKind::RigFetchFailed.as_str();
}

/// How long one fetch of the upstream may take.
pub(crate) const FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);
/// ... when a sling waits for it (an unanswering upstream delays a sling at
/// most this long, once per `rig.fetch_interval`).
const SLING_FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// What a fetch of a rig's upstream did to its target branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FetchOutcome {
    /// The target already was the upstream tip.
    UpToDate,
    /// The target moved forward to the upstream tip.
    FastForwarded,
    /// The target holds commits the upstream lacks (landed, not pushed).
    Ahead,
    /// Both have commits the other lacks: the target is left alone.
    Diverged,
}

/// `gt rig fetch`: one rig's fetch.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FetchReport {
    pub rig: String,
    pub branch: String,
    pub outcome: FetchOutcome,
    /// The target before and after.
    pub before: String,
    pub after: String,
    /// The upstream's tip of the branch.
    pub upstream: String,
}

fn fetch_stamp(ws: &Workspace, rig: &str) -> PathBuf {
    ws.town
        .state_dir()
        .join("rigs")
        .join(rig)
        .join("last-fetch")
}

/// Fetches the rig's upstream (`origin`) and fast-forwards its target branch
/// to it when the target has nothing the upstream lacks. Records the fetch
/// (`rig.fetched`, the time for [`fetch_if_due`]); a failure is an error
/// here and a `rig.fetch_failed` event.
pub fn fetch(ws: &Workspace, name: &str, actor: &str) -> Result<FetchReport> {
    fetch_within(ws, name, actor, FETCH_TIMEOUT)
}

fn fetch_within(
    ws: &Workspace,
    name: &str,
    actor: &str,
    timeout: std::time::Duration,
) -> Result<FetchReport> {
    use crate::event::NewEvent;
    use crate::store::EventStore;
    let rig = ws.store.get_rig(name)?;
    let repo = ws.repo_dir(name);
    let stamp = fetch_stamp(ws, name);
    if let Some(dir) = stamp.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
    }
    let now = crate::clock::format_ts(ws.town.clock().now());
    // Tried now, whatever the answer: an unreachable upstream is not asked
    // again on every sling.
    crate::fsutil::write_atomic(&stamp, now.as_bytes())?;
    let upstream = match ws.host.git.fetch_upstream(&repo, &rig.branch, timeout) {
        Ok(u) => u,
        Err(e) => {
            let msg = format!("cannot fetch the upstream of rig {name}: {e}");
            ws.store.append_event(
                NewEvent::new(kind::RIG_FETCH_FAILED, msg.clone())
                    .rig(name)
                    .payload(serde_json::json!({ "error": e.to_string() })),
                actor,
            )?;
            return Err(Error::Environment(msg));
        }
    };
    let target = format!("refs/heads/{}", rig.branch);
    let before =
        ws.host.git.resolve(&repo, &target)?.ok_or_else(|| {
            Error::Environment(format!("rig {name} has no branch {}", rig.branch))
        })?;
    let outcome = if before == upstream {
        FetchOutcome::UpToDate
    } else if ws.host.git.is_ancestor(&repo, &before, &upstream)? {
        // A compare-and-swap: a landing that moved the target meanwhile wins.
        match ws
            .host
            .git
            .update_ref(&repo, &target, &upstream, Some(&before))
        {
            Ok(()) => FetchOutcome::FastForwarded,
            Err(Error::Refused(_)) => FetchOutcome::Ahead,
            Err(e) => return Err(e),
        }
    } else if ws.host.git.is_ancestor(&repo, &upstream, &before)? {
        FetchOutcome::Ahead
    } else {
        FetchOutcome::Diverged
    };
    let after = ws
        .host
        .git
        .resolve(&repo, &target)?
        .unwrap_or(before.clone());
    let report = FetchReport {
        rig: name.to_string(),
        branch: rig.branch.clone(),
        outcome,
        before,
        after,
        upstream,
    };
    let what = match outcome {
        FetchOutcome::UpToDate => "up to date".to_string(),
        FetchOutcome::FastForwarded => format!(
            "{} moved to {}",
            rig.branch,
            &report.after[..report.after.len().min(12)]
        ),
        FetchOutcome::Ahead => format!("{} is ahead of its upstream", rig.branch),
        FetchOutcome::Diverged => format!(
            "{} and its upstream diverged; {} was left alone",
            rig.branch, rig.branch
        ),
    };
    ws.store.append_event(
        NewEvent::new(kind::RIG_FETCHED, format!("fetched rig {name}: {what}"))
            .rig(name)
            .payload(serde_json::to_value(&report).unwrap_or_default()),
        actor,
    )?;
    Ok(report)
}

/// [`fetch`] unless the rig was fetched less than `rig.fetch_interval`
/// ago. Never fails: a failure is logged and recorded (`rig.fetch_failed`),
/// and work goes on from the local target.
pub fn fetch_if_due(ws: &Workspace, name: &str, actor: &str) -> Option<FetchReport> {
    let interval = ws.town.config.rig.duration("fetch_interval");
    let last = std::fs::read_to_string(fetch_stamp(ws, name))
        .ok()
        .and_then(|t| crate::clock::parse_ts(t.trim()).ok());
    if let Some(last) = last {
        let age = ws.town.clock().now() - last;
        if age >= time::Duration::ZERO && age < interval {
            return None;
        }
    }
    match fetch_within(ws, name, actor, SLING_FETCH_TIMEOUT) {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::warn!("{e}");
            None
        }
    }
}

/// What happens before a sling cuts a branch of a rig: its repository
/// config is put back when tampered with, and its upstream is fetched when
/// due. Never fails the sling.
pub fn before_branch_cut(ws: &Workspace, name: &str, actor: &str) {
    if let Err(e) = crate::repo_guard::enforce(ws, name, actor) {
        tracing::warn!("cannot check the config of rig {name}: {e}");
    }
    fetch_if_due(ws, name, actor);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rig_transports_of_remote_helpers_are_refused() {
        for bad in ["ext::sh -c id", "fd::0", "fd::3,4", "foo+bar::x", "EXT::x"] {
            assert!(check_transport(bad).is_err(), "{bad}");
        }
        for good in [
            "/srv/repo.git",
            "file:///srv/repo.git",
            "https://example.org/a.git",
            "git://example.org/a",
            "ssh://git@example.org/a",
            "git@example.org:a.git",
            "./odd::name",
        ] {
            assert!(check_transport(good).is_ok(), "{good}");
        }
    }
}
