//! The `gt demo` driver: a temporary town with a sample repository as a rig,
//! a few tasks slung to the scripted stand-in agent, and a report of what
//! happened. It needs no AI account: the agent is the stand-in
//! (`gt agent-standin`). It is a script over the library's services, not
//! domain logic, so it lives with the command that runs it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use gt_lib::bead::Status;
use gt_lib::error::{Error, Result};
use gt_lib::git::{CommitInfo, Git, GitCli};
use gt_lib::rig::AddRig;
use gt_lib::sling::{SlingRequest, Slung};
use gt_lib::store::{BeadStore, EventStore, WorkStore};
use gt_lib::town::Town;
use gt_lib::workspace::Workspace;

/// The tasks the demo slings.
pub const TASKS: &[&str] = &[
    "Add a friendly greeting to the README",
    "Write a CHANGELOG entry for 0.1",
    "Document the command-line options",
];

#[derive(Debug, Clone, Default)]
pub struct DemoOptions {
    /// Where to build the demo (a new directory); a temporary one by default.
    pub dir: Option<PathBuf>,
    /// Keep the town afterwards (to explore it with `gt --town ...`).
    pub keep: bool,
    /// How long the stand-in "thinks" before working, so progress is visible.
    pub think: Duration,
    /// Give up waiting for the agents after this long.
    pub timeout: Duration,
    /// The caller's environment (the demo's agents run with its PATH).
    pub caller: gt_lib::caller::CallerEnv,
}

/// What the demo reports while it runs.
#[derive(Debug, Clone)]
pub enum DemoEvent {
    Step(String),
    Slung(Box<Slung>),
    /// Current status of every slung bead.
    Progress(Vec<(String, Status)>),
}

#[derive(Debug, Clone, Serialize)]
pub struct DemoBead {
    pub id: String,
    pub title: String,
    pub status: Status,
    pub agent: String,
    pub branch: String,
    pub commits: Vec<CommitInfo>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DemoReport {
    pub town: PathBuf,
    pub kept: bool,
    pub beads: Vec<DemoBead>,
    pub merge_requests: usize,
    /// The newest commits on the rig's `main` after the refinery ran.
    pub main_log: Vec<CommitInfo>,
    pub events: usize,
    pub elapsed_ms: u128,
}

/// Kills the demo town's tmux server and removes its directory (unless kept)
/// on every exit path.
struct Cleanup {
    root: PathBuf,
    ws_tmux: Option<std::sync::Arc<dyn gt_lib::tmux::Tmux>>,
    remove: bool,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(t) = &self.ws_tmux {
            let _ = t.kill_server();
        }
        if self.remove {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

fn sample_repo(git: &dyn Git, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io("cannot create the sample repository", e))?;
    git.init(dir, "main")?;
    let write = |name: &str, text: &str| {
        std::fs::write(dir.join(name), text)
            .map_err(|e| Error::io(format!("cannot write {name}"), e))
    };
    write(
        "README.md",
        "# sample\n\nA small project for the Gas Town demo.\n",
    )?;
    write("main.sh", "#!/bin/sh\necho hello\n")?;
    git.commit_all(dir, "Initial commit")?;
    Ok(())
}

pub fn run(opts: &DemoOptions, gt_exe: &Path, on: &mut dyn FnMut(DemoEvent)) -> Result<DemoReport> {
    let started = Instant::now();
    let (base, remove) = match &opts.dir {
        Some(d) => {
            if d.exists() {
                return Err(Error::refused(format!(
                    "{} already exists; give a new directory",
                    d.display()
                )));
            }
            (d.clone(), false)
        }
        None => {
            let d = std::env::temp_dir().join(format!(
                "gt-demo-{}-{}",
                std::process::id(),
                gt_lib::id::hash36(format!("{:?}", Instant::now()).as_bytes(), 6)
            ));
            (d, !opts.keep)
        }
    };
    let mut cleanup = Cleanup {
        root: base.clone(),
        ws_tmux: None,
        remove,
    };
    let actor = "human";
    on(DemoEvent::Step(format!(
        "Creating a town in {}",
        base.join("town").display()
    )));
    let town = Town::init(&base.join("town"), Some("demo"), false, actor)?;
    let mut ws = Workspace::open(town, opts.caller.clone())?;
    ws.host.gt_exe = gt_exe.to_path_buf();
    cleanup.ws_tmux = Some(ws.host.tmux.clone());

    on(DemoEvent::Step(
        "Making a sample git repository and adding it as rig 'sample'".into(),
    ));
    let src = base.join("sample-src");
    sample_repo(&GitCli::new(), &src)?;
    gt_lib::rig::add(
        &ws,
        &AddRig {
            name: "sample",
            source: &src.to_string_lossy(),
            branch: None,
            prefix: Some("smp"),
        },
        actor,
        &mut |_| {},
    )?;
    let command = shell_words::join([
        gt_exe.to_string_lossy().as_ref(),
        "agent-standin",
        "--behavior",
        "slow",
        "--delay-ms",
        &opts.think.as_millis().to_string(),
    ]);
    ws.town.set_agent("standin", &command, actor)?;

    on(DemoEvent::Step(format!(
        "Slinging {} tasks to the stand-in agent (a scripted program, not an AI)",
        TASKS.len()
    )));
    let slung = gt_lib::sling::sling(
        &ws,
        &SlingRequest {
            work: TASKS
                .iter()
                .map(|t| t.to_string())
                .chain(["sample".to_string()])
                .collect(),
            agent: Some("standin".into()),
            cwd: ws.town.root().to_path_buf(),
            ..Default::default()
        },
        actor,
    )?;
    for s in &slung {
        on(DemoEvent::Slung(Box::new(s.clone())));
    }

    let deadline = Instant::now() + opts.timeout;
    let mut last = Vec::new();
    loop {
        let statuses: Vec<(String, Status)> = slung
            .iter()
            .map(|s| Ok((s.bead.clone(), ws.store.get_bead(&s.bead)?.status)))
            .collect::<Result<_>>()?;
        if statuses != last {
            on(DemoEvent::Progress(statuses.clone()));
            last = statuses.clone();
        }
        if statuses
            .iter()
            .all(|(_, s)| matches!(s, Status::Merging | Status::Closed))
        {
            break;
        }
        if Instant::now() > deadline {
            return Err(Error::refused(format!(
                "the stand-in agents did not finish within {}s; run with --keep and look with gt agents / gt peek",
                opts.timeout.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(250));
    }

    let repo = ws.repo_dir("sample");
    // What the agents committed, per branch, before the refinery lands it.
    let mut commits_of = std::collections::HashMap::new();
    for s in &slung {
        let branch = format!("refs/heads/{}", s.branch);
        let c = ws
            .host
            .git
            .commits_between(&repo, "refs/heads/main", &branch)?;
        commits_of.insert(s.bead.clone(), c);
    }
    on(DemoEvent::Step(
        "Running the refinery: rebase each branch on main, verify, land, close the beads".into(),
    ));
    gt_lib::refinery::run_once(&ws, Some("sample"), actor)?;
    let mut beads = Vec::new();
    for s in &slung {
        let b = ws.store.get_bead(&s.bead)?;
        beads.push(DemoBead {
            id: b.id,
            title: b.title,
            status: b.status,
            agent: s.agent.clone(),
            branch: s.branch.clone(),
            commits: commits_of.remove(&s.bead).unwrap_or_default(),
        });
    }
    let merge_requests = ws.store.list_merge_requests(Some("sample"))?.len();
    // The landed commits: main beyond the sample's first commit.
    let first = ws.host.git.resolve(&src, "HEAD")?.unwrap_or_default();
    let main_log = ws
        .host
        .git
        .commits_between(&repo, &first, "refs/heads/main")?;
    let events = ws.store.events(&Default::default())?.len();
    Ok(DemoReport {
        town: ws.town.root().to_path_buf(),
        kept: !cleanup.remove,
        beads,
        merge_requests,
        main_log,
        events,
        elapsed_ms: started.elapsed().as_millis(),
    })
}
