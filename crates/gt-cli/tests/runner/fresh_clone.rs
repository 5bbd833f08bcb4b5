//! What a fresh clone needs: tests that see only the system's programs (never a
//! real agent CLI installed on the machine), the demo script's toolchain
//! checks, and documentation that agrees with Cargo.toml.

use std::path::{Path, PathBuf};

use crate::common::{filtered_bin, system_path, REAL_AGENTS};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn executable(path: &Path, script: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, format!("#!/bin/sh\n{script}")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn test_path_hides_real_agent_clis() {
    let tmp = tempfile::tempdir().unwrap();
    let sys = tmp.path().join("usr-bin");
    std::fs::create_dir(&sys).unwrap();
    for name in ["claude", "codex", "gemini", "ls-like"] {
        executable(&sys.join(name), "exit 0\n");
    }
    // Not executable: not a program.
    std::fs::write(sys.join("notes.txt"), "x").unwrap();
    let bin = filtered_bin(tmp.path(), std::slice::from_ref(&sys), REAL_AGENTS).unwrap();
    assert!(bin.join("ls-like").exists());
    for name in ["claude", "codex", "gemini", "notes.txt"] {
        assert!(!bin.join(name).exists(), "{name} is on the test PATH");
    }
    // Made once: a second call finds the same directory.
    assert_eq!(filtered_bin(tmp.path(), &[sys], REAL_AGENTS).unwrap(), bin);

    // The PATH every test town gets: the tools gt needs, no real agent.
    let path = system_path();
    assert!(!path.contains(':'), "one directory: {path}");
    for tool in ["git", "tmux", "sh", "kill"] {
        assert!(Path::new(&path).join(tool).exists(), "{tool} missing");
    }
    for agent in REAL_AGENTS {
        assert!(!Path::new(&path).join(agent).exists(), "{agent} on PATH");
    }
}

/// Runs `scripts/demo.sh` with `path` as PATH and returns (exit code, stderr).
fn demo_with_path(path: &str) -> (Option<i32>, String) {
    let out = std::process::Command::new("/bin/bash")
        .arg(repo_root().join("scripts/demo.sh"))
        .env_clear()
        .env("PATH", path)
        .env("HOME", tempfile::tempdir().unwrap().path())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn demo_script_says_when_the_toolchain_is_missing_or_old() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs: Vec<PathBuf> = ["/usr/local/bin", "/usr/bin", "/bin"]
        .iter()
        .map(PathBuf::from)
        .collect();
    let mut deny = REAL_AGENTS.to_vec();
    deny.extend(["cargo", "rustc", "rustup"]);
    let no_rust = filtered_bin(tmp.path(), &dirs, &deny).unwrap();

    let (code, err) = demo_with_path(no_rust.to_str().unwrap());
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("error: cargo/rustc not found"), "{err}");
    assert!(err.contains("hint: install it with rustup"), "{err}");

    // An old rustc is named with the version Cargo.toml asks for.
    let fake = tmp.path().join("old-rust");
    std::fs::create_dir(&fake).unwrap();
    executable(
        &fake.join("rustc"),
        "echo 'rustc 1.70.0 (old 2023-06-01)'\n",
    );
    executable(&fake.join("cargo"), "echo cargo must not run >&2; exit 9\n");
    let (code, err) = demo_with_path(&format!("{}:{}", fake.display(), no_rust.display()));
    assert_eq!(code, Some(1), "{err}");
    let need = rust_version();
    assert!(
        err.contains(&format!("rustc 1.70.0 is older than the {need}")),
        "{err}"
    );
    assert!(!err.contains("cargo must not run"), "{err}");
}

fn rust_version() -> String {
    let manifest = std::fs::read_to_string(repo_root().join("Cargo.toml")).unwrap();
    manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .expect("rust-version in Cargo.toml")
        .to_string()
}

#[test]
fn readme_states_the_rust_version_of_cargo_toml() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let need = rust_version();
    assert!(
        readme.contains(&format!("Rust toolchain ({need}+")),
        "README must ask for Rust {need}+"
    );
}

#[test]
fn tests_read_nothing_outside_the_repository() {
    // The fixture the interop tests read is carried in the repository.
    let fixture = repo_root().join("testdata/beads-classic.jsonl");
    let text = std::fs::read_to_string(&fixture).expect("testdata fixture");
    assert_eq!(text.lines().count(), 513);
    // No source or test names a path beside the checkout.
    let mut offenders = Vec::new();
    let mut stack = vec![repo_root().join("crates"), repo_root().join("scripts")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(text) = std::fs::read_to_string(&p) {
                if text.contains(concat!("../../../", "shared"))
                    || text.contains(concat!("shared/", "fixtures"))
                {
                    offenders.push(p.display().to_string());
                }
            }
        }
    }
    assert!(offenders.is_empty(), "{offenders:?}");
}
