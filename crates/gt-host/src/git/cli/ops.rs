//! The [`Git`] operations of [`GitCli`].

use super::*;

impl Git for GitCli {
    fn init(&self, dir: &Path, branch: &str) -> Result<()> {
        validate_branch_name(branch)?;
        let b = format!("--initial-branch={branch}");
        self.run(dir, "init", &[os("--quiet"), os(&b)]).map(drop)
    }

    fn clone_bare(
        &self,
        source: &str,
        dest: &Path,
        limits: &CloneLimits,
        progress: &mut dyn FnMut(&str),
    ) -> Result<()> {
        use std::os::unix::process::CommandExt;
        use std::sync::atomic::Ordering;
        if source.trim().is_empty() || source.chars().any(char::is_control) {
            return Err(Error::invalid(
                "clone source must be a non-empty URL or path without control characters",
            ));
        }
        let mut cmd = self.command(None, &[], "clone");
        cmd.args(["--bare", "--progress", "--"])
            .arg(source)
            .arg(dest)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Its own process group: a timeout or an interrupt ends git and
            // every helper it started (ssh, remote helpers, upload-pack).
            .process_group(0);
        let mut child = cmd.spawn().map_err(|e| spawn_error(&self.program, e))?;
        if let Some(f) = &limits.pid_file {
            if let Err(e) = crate::fsutil::write_atomic(f, format!("{}\n", child.id()).as_bytes()) {
                kill_group(&mut child);
                return Err(e);
            }
        }
        let Some(mut stderr) = child.stderr.take() else {
            kill_group(&mut child);
            return Err(Error::Internal("git clone: no stderr pipe".into()));
        };
        // Git rewrites progress lines in place with '\r'; every '\r' or '\n'
        // ends a line. Read on a thread so the wait below can give up.
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            let mut line: Vec<u8> = Vec::new();
            let mut buf = [0u8; 4096];
            let send = |line: &mut Vec<u8>| {
                let text = String::from_utf8_lossy(line).trim().to_string();
                line.clear();
                if !text.is_empty() {
                    let _ = tx.send(text);
                }
            };
            loop {
                let n = match stderr.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                };
                for &b in &buf[..n] {
                    if b == b'\r' || b == b'\n' {
                        send(&mut line);
                    } else {
                        line.push(b);
                    }
                }
            }
            send(&mut line);
        });
        // The last lines are kept for the error message.
        let mut tail: Vec<String> = Vec::new();
        let mut emit = |text: String, tail: &mut Vec<String>| {
            progress(&text);
            tail.push(text);
            if tail.len() > 20 {
                tail.remove(0);
            }
        };
        let start = std::time::Instant::now();
        let status = loop {
            match rx.recv_timeout(std::time::Duration::from_millis(50)) {
                Ok(text) => {
                    emit(text, &mut tail);
                    continue;
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    // Output is done: git is about to exit.
                    break child
                        .wait()
                        .map_err(|e| Error::io("cannot wait for git clone", e))?;
                }
            }
            if let Some(status) = child
                .try_wait()
                .map_err(|e| Error::io("cannot wait for git clone", e))?
            {
                break status;
            }
            let cancelled = limits
                .cancel
                .as_ref()
                .is_some_and(|c| c.load(Ordering::SeqCst));
            let timed_out = limits.timeout.is_some_and(|t| start.elapsed() >= t);
            if cancelled || timed_out {
                kill_group(&mut child);
                let _ = reader.join();
                return Err(if cancelled {
                    Error::refused("the clone was interrupted")
                } else {
                    Error::invalid(format!(
                        "the clone took longer than {}s (rig.clone_timeout)",
                        limits.timeout.map_or(0, |t| t.as_secs())
                    ))
                });
            }
        };
        let _ = reader.join();
        for text in rx.try_iter() {
            emit(text, &mut tail);
        }
        if status.success() {
            return Ok(());
        }
        // Prefer git's own "fatal:"/"error:" lines over progress noise.
        let errors: Vec<&str> = tail
            .iter()
            .map(String::as_str)
            .filter(|l| l.starts_with("fatal:") || l.starts_with("error:"))
            .collect();
        let stderr = if errors.is_empty() {
            tail.last().cloned().unwrap_or_default()
        } else {
            errors.join("\n")
        };
        Err(command_error(
            "clone",
            &Output {
                status,
                stdout: String::new(),
                stderr,
            },
        ))
    }

    fn default_branch(&self, repo: &Path) -> Result<String> {
        let args = [os("--quiet"), os("--short"), os("HEAD")];
        let out = self.exec(Some(repo), &[], "symbolic-ref", &args)?;
        match out.status.code() {
            Some(0) => Ok(out.stdout.trim().to_string()),
            Some(1) => Err(Error::refused(format!(
                "HEAD of {} is detached: it names no branch",
                repo.display()
            ))),
            _ => Err(command_error("symbolic-ref", &out)),
        }
    }

    fn branch_exists(&self, repo: &Path, branch: &str) -> Result<bool> {
        validate_branch_name(branch)?;
        let full = format!("refs/heads/{branch}");
        self.run_yes_no(
            repo,
            "show-ref",
            &[os("--verify"), os("--quiet"), os(&full)],
        )
    }

    fn resolve(&self, repo: &Path, rev: &str) -> Result<Option<String>> {
        validate_rev(rev)?;
        let spec = format!("{rev}^{{commit}}");
        let args = [os("--verify"), os("--quiet"), os(&spec)];
        let out = self.exec(Some(repo), &[], "rev-parse", &args)?;
        match out.status.code() {
            Some(0) => Ok(Some(out.stdout.trim().to_string())),
            Some(1) => Ok(None),
            _ => Err(command_error("rev-parse", &out)),
        }
    }

    fn worktree_add(&self, repo: &Path, wt: &Path, branch: &str, start: &str) -> Result<()> {
        validate_branch_name(branch)?;
        validate_rev(start)?;
        let args = [
            os("add"),
            os("--quiet"),
            os("--no-track"),
            os("-b"),
            os(branch),
            os("--"),
            wt.as_os_str(),
            os(start),
        ];
        self.run(repo, "worktree", &args).map(drop)
    }

    fn worktree_add_existing(&self, repo: &Path, wt: &Path, branch: &str) -> Result<()> {
        validate_branch_name(branch)?;
        let args = [
            os("add"),
            os("--quiet"),
            os("--"),
            wt.as_os_str(),
            os(branch),
        ];
        self.run(repo, "worktree", &args).map(drop)
    }

    fn switch_branch(&self, wt: &Path, branch: &str, start: &str) -> Result<()> {
        validate_branch_name(branch)?;
        validate_rev(start)?;
        if self.is_dirty(wt)? {
            return Err(Error::refused(format!(
                "worktree {} has uncommitted changes",
                wt.display()
            )));
        }
        let args = [
            os("--quiet"),
            os("--no-track"),
            os("-C"),
            os(branch),
            os("--"),
            os(start),
        ];
        self.run(wt, "switch", &args).map(drop)
    }

    fn worktree_remove(&self, repo: &Path, wt: &Path, force: bool) -> Result<()> {
        let mut args = vec![os("remove")];
        if force {
            args.push(os("--force"));
        }
        args.push(os("--"));
        args.push(wt.as_os_str());
        self.run(repo, "worktree", &args).map(drop)
    }

    fn worktree_prune(&self, repo: &Path) -> Result<()> {
        self.run(repo, "worktree", &[os("prune")]).map(drop)
    }

    fn worktree_list(&self, repo: &Path) -> Result<Vec<WorktreeInfo>> {
        let out = self.run(repo, "worktree", &[os("list"), os("--porcelain")])?;
        Ok(parse_worktree_list(&out))
    }

    fn status(&self, wt: &Path) -> Result<Vec<StatusEntry>> {
        // Explicit options so user config (status.showUntrackedFiles=no...)
        // cannot hide changes.
        let args = [os("--porcelain"), os("-z"), os("--untracked-files=normal")];
        let out = self.run(wt, "status", &args)?;
        Ok(parse_status_z(&out))
    }

    fn commit_all(&self, wt: &Path, message: &str) -> Result<Option<String>> {
        if message.trim().is_empty() {
            return Err(Error::invalid("commit message must not be empty"));
        }
        if message.contains('\0') {
            return Err(Error::invalid("commit message must not contain NUL"));
        }
        self.run(wt, "add", &[os("-A")])?;
        let staged = self.has_staged_changes(wt)?;
        if !staged {
            return Ok(None);
        }
        let config = self.identity_overrides(wt)?;
        let args = [
            os("--quiet"),
            os("--no-verify"),
            os("--no-edit"),
            os("--cleanup=whitespace"),
            os("-m"),
            os(message),
        ];
        let out = self.exec(Some(wt), &config, "commit", &args)?;
        if !out.status.success() {
            return Err(command_error("commit", &out));
        }
        let head = self.run(wt, "rev-parse", &[os("--verify"), os("HEAD")])?;
        Ok(Some(head.trim().to_string()))
    }

    fn commits_between(&self, repo: &Path, base: &str, head: &str) -> Result<Vec<CommitInfo>> {
        validate_rev(base)?;
        validate_rev(head)?;
        let range = format!("{base}..{head}");
        // rev-list (plumbing) is not affected by log.* user settings. It
        // prints a "commit <id>" header before each formatted line; only the
        // lines holding the 0x1f separator are ours.
        let args = [os("--format=%H%x1f%s"), os(&range), os("--")];
        let out = self.run(repo, "rev-list", &args)?;
        Ok(out
            .lines()
            .filter_map(|l| l.split_once('\u{1f}'))
            .map(|(id, subject)| CommitInfo {
                id: id.to_string(),
                subject: subject.to_string(),
            })
            .collect())
    }

    fn count_commits_between(&self, repo: &Path, base: &str, head: &str) -> Result<usize> {
        validate_rev(base)?;
        validate_rev(head)?;
        let range = format!("{base}..{head}");
        let out = self.run(repo, "rev-list", &[os("--count"), os(&range), os("--")])?;
        out.trim()
            .parse()
            .map_err(|_| Error::Internal(format!("git rev-list --count printed {out:?}")))
    }

    fn delete_branch(&self, repo: &Path, branch: &str, force: bool) -> Result<()> {
        validate_branch_name(branch)?;
        let flag = if force { "-D" } else { "-d" };
        self.run(repo, "branch", &[os(flag), os("--"), os(branch)])
            .map(drop)
    }

    fn list_branches(&self, repo: &Path, pattern: &str) -> Result<Vec<String>> {
        validate_branch_pattern(pattern)?;
        let full = format!("refs/heads/{pattern}");
        let args = [os("--format=%(refname)"), os(&full)];
        let out = self.run(repo, "for-each-ref", &args)?;
        let mut names: Vec<String> = out
            .lines()
            .filter_map(|l| l.strip_prefix("refs/heads/"))
            .map(str::to_string)
            .collect();
        names.sort();
        Ok(names)
    }

    fn bundle_create(&self, repo: &Path, file: &Path, branches: &[String]) -> Result<()> {
        if branches.is_empty() {
            return Err(Error::invalid("a bundle needs at least one branch"));
        }
        let refs = branches
            .iter()
            .map(|b| validate_branch_name(b).map(|_| format!("refs/heads/{b}")))
            .collect::<Result<Vec<_>>>()?;
        // An absolute path can never be mistaken for an option.
        let file = std::path::absolute(file)
            .map_err(|e| Error::io(format!("bad bundle path {}", file.display()), e))?;
        let mut args = vec![os("create"), file.as_os_str()];
        args.extend(refs.iter().map(os));
        self.run(repo, "bundle", &args).map(drop)
    }

    fn update_ref(
        &self,
        repo: &Path,
        refname: &str,
        new: &str,
        expected_old: Option<&str>,
    ) -> Result<()> {
        validate_ref_name(refname)?;
        validate_oid(new)?;
        if let Some(old) = expected_old {
            validate_oid(old)?;
        }
        let mut args = vec![os("-m"), os("gt"), os(refname), os(new)];
        if let Some(old) = expected_old {
            args.push(os(old));
        }
        let out = self.exec(Some(repo), &[], "update-ref", &args)?;
        if out.status.success() {
            return Ok(());
        }
        // Tell a lost race from other failures by looking at the ref again,
        // not by parsing git's (translated) messages.
        if let Some(old) = expected_old {
            let now = self.read_ref(repo, refname)?;
            let expected = (old != ZERO_OID).then(|| old.to_string());
            let now_matches = match (&now, &expected) {
                (Some(n), Some(e)) => oid_eq(n, e),
                (None, None) => true,
                _ => false,
            };
            if !now_matches {
                return Err(Error::refused(format!(
                    "{refname} moved: expected {}, found {}",
                    expected.as_deref().unwrap_or("no ref"),
                    now.as_deref().unwrap_or("no ref"),
                )));
            }
        }
        Err(command_error("update-ref", &out))
    }

    fn is_ancestor(&self, repo: &Path, ancestor: &str, descendant: &str) -> Result<bool> {
        validate_rev(ancestor)?;
        validate_rev(descendant)?;
        let args = [os("--is-ancestor"), os(ancestor), os(descendant)];
        self.run_yes_no(repo, "merge-base", &args)
    }

    fn worktree_add_detached(&self, repo: &Path, wt: &Path, commit: &str) -> Result<()> {
        validate_rev(commit)?;
        let args = [
            os("add"),
            os("--quiet"),
            os("--detach"),
            os("--"),
            wt.as_os_str(),
            os(commit),
        ];
        self.run(repo, "worktree", &args).map(drop)
    }

    fn reset_detached(&self, wt: &Path, commit: &str) -> Result<()> {
        validate_rev(commit)?;
        // Whatever an interrupted run left in progress is given up (no
        // `--abort` when the worktree's git dir shows none in progress).
        let dir = worktree_git_dir(wt);
        let pending = |names: &[&str]| match &dir {
            Some(d) => names.iter().any(|n| d.join(n).symlink_metadata().is_ok()),
            None => true,
        };
        if pending(&["rebase-merge", "rebase-apply"]) {
            let _ = self.exec(Some(wt), &[], "rebase", &[os("--abort")]);
        }
        if pending(&["MERGE_HEAD"]) {
            let _ = self.exec(Some(wt), &[], "merge", &[os("--abort")]);
        }
        let args = [os("--quiet"), os("--force"), os("--detach"), os(commit)];
        self.run(wt, "checkout", &args)?;
        self.run(wt, "reset", &[os("--quiet"), os("--hard"), os(commit)])?;
        self.run(wt, "clean", &[os("-q"), os("-f"), os("-d")])
            .map(drop)
    }

    fn rebase(
        &self,
        wt: &Path,
        onto: &str,
        start: Option<&str>,
        prefer_mine: bool,
    ) -> Result<Integration> {
        validate_rev(onto)?;
        if let Some(s) = start {
            validate_oid(s)?;
        }
        let mut config = self.identity_overrides(wt)?;
        config.push("rebase.autoSquash=false".into());
        config.push("rebase.autoStash=false".into());
        config.push("rebase.updateRefs=false".into());
        let mut args = vec![os("--quiet"), os("--no-verify"), os("--no-autosquash")];
        if prefer_mine {
            args.extend([os("-X"), os("theirs")]);
        }
        args.push(os(onto));
        if let Some(s) = start {
            args.push(os(s));
        }
        let out = self.exec(Some(wt), &config, "rebase", &args)?;
        if out.status.success() {
            return self.head_of(wt).map(Integration::Done);
        }
        let files = self.unmerged_paths(wt)?;
        let _ = self.exec(Some(wt), &[], "rebase", &[os("--abort")]);
        if files.is_empty() {
            return Err(command_error("rebase", &out));
        }
        Ok(Integration::Conflict(files))
    }

    fn merge_into_head(
        &self,
        wt: &Path,
        commit: &str,
        message: &str,
        squash: bool,
    ) -> Result<Integration> {
        validate_rev(commit)?;
        if message.trim().is_empty() || message.contains('\0') {
            return Err(Error::invalid("merge message must be non-empty text"));
        }
        let config = self.identity_overrides(wt)?;
        let mut args = vec![os("--quiet"), os("--no-verify"), os("--no-edit")];
        if squash {
            args.push(os("--squash"));
        } else {
            args.extend([os("--no-ff"), os("-m"), os(message)]);
        }
        args.push(os(commit));
        let out = self.exec(Some(wt), &config, "merge", &args)?;
        if !out.status.success() {
            let files = self.unmerged_paths(wt)?;
            let _ = self.exec(Some(wt), &[], "merge", &[os("--abort")]);
            if squash {
                let _ = self.exec(Some(wt), &[], "reset", &[os("--quiet"), os("--hard")]);
            }
            if files.is_empty() {
                return Err(command_error("merge", &out));
            }
            return Ok(Integration::Conflict(files));
        }
        if squash {
            let staged = self.has_staged_changes(wt)?;
            if staged {
                let args = [
                    os("--quiet"),
                    os("--no-verify"),
                    os("--no-edit"),
                    os("-m"),
                    os(message),
                ];
                let out = self.exec(Some(wt), &config, "commit", &args)?;
                if !out.status.success() {
                    return Err(command_error("commit", &out));
                }
            }
        }
        self.head_of(wt).map(Integration::Done)
    }

    fn delete_ref(&self, repo: &Path, refname: &str, expected_old: &str) -> Result<()> {
        validate_ref_name(refname)?;
        validate_oid(expected_old)?;
        let args = [os("-m"), os("gt"), os("-d"), os(refname), os(expected_old)];
        let out = self.exec(Some(repo), &[], "update-ref", &args)?;
        if out.status.success() {
            return Ok(());
        }
        match self.read_ref(repo, refname)? {
            Some(now) if !oid_eq(&now, expected_old) => Err(Error::refused(format!(
                "{refname} moved: expected {expected_old}, found {now}"
            ))),
            None => Ok(()),
            _ => Err(command_error("update-ref", &out)),
        }
    }

    fn detach_head(&self, wt: &Path) -> Result<()> {
        self.run(wt, "checkout", &[os("--quiet"), os("--detach")])
            .map(drop)
    }

    fn push(&self, repo: &Path, commit: &str, branch: &str) -> Result<()> {
        validate_oid(commit)?;
        validate_branch_name(branch)?;
        self.push_spec(repo, &format!("{commit}:refs/heads/{branch}"))
    }

    fn pin_protocol_policy(&self, repo: &Path) -> Result<()> {
        for entry in PINNED_CONFIG.iter().filter(|c| c.starts_with("protocol.")) {
            let (key, value) = entry.split_once('=').unwrap_or((entry, ""));
            self.run(repo, "config", &[os(key), os(value)])?;
        }
        Ok(())
    }

    fn config_file_entries(&self, file: &Path) -> Result<Vec<(String, String)>> {
        let file = std::path::absolute(file)
            .map_err(|e| Error::io(format!("bad config path {}", file.display()), e))?;
        let args = [os("--file"), file.as_os_str(), os("--list"), os("-z")];
        let out = self.exec(None, &[], "config", &args)?;
        if !out.status.success() {
            return Err(command_error("config", &out));
        }
        Ok(out
            .stdout
            .split('\0')
            .filter(|e| !e.is_empty())
            .map(|e| {
                let (k, v) = e.split_once('\n').unwrap_or((e, ""));
                (k.to_string(), v.to_string())
            })
            .collect())
    }

    fn user_identity(&self, wt: &Path) -> Result<Vec<(String, String)>> {
        let args = [os("--get-regexp"), os("-z"), os(r"^user\.(name|email)$")];
        let out = self.exec(Some(wt), &[], "config", &args)?;
        match out.status.code() {
            Some(0) => {}
            Some(1) => return Ok(Vec::new()),
            _ => return Err(command_error("config", &out)),
        }
        // The last value of each key wins, as for git itself.
        let mut found: Vec<(String, String)> = Vec::new();
        for e in out.stdout.split('\0').filter(|e| !e.is_empty()) {
            let (k, v) = e.split_once('\n').unwrap_or((e, ""));
            found.retain(|(key, _)| key != k);
            found.push((k.to_string(), v.to_string()));
        }
        found.sort();
        Ok(found)
    }

    fn checkpoint(&self, wt: &Path, message: &str) -> Result<String> {
        if message.trim().is_empty() || message.contains('\0') {
            return Err(Error::invalid(
                "a checkpoint message must be one non-empty text",
            ));
        }
        self.confine(wt)?;
        let index = tempfile::NamedTempFile::new()
            .map_err(|e| Error::io("cannot make a private index", e))?;
        let with_index = |sub: &str, args: &[&OsStr], config: &[String]| -> Result<String> {
            let mut cmd = self.command(Some(wt), config, sub);
            cmd.env("GIT_INDEX_FILE", index.path()).args(args);
            let out = cmd.output().map_err(|e| spawn_error(&self.program, e))?;
            let out = Output {
                status: out.status,
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            };
            if !out.status.success() {
                return Err(command_error(sub, &out));
            }
            Ok(out.stdout.trim().to_string())
        };
        let head = self.run(wt, "rev-parse", &[os("--verify"), os("HEAD^{commit}")])?;
        let head = head.trim().to_string();
        with_index("read-tree", &[os(&head)], &[])?;
        with_index("add", &[os("-A")], &[])?;
        let tree = with_index("write-tree", &[], &[])?;
        let head_tree = self.run(wt, "rev-parse", &[os("--verify"), os("HEAD^{tree}")])?;
        if oid_eq(head_tree.trim(), &tree) {
            return Ok(head);
        }
        let config = self.identity_overrides(wt)?;
        with_index(
            "commit-tree",
            &[os(&tree), os("-p"), os(&head), os("-m"), os(message)],
            &config,
        )
    }

    fn push_ref_forced(&self, repo: &Path, commit: &str, refname: &str) -> Result<()> {
        validate_oid(commit)?;
        validate_ref_name(refname)?;
        self.push_spec(repo, &format!("+{commit}:{refname}"))
    }

    fn delete_remote_refs(
        &self,
        repo: &Path,
        refs: &[(&str, Option<&str>)],
    ) -> Result<Vec<String>> {
        for (name, expect) in refs {
            validate_ref_name(name)?;
            if let Some(c) = expect {
                validate_oid(c)?;
            }
        }
        if refs.is_empty() {
            return Ok(Vec::new());
        }
        // Only what the upstream has: deleting a missing ref fails the push.
        let mut args = vec![os("origin")];
        args.extend(refs.iter().map(|(n, _)| os(n)));
        let listed = self.run(repo, "ls-remote", &args)?;
        let present: Vec<&str> = listed
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .collect();
        let todo: Vec<&(&str, Option<&str>)> =
            refs.iter().filter(|(n, _)| present.contains(n)).collect();
        if todo.is_empty() {
            return Ok(Vec::new());
        }
        let mut owned: Vec<String> = Vec::new();
        for (name, expect) in &todo {
            if let Some(c) = expect {
                owned.push(format!("--force-with-lease={name}:{c}"));
            }
        }
        let specs: Vec<String> = todo.iter().map(|(n, _)| format!(":{n}")).collect();
        let mut args = vec![os("--porcelain"), os("--no-verify")];
        args.extend(owned.iter().map(os));
        args.push(os("origin"));
        args.extend(specs.iter().map(os));
        let out = self.exec(Some(repo), &[], "push", &args)?;
        // Porcelain: `-<TAB>:<ref><TAB>[deleted]` for each one deleted.
        let deleted: Vec<String> = out
            .stdout
            .lines()
            .filter_map(|l| {
                let mut f = l.split('\t');
                (f.next() == Some("-"))
                    .then(|| f.next())
                    .flatten()
                    .and_then(|spec| spec.strip_prefix(':'))
                    .map(str::to_string)
            })
            .collect();
        let mut deleted = deleted;
        deleted.sort();
        if deleted.is_empty() && !out.status.success() {
            return Err(command_error("push", &out));
        }
        Ok(deleted)
    }

    fn fetch_ref(
        &self,
        repo: &Path,
        refname: &str,
        timeout: std::time::Duration,
    ) -> Result<Option<String>> {
        validate_ref_name(refname)?;
        let listed = self.run(repo, "ls-remote", &[os("origin"), os(refname)])?;
        if !listed
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some(refname))
        {
            return Ok(None);
        }
        self.fetch_spec(repo, &format!("+{refname}:{refname}"), timeout)?;
        self.read_ref(repo, refname)
    }

    fn fetch_upstream(
        &self,
        repo: &Path,
        branch: &str,
        timeout: std::time::Duration,
    ) -> Result<String> {
        validate_branch_name(branch)?;
        let tracking = format!("refs/remotes/origin/{branch}");
        let spec = format!("+refs/heads/{branch}:{tracking}");
        self.fetch_spec(repo, &spec, timeout)?;
        self.read_ref(repo, &tracking)?
            .ok_or_else(|| Error::Environment(format!("origin has no branch {branch}")))
    }

    fn is_tracked(&self, wt: &Path, path: &str) -> Result<bool> {
        let args = [os("--error-unmatch"), os("--"), os(path)];
        self.run_yes_no(wt, "ls-files", &args)
    }

    fn resolve_many(&self, repo: &Path, revs: &[&str]) -> Result<Vec<Option<String>>> {
        if revs.len() < 2 {
            return revs.iter().map(|r| self.resolve(repo, r)).collect();
        }
        let mut input = String::new();
        for r in revs {
            validate_rev(r)?;
            input.push_str(r);
            input.push_str("^{commit}\n");
        }
        // One line out per line in: `<oid> commit <size>`, or `<rev>
        // missing` / `<rev> ambiguous` for what is not a commit here.
        let args = [os("--batch-check=%(objectname) %(objecttype)")];
        let out = self.exec_input(repo, "cat-file", &args, &input)?;
        if !out.status.success() {
            return Err(command_error("cat-file", &out));
        }
        let lines: Vec<&str> = out.stdout.lines().collect();
        if lines.len() != revs.len() {
            return Err(Error::Internal(format!(
                "git cat-file answered {} lines for {} revisions",
                lines.len(),
                revs.len()
            )));
        }
        Ok(lines
            .iter()
            .map(|l| match l.split_once(' ') {
                Some((oid, "commit")) if validate_oid(oid).is_ok() => Some(oid.to_string()),
                _ => None,
            })
            .collect())
    }

    fn all_ancestors(&self, repo: &Path, ancestors: &[&str], descendant: &str) -> Result<bool> {
        if ancestors.len() < 2 {
            return match ancestors.first() {
                Some(a) => self.is_ancestor(repo, a, descendant),
                None => Ok(true),
            };
        }
        validate_rev(descendant)?;
        // Commits reachable from any of them but not from `descendant`: none
        // exactly when each of them is an ancestor of (or is) `descendant`.
        let mut args = vec![os("-n"), os("1")];
        for a in ancestors {
            validate_rev(a)?;
            args.push(os(*a));
        }
        args.extend([os("--not"), os(descendant), os("--")]);
        let out = self.run(repo, "rev-list", &args)?;
        Ok(out.trim().is_empty())
    }

    fn delete_refs(&self, repo: &Path, refs: &[(&str, &str)]) -> Vec<Result<()>> {
        if refs.len() < 2 {
            return refs
                .iter()
                .map(|(r, old)| self.delete_ref(repo, r, old))
                .collect();
        }
        // All of them in one transaction; when that fails (one moved or is
        // gone), each on its own so each gets its own answer.
        let mut input = String::new();
        let mut valid = true;
        for (r, old) in refs {
            valid &= validate_ref_name(r).is_ok() && validate_oid(old).is_ok();
            input.push_str(&format!("delete {r} {old}\n"));
        }
        if valid {
            let args = [os("-m"), os("gt"), os("--stdin")];
            if let Ok(out) = self.exec_input(repo, "update-ref", &args, &input) {
                if out.status.success() {
                    return refs.iter().map(|_| Ok(())).collect();
                }
            }
        }
        refs.iter()
            .map(|(r, old)| self.delete_ref(repo, r, old))
            .collect()
    }

    fn identity_cache(&self) -> IdentityCacheGuard {
        let mut c = self.identity.lock().unwrap_or_else(|e| e.into_inner());
        c.users += 1;
        IdentityCacheGuard(Some(self.identity.clone()))
    }
}
