use super::*;

pub(crate) use crate::testing::isolated_git;

/// Runs any git command for test setup; panics on failure.
pub(crate) fn git_ok(git: &GitCli, dir: &Path, args: &[&str]) -> String {
    let (sub, rest) = args.split_first().expect("a git subcommand");
    let rest: Vec<&OsStr> = rest.iter().map(OsStr::new).collect();
    git.run(dir, sub, &rest)
        .unwrap_or_else(|e| panic!("git {args:?} failed: {e}"))
}

/// Creates a normal repository at `dir` with one commit (a README) on
/// branch `main`; returns the commit id.
pub(crate) fn make_source_repo(git: &GitCli, dir: &Path) -> String {
    std::fs::create_dir_all(dir).unwrap();
    git_ok(git, dir, &["init", "--quiet"]);
    git_ok(git, dir, &["symbolic-ref", "HEAD", "refs/heads/main"]);
    std::fs::write(dir.join("README.md"), "hello\n").unwrap();
    git.commit_all(dir, "initial commit")
        .unwrap()
        .expect("a first commit")
}
