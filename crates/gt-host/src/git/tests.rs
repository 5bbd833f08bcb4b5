use super::test_support::*;
use super::*;

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    git: GitCli,
    src: PathBuf,
    bare: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let home = root.join("home");
    std::fs::create_dir(&home).unwrap();
    let git = isolated_git(&home);
    let src = root.join("src");
    make_source_repo(&git, &src);
    let bare = root.join("rig.git");
    let mut lines = Vec::new();
    git.clone_bare(
        src.to_str().unwrap(),
        &bare,
        &CloneLimits::default(),
        &mut |l| lines.push(l.to_string()),
    )
    .unwrap();
    assert!(
        lines.iter().any(|l| l.contains("Cloning into")),
        "progress lines: {lines:?}"
    );
    Fixture {
        _dir: dir,
        root,
        git,
        src,
        bare,
    }
}

#[test]
fn git_clone_worktree_commit_bundle_cycle() {
    let f = fixture();
    let (git, bare) = (&f.git, f.bare.as_path());
    assert_eq!(git.default_branch(bare).unwrap(), "main");
    assert!(git.branch_exists(bare, "main").unwrap());
    assert!(!git.branch_exists(bare, "polecat/toast").unwrap());
    let main = git.resolve(bare, "main").unwrap().expect("main resolves");
    assert_eq!(main.len(), 40);
    assert_eq!(git.resolve(bare, "nope").unwrap(), None);

    let wt = f.root.join("polecats/toast");
    git.worktree_add(bare, &wt, "polecat/toast", "main")
        .unwrap();
    assert!(git.branch_exists(bare, "polecat/toast").unwrap());
    assert!(!git.is_dirty(&wt).unwrap());
    assert_eq!(git.commit_all(&wt, "nothing").unwrap(), None);

    // Ignored files do not count, untracked ones do.
    std::fs::write(wt.join(".gitignore"), "*.log\n").unwrap();
    assert!(git.is_dirty(&wt).unwrap());
    git.commit_all(&wt, "ignore logs").unwrap().unwrap();
    std::fs::write(wt.join("build.log"), "noise").unwrap();
    assert!(!git.is_dirty(&wt).unwrap());
    std::fs::write(wt.join("new file.txt"), "x").unwrap();
    let st = git.status(&wt).unwrap();
    assert_eq!(
        st,
        vec![StatusEntry {
            code: "??".into(),
            path: "new file.txt".into()
        }]
    );

    let c2 = git
        .commit_all(&wt, "-- add a file; $(not a shell)\n\nbody")
        .unwrap()
        .expect("a commit");
    assert!(!git.is_dirty(&wt).unwrap());
    // Committed with the fallback identity: there is no other.
    let who = git_ok(git, &wt, &["log", "-1", "--format=%an <%ae>|%cn <%ce>"]);
    assert_eq!(
        who.trim(),
        "Gas Town <gt@gastown.invalid>|Gas Town <gt@gastown.invalid>"
    );

    let commits = git.commits_between(bare, "main", "polecat/toast").unwrap();
    assert_eq!(commits.len(), 2);
    assert_eq!(commits[0].id, c2);
    assert_eq!(commits[0].subject, "-- add a file; $(not a shell)");
    assert_eq!(commits[1].subject, "ignore logs");
    assert_eq!(
        git.count_commits_between(bare, "main", "polecat/toast")
            .unwrap(),
        2
    );
    assert_eq!(
        git.count_commits_between(bare, "polecat/toast", "main")
            .unwrap(),
        0
    );
    assert!(git.is_ancestor(bare, "main", "polecat/toast").unwrap());
    assert!(!git.is_ancestor(bare, "polecat/toast", "main").unwrap());

    let list = git.worktree_list(bare).unwrap();
    assert_eq!(list.len(), 2);
    assert!(list[0].bare);
    assert_eq!(list[1].branch.as_deref(), Some("polecat/toast"));
    assert_eq!(list[1].head.as_deref(), Some(c2.as_str()));
    assert_eq!(
        list[1].path.canonicalize().unwrap(),
        wt.canonicalize().unwrap()
    );

    assert_eq!(
        git.list_branches(bare, "polecat/*").unwrap(),
        vec!["polecat/toast".to_string()]
    );
    assert_eq!(
        git.list_branches(bare, "*").unwrap(),
        vec!["main".to_string()]
    );

    let bundle = f.root.join("toast.bundle");
    git.bundle_create(bare, &bundle, &["polecat/toast".to_string()])
        .unwrap();
    let heads = git_ok(
        git,
        &f.root,
        &["bundle", "list-heads", bundle.to_str().unwrap()],
    );
    assert_eq!(heads.trim(), format!("{c2} refs/heads/polecat/toast"));

    // A worktree with changes refuses to switch and to be removed.
    std::fs::write(wt.join("wip.txt"), "wip").unwrap();
    assert!(matches!(
        git.switch_branch(&wt, "polecat/toast-2", "main"),
        Err(Error::Refused(_))
    ));
    assert!(matches!(
        git.worktree_remove(bare, &wt, false),
        Err(Error::Command { .. })
    ));
    std::fs::remove_file(wt.join("wip.txt")).unwrap();
    git.switch_branch(&wt, "polecat/toast-2", "main").unwrap();
    assert_eq!(git.resolve(&wt, "HEAD").unwrap().unwrap(), main);

    // Branch deletion: unmerged needs force; checked-out is refused.
    assert!(git.delete_branch(bare, "polecat/toast", false).is_err());
    git.delete_branch(bare, "polecat/toast", true).unwrap();
    assert!(git.delete_branch(bare, "polecat/toast-2", true).is_err());

    std::fs::write(wt.join("wip.txt"), "wip").unwrap();
    git.worktree_remove(bare, &wt, true).unwrap();
    assert!(!wt.exists());
    assert_eq!(git.worktree_list(bare).unwrap().len(), 1);

    // The kept branch comes back in a new worktree, on the branch.
    git.worktree_add_existing(bare, &wt, "polecat/toast-2")
        .unwrap();
    let list = git.worktree_list(bare).unwrap();
    assert_eq!(list[1].branch.as_deref(), Some("polecat/toast-2"));
    assert!(!list[1].detached);
    git.worktree_remove(bare, &wt, false).unwrap();

    // Prune forgets a worktree whose directory vanished.
    let wt2 = f.root.join("polecats/gone");
    git.worktree_add(bare, &wt2, "polecat/gone", "main")
        .unwrap();
    std::fs::remove_dir_all(&wt2).unwrap();
    assert!(git.worktree_list(bare).unwrap()[1].prunable);
    git.worktree_prune(bare).unwrap();
    assert_eq!(git.worktree_list(bare).unwrap().len(), 1);
    assert!(f.src.exists());
}

#[test]
fn git_batched_lookups_answer_like_single_ones() {
    let f = fixture();
    let (git, bare) = (&f.git, f.bare.as_path());
    let main = git.resolve(bare, "main").unwrap().unwrap();
    let wt = f.root.join("wt");
    git.worktree_add_detached(bare, &wt, &main).unwrap();
    // A detached HEAD is read from its file, a branch through git.
    assert_eq!(git.head_of(&wt).unwrap(), main);
    std::fs::write(wt.join("a.txt"), "a").unwrap();
    git.commit_all(&wt, "a").unwrap().unwrap();
    let a = git.head_of(&wt).unwrap();
    assert_eq!(a, git_ok(git, &wt, &["rev-parse", "HEAD"]).trim());
    assert_ne!(a, main);
    let tree = git_ok(git, &wt, &["rev-parse", "HEAD^{tree}"]);
    let missing = "1".repeat(40);
    let found = git
        .resolve_many(bare, &[&main, &missing, tree.trim(), &a])
        .unwrap();
    assert_eq!(found, vec![Some(main.clone()), None, None, Some(a.clone())]);

    assert!(git.all_ancestors(bare, &[&main, &a], &a).unwrap());
    assert!(!git.all_ancestors(bare, &[&main, &a], &main).unwrap());
    assert!(git.all_ancestors(bare, &[], &main).unwrap());

    // Branch deletion: all at once, or each with its own answer.
    for b in ["x", "y", "z"] {
        git.update_ref(bare, &format!("refs/heads/{b}"), &a, None)
            .unwrap();
    }
    let r = git.delete_refs(bare, &[("refs/heads/x", &a), ("refs/heads/y", &a)]);
    assert!(r.iter().all(|r| r.is_ok()), "{r:?}");
    assert!(!git.branch_exists(bare, "x").unwrap());
    assert!(!git.branch_exists(bare, "y").unwrap());
    let r = git.delete_refs(
        bare,
        &[
            ("refs/heads/z", &main),
            ("refs/heads/y", &a),
            ("refs/heads/main", &main),
        ],
    );
    assert!(matches!(r[0], Err(Error::Refused(_))), "{r:?}");
    assert!(r[1].is_ok() && r[2].is_ok(), "{r:?}");
    assert!(git.branch_exists(bare, "z").unwrap());
    assert!(!git.branch_exists(bare, "main").unwrap());

    // Identity: looked up again unless a cache guard lives.
    let fallback = vec![
        "user.name=Gas Town".to_string(),
        "user.email=gt@gastown.invalid".to_string(),
    ];
    assert_eq!(git.identity_overrides(&wt).unwrap(), fallback);
    let guard = git.identity_cache();
    assert_eq!(git.identity_overrides(&wt).unwrap(), fallback);
    git_ok(git, &wt, &["config", "user.name", "Someone"]);
    assert_eq!(git.identity_overrides(&wt).unwrap(), fallback);
    drop(guard);
    assert_eq!(
        git.identity_overrides(&wt).unwrap(),
        vec!["user.email=gt@gastown.invalid".to_string()]
    );

    // Nothing in progress: reset without aborting; a merge in progress
    // is aborted.
    git.reset_detached(&wt, &main).unwrap();
    assert_eq!(git.head_of(&wt).unwrap(), main);
    std::fs::write(wt.join("a.txt"), "b").unwrap();
    git.commit_all(&wt, "b").unwrap().unwrap();
    let ident = git.identity_overrides(&wt).unwrap();
    let out = git.exec(Some(&wt), &ident, "merge", &[os(&a)]).unwrap();
    assert!(!out.status.success());
    let dir = worktree_git_dir(&wt).unwrap();
    assert!(dir.join("MERGE_HEAD").exists());
    git.reset_detached(&wt, &main).unwrap();
    assert!(!dir.join("MERGE_HEAD").exists());
    assert_eq!(git.head_of(&wt).unwrap(), main);
    assert!(!git.is_dirty(&wt).unwrap());
}

#[test]
fn git_update_ref_is_a_compare_and_swap() {
    let f = fixture();
    let (git, bare) = (&f.git, f.bare.as_path());
    let main = git.resolve(bare, "main").unwrap().unwrap();
    let wt = f.root.join("wt");
    git.worktree_add(bare, &wt, "feature", "main").unwrap();
    std::fs::write(wt.join("f.txt"), "f").unwrap();
    let feat = git.commit_all(&wt, "feature").unwrap().unwrap();

    // Wrong old value: refused, ref untouched.
    let err = git
        .update_ref(bare, "refs/heads/main", &feat, Some(&feat))
        .unwrap_err();
    assert!(matches!(err, Error::Refused(_)), "{err:?}");
    assert_eq!(git.resolve(bare, "main").unwrap().unwrap(), main);
    // "Must not exist" on an existing ref: refused.
    let err = git
        .update_ref(bare, "refs/heads/main", &feat, Some(ZERO_OID))
        .unwrap_err();
    assert!(matches!(err, Error::Refused(_)), "{err:?}");

    git.update_ref(bare, "refs/heads/main", &feat, Some(&main))
        .unwrap();
    assert_eq!(git.resolve(bare, "main").unwrap().unwrap(), feat);
    git.update_ref(bare, "refs/gt/merged", &feat, Some(ZERO_OID))
        .unwrap();
    git.update_ref(bare, "refs/gt/merged", &main, None).unwrap();
    assert_eq!(git.resolve(bare, "refs/gt/merged").unwrap().unwrap(), main);
    assert!(git
        .update_ref(bare, "refs/heads/main", "not-an-oid", None)
        .is_err());
}

#[test]
fn git_commit_keeps_a_configured_identity() {
    let f = fixture();
    let wt = f.root.join("wt");
    f.git.worktree_add(&f.bare, &wt, "mine", "main").unwrap();
    git_ok(&f.git, &wt, &["config", "user.name", "Ada"]);
    git_ok(&f.git, &wt, &["config", "user.email", "ada@example.org"]);
    std::fs::write(wt.join("a"), "a").unwrap();
    f.git.commit_all(&wt, "mine").unwrap().unwrap();
    let who = git_ok(&f.git, &wt, &["log", "-1", "--format=%an <%ae>"]);
    assert_eq!(who.trim(), "Ada <ada@example.org>");
    // As git resolves it there (the local level wins).
    assert_eq!(
        f.git.user_identity(&wt).unwrap(),
        vec![
            ("user.email".to_string(), "ada@example.org".to_string()),
            ("user.name".to_string(), "Ada".to_string())
        ]
    );
}

#[test]
fn git_commands_pin_the_code_running_settings() {
    let dir = tempfile::tempdir().unwrap();
    let args = |git: &GitCli| -> Vec<String> {
        git.command(Some(dir.path()), &[], "status")
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    };
    let envs = |git: &GitCli| -> Vec<(String, Option<String>)> {
        git.command(None, &[], "status")
            .get_envs()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.map(|v| v.to_string_lossy().into_owned()),
                )
            })
            .collect()
    };
    let git = isolated_git(dir.path())
        .env_remove("GIT_SSH_COMMAND")
        .env("GIT_SSH", "/opt/my ssh")
        .env_remove("GIT_EDITOR");
    let a = args(&git);
    for pin in [
        "core.hooksPath=/dev/null",
        "core.fsmonitor=false",
        "protocol.ext.allow=never",
        "protocol.fd.allow=never",
        "credential.helper=",
        "core.sshCommand='/opt/my ssh'",
    ] {
        assert!(a.iter().any(|x| x == pin), "{pin} not in {a:?}");
    }
    // Pins come before the subcommand, after -C.
    let sub = a.iter().position(|x| x == "status").unwrap();
    assert!(
        a.iter()
            .position(|x| x == "core.hooksPath=/dev/null")
            .unwrap()
            < sub
    );
    let e = envs(&git);
    assert!(
        e.contains(&("GIT_EDITOR".into(), Some(":".into()))),
        "{e:?}"
    );
    assert!(e.contains(&("GIT_PROTOCOL_FROM_USER".into(), Some("0".into()))));
    // gt's own environment wins over the pins.
    let git = isolated_git(dir.path())
        .env("GIT_SSH_COMMAND", "ssh -F /mine")
        .env("GIT_EDITOR", "vi");
    assert!(!args(&git).iter().any(|x| x.starts_with("core.sshCommand=")));
    assert!(envs(&git).contains(&("GIT_EDITOR".into(), Some("vi".into()))));
}

#[test]
fn git_runs_only_the_users_own_credential_helpers() {
    let f = fixture();
    let home = f.root.join("home");
    let mine = f.root.join("mine");
    let theirs = f.root.join("theirs");
    std::fs::write(
        home.join(".gitconfig"),
        format!(
            "[credential]\n\thelper = \"!f() {{ echo mine >> '{}'; }}; f\"\n[core]\n\tsshCommand = ssh -o BatchMode=yes\n",
            mine.display()
        ),
    )
    .unwrap();
    // What an agent writes into the shared repository config.
    let helper = format!("!f() {{ echo theirs >> '{}'; }}; f", theirs.display());
    git_ok(&f.git, &f.bare, &["config", "credential.helper", &helper]);
    let git = isolated_git(&home);
    assert!(
        git.trusted()
            .iter()
            .any(|c| c == "core.sshcommand=ssh -o BatchMode=yes"),
        "{:?}",
        git.trusted()
    );
    let input = "protocol=https\nhost=example.invalid\n\n";
    let _ = git.exec_input(&f.bare, "credential", &[os("fill")], input);
    assert!(mine.exists(), "the user's helper runs");
    assert!(!theirs.exists(), "the repository's helper never runs");
}

#[test]
fn only_remote_commands_look_up_the_users_helpers() {
    use std::os::unix::fs::PermissionsExt;
    let f = fixture();
    // A git that logs its arguments, then runs the real one.
    let real = which("git");
    let log = f.root.join("calls.log");
    let wrapper = f.root.join("git-logging");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
            log.display(),
            real.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    // Another test thread that forked while the file was open for writing
    // makes exec fail with ETXTBSY until that child has exec'd: run the
    // wrapper once, retrying that error, before the calls under test.
    for _ in 0..100 {
        match std::process::Command::new(&wrapper)
            .arg("--version")
            .output()
        {
            Err(e) if e.raw_os_error() == Some(26) => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            _ => break,
        }
    }
    let _ = std::fs::remove_file(&log);
    let git = isolated_git(&f.root.join("home")).with_program(&wrapper);
    let calls = || std::fs::read_to_string(&log).unwrap_or_default();
    // Local work (what every sling, patrol and merge does): no look-up.
    git.resolve(&f.bare, "refs/heads/main").unwrap();
    git.branch_exists(&f.bare, "main").unwrap();
    assert!(!calls().contains("config --system"), "{}", calls());
    assert!(!calls().contains("config --global"), "{}", calls());
    // A command that reaches a remote gets the user's own settings.
    let _ = git.exec_input(
        &f.bare,
        "credential",
        &[os("fill")],
        "protocol=https\nhost=x.invalid\n\n",
    );
    assert!(calls().contains("config --system"), "{}", calls());
    assert!(calls().contains("config --global"), "{}", calls());
}

fn which(program: &str) -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(program))
                .find(|c| c.is_file())
        })
        .expect("git on PATH")
}

#[test]
fn git_errors_are_typed() {
    let dir = tempfile::tempdir().unwrap();
    let git = isolated_git(dir.path());
    let missing = dir.path().join("no-such-repo");
    let err = git
        .clone_bare(
            missing.to_str().unwrap(),
            &dir.path().join("x.git"),
            &CloneLimits::default(),
            &mut |_| {},
        )
        .unwrap_err();
    match &err {
        Error::Command { program, message } => {
            assert_eq!(program, "git clone");
            assert!(message.contains("fatal:"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
    // An option-looking source is a path after `--`, never an option.
    let err = git
        .clone_bare(
            "--upload-pack=touch pwned",
            &dir.path().join("y.git"),
            &CloneLimits::default(),
            &mut |_| {},
        )
        .unwrap_err();
    assert!(matches!(err, Error::Command { .. }), "{err:?}");
    assert!(!dir.path().join("pwned").exists());

    let err = git.default_branch(&missing).unwrap_err();
    assert!(matches!(err, Error::Command { .. }), "{err:?}");

    let none = GitCli::new().with_program(dir.path().join("no-git-here"));
    let err = none.default_branch(dir.path()).unwrap_err();
    match err {
        Error::Environment(m) => assert!(m.starts_with("git is not installed"), "{m}"),
        other => panic!("unexpected {other:?}"),
    }

    assert!(matches!(
        git.branch_exists(dir.path(), "-x"),
        Err(Error::Invalid(_))
    ));
    assert!(matches!(
        git.resolve(dir.path(), "--all"),
        Err(Error::Invalid(_))
    ));
}

#[test]
fn git_branch_name_validation() {
    for ok in ["main", "polecat/toast", "a-b_c.d/e1", "v1.2"] {
        validate_branch_name(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    for bad in [
        "",
        "-x",
        "a..b",
        "a//b",
        "/a",
        "a/",
        "a.",
        ".a",
        "a/.b",
        "a.lock",
        "a/b.lock/c",
        "HEAD",
        "a b",
        "a~1",
        "a^",
        "a:b",
        "a?",
        "a*",
        "a[",
        "a\\b",
        "a@{1}",
        "ü",
        "a\u{7f}",
    ] {
        assert!(validate_branch_name(bad).is_err(), "{bad:?} accepted");
    }
    validate_ref_name("refs/heads/main").unwrap();
    assert!(validate_ref_name("heads/main").is_err());
    assert!(validate_ref_name("refs/").is_err());
    validate_rev("main~2").unwrap();
    validate_rev("HEAD^{commit}").unwrap();
    for bad in ["", "-n", "a..b", "a b", "a\nb"] {
        assert!(validate_rev(bad).is_err(), "{bad:?} accepted");
    }
    validate_branch_pattern("polecat/*").unwrap();
    validate_branch_pattern("polecat/").unwrap();
    assert!(validate_branch_pattern("-*").is_err());
}

#[test]
fn git_parsers() {
    let list = "worktree /r.git\nbare\n\nworktree \"/a b/\\\"q\\\"\\303\\251\"\nHEAD abc\nbranch refs/heads/polecat/x\nlocked reason\n\nworktree /d\nHEAD def\ndetached\nprunable gitdir file points to non-existent location\n\n";
    let wts = parse_worktree_list(list);
    assert_eq!(wts.len(), 3);
    assert!(wts[0].bare && wts[0].head.is_none());
    assert_eq!(wts[1].path, PathBuf::from("/a b/\"q\"é"));
    assert_eq!(wts[1].branch.as_deref(), Some("polecat/x"));
    assert!(wts[1].locked);
    assert!(wts[2].detached && wts[2].prunable && wts[2].branch.is_none());

    let st = parse_status_z(" M a\0R  new\0old\0?? d/\0");
    let paths: Vec<_> = st
        .iter()
        .map(|e| (e.code.as_str(), e.path.as_str()))
        .collect();
    assert_eq!(paths, vec![(" M", "a"), ("R ", "new"), ("??", "d/")]);
}

/// A checkpoint commits the worktree as it is (untracked files too,
/// ignored ones not) on top of HEAD without touching the worktree, index or
/// branch; pushed to a private ref of the upstream and fetched into
/// another clone, it carries the work there.
#[test]
fn git_checkpoints_travel_through_a_private_ref() {
    let f = fixture();
    let (git, bare) = (&f.git, f.bare.as_path());
    let wt = f.root.join("polecats/nux");
    git.worktree_add(bare, &wt, "polecat/nux", "main").unwrap();
    let head = git.resolve(&wt, "HEAD").unwrap().unwrap();
    assert_eq!(
        git.checkpoint(&wt, "checkpoint").unwrap(),
        head,
        "clean: HEAD"
    );
    std::fs::write(wt.join("README.md"), "changed\n").unwrap();
    std::fs::write(wt.join("new.txt"), "new\n").unwrap();
    std::fs::write(wt.join(".gitignore"), "*.log\n").unwrap();
    std::fs::write(wt.join("noise.log"), "ignored\n").unwrap();
    let before = git.status(&wt).unwrap();
    let cp = git.checkpoint(&wt, "checkpoint of nux").unwrap();
    assert_ne!(cp, head);
    assert_eq!(
        git.status(&wt).unwrap(),
        before,
        "the worktree is untouched"
    );
    assert_eq!(
        git.resolve(&wt, "HEAD").unwrap().unwrap(),
        head,
        "the branch stays"
    );
    let files = git_ok(git, &wt, &["ls-tree", "-r", "--name-only", &cp]);
    assert!(
        files.contains("new.txt") && !files.contains("noise.log"),
        "{files}"
    );
    assert_eq!(
        git_ok(git, &wt, &["rev-parse", &format!("{cp}^")]).trim(),
        head
    );
    // Same content again: the same tree, a commit on HEAD again.
    let again = git.checkpoint(&wt, "checkpoint of nux").unwrap();
    assert_eq!(
        git_ok(git, &wt, &["rev-parse", &format!("{again}^{{tree}}")]),
        git_ok(git, &wt, &["rev-parse", &format!("{cp}^{{tree}}")])
    );

    // The upstream of the clone is `src`; a second clone fetches the ref.
    let refname = "refs/gt/checkpoints/hq-abc";
    git.push_ref_forced(bare, &cp, refname).unwrap();
    // Forced: an unrelated commit replaces it.
    git.push_ref_forced(bare, &head, refname).unwrap();
    git.push_ref_forced(bare, &cp, refname).unwrap();
    let other = f.root.join("other.git");
    git.clone_bare(
        f.src.to_str().unwrap(),
        &other,
        &CloneLimits::default(),
        &mut |_| {},
    )
    .unwrap();
    let t = std::time::Duration::from_secs(30);
    assert_eq!(git.fetch_ref(&other, refname, t).unwrap(), Some(cp.clone()));
    assert_eq!(git.resolve(&other, refname).unwrap(), Some(cp));
    assert_eq!(
        git.fetch_ref(&other, "refs/gt/checkpoints/none", t)
            .unwrap(),
        None
    );
    assert!(git.fetch_ref(&other, "refs/gt/../x", t).is_err());
    assert!(git.push_ref_forced(bare, "nothex", refname).is_err());

    // Deleting on the upstream: a branch only at the commit given, a ref
    // at any, one the upstream lacks skipped, one that moved kept.
    git.push(bare, &head, "polecat/nux").unwrap();
    git.push(bare, &head, "polecat/moved").unwrap();
    let src = f.src.as_path();
    let on_src = |r: &str| git.resolve(src, r).unwrap();
    assert!(on_src("refs/heads/polecat/nux").is_some());
    let deleted = git
        .delete_remote_refs(
            bare,
            &[
                ("refs/heads/polecat/nux", Some(&head)),
                ("refs/heads/polecat/moved", Some(&"0".repeat(40))),
                (refname, None),
                ("refs/gt/checkpoints/never-pushed", None),
            ],
        )
        .unwrap();
    assert_eq!(deleted, [refname, "refs/heads/polecat/nux"]);
    assert_eq!(on_src("refs/heads/polecat/nux"), None);
    assert_eq!(on_src(refname), None);
    assert_eq!(on_src("refs/heads/polecat/moved"), Some(head.clone()));
    // Nothing there: nothing to push.
    assert!(git
        .delete_remote_refs(bare, &[(refname, None)])
        .unwrap()
        .is_empty());
    assert!(git
        .delete_remote_refs(bare, &[("refs/heads/../x", None)])
        .is_err());
}
