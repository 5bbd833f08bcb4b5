//! A town in a temporary directory, opened with `Workspace::with_host` on a
//! fake tmux and a settable clock (see docs/architecture.md).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use gt_host::testing::{isolated_git, FakeTmux, SettableClock};
use gt_lib::event::{Event, EventQuery};
use gt_lib::git::Git;
use gt_lib::rig::AddRig;
use gt_lib::store::{BeadStore, EventStore, RigStore};
use gt_lib::town::Town;
use gt_lib::workspace::{Host, Workspace};

pub const ACTOR: &str = "test";
pub const RIG: &str = "app";

pub struct Kit {
    pub ws: Workspace,
    pub tmux: Arc<FakeTmux>,
    pub clock: Arc<SettableClock>,
    /// A git that sees no user configuration, for test setup.
    pub git: Arc<dyn Git>,
    /// The source repository the rig was cloned from.
    pub src: PathBuf,
    _dir: tempfile::TempDir,
}

impl Kit {
    /// A town with one rig (`app`, from a source repository with one commit
    /// on `main`) and a default agent `fake` whose command is `sh` (the
    /// fake tmux never runs it).
    pub fn new() -> Kit {
        Self::with_config(&[])
    }

    /// [`Kit::new`] with these `gt config set` keys.
    pub fn with_config(config: &[(&str, &str)]) -> Kit {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let plain: Arc<dyn Git> = Arc::new(isolated_git(&home));
        let src = dir.path().join("src");
        std::fs::create_dir_all(&src).unwrap();
        plain.init(&src, "main").unwrap();
        std::fs::write(src.join("README.md"), "hello\n").unwrap();
        plain.commit_all(&src, "initial commit").unwrap().unwrap();

        let root = dir.path().join("town");
        let mut town = Town::init(&root, Some("t"), false, ACTOR).unwrap();
        town.set_agent("fake", "sh", ACTOR).unwrap();
        town.set_config("town.default_agent", "fake", ACTOR)
            .unwrap();
        for (k, v) in config {
            town.set_config(k, v, ACTOR).unwrap();
        }
        // git stamps commits with the real time, and the services compare
        // commit times with the clock's: start it at the real now.
        let clock = Arc::new(SettableClock::new(time::OffsetDateTime::now_utc()));
        let tmux = Arc::new(FakeTmux::new(clock.clone()));
        let ws = Workspace::with_host(
            town,
            Host {
                git: Arc::new(isolated_git(&home).for_town(&root)),
                tmux: tmux.clone(),
                clock: clock.clone(),
                gt_exe: dir.path().join("bin").join("gt"),
                start_watch: std::time::Duration::ZERO,
                submit_pause: std::time::Duration::ZERO,
            },
            // What the caller had: only the system's programs (the fake
            // agent is `sh`).
            gt_core::caller::CallerEnv::default().with_var("PATH", "/usr/bin:/bin"),
        )
        .unwrap();
        let source = src.to_string_lossy().into_owned();
        gt_lib::rig::add(
            &ws,
            &AddRig {
                name: RIG,
                source: &source,
                branch: None,
                prefix: None,
            },
            ACTOR,
            &mut |_| {},
        )
        .unwrap();
        Kit {
            ws,
            tmux,
            clock,
            git: plain,
            src,
            _dir: dir,
        }
    }

    /// Events of `kind`, oldest first.
    pub fn events(&self, kind: &str) -> Vec<Event> {
        self.ws
            .store
            .events(&EventQuery {
                kinds: vec![kind.to_string()],
                ..Default::default()
            })
            .unwrap()
    }

    pub fn worktree(&self, polecat: &str) -> PathBuf {
        self.ws.worktree(RIG, polecat)
    }

    pub fn session(&self, polecat: &str) -> String {
        Workspace::session_name(RIG, polecat)
    }

    /// Slings `work` (bead ids or titles) to the rig.
    pub fn sling(&self, work: &[&str]) -> gt_lib::Result<Vec<gt_lib::sling::Slung>> {
        gt_lib::sling::sling(
            &self.ws,
            &gt_lib::sling::SlingRequest {
                work: work.iter().map(|w| w.to_string()).collect(),
                rig: Some(RIG.into()),
                cwd: self.ws.town.root().to_path_buf(),
                ..Default::default()
            },
            ACTOR,
        )
    }

    /// A new bead of the rig with this priority (0 is the most urgent).
    pub fn bead(&self, title: &str, priority: u8) -> String {
        let mut nb = gt_lib::bead::NewBead::new(title);
        nb.priority = Some(priority);
        nb.prefix = Some(self.ws.store.get_rig(RIG).unwrap().prefix);
        self.ws.store.create_bead(&nb, ACTOR).unwrap().id
    }

    /// What the agent of `s` does at the end: a commit, then `gt done`;
    /// tmux then ends its session.
    pub fn finish(&self, s: &gt_lib::sling::Slung) {
        self.commit_file(&s.worktree, &format!("{}.txt", s.bead), "work\n");
        gt_lib::sling::done(
            &self.ws,
            &s.worktree,
            &gt_lib::sling::DoneArgs {
                status: None,
                note: None,
                wip: false,
                no_changes: false,
            },
            ACTOR,
        )
        .unwrap();
        self.tmux.remove_session(&s.session);
    }

    /// Writes `file` in `dir` and commits everything there.
    pub fn commit_file(&self, dir: &Path, file: &str, text: &str) -> String {
        std::fs::write(dir.join(file), text).unwrap();
        self.git
            .commit_all(dir, &format!("add {file}"))
            .unwrap()
            .unwrap()
    }
}
