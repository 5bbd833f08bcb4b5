//! Small file helpers: atomic replace and create-new writes. Neither ever
//! writes through a symbolic link: agents can plant links in the folders gt
//! writes to (their worktrees, the rig repository), and a link followed
//! there would let them overwrite any file of the user.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Refuses `path` when it is a symbolic link.
fn refuse_symlink(path: &Path) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(Error::refused(format!(
            "{} is a symbolic link; gt does not write through links",
            path.display()
        ))),
        _ => Ok(()),
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory and
/// a rename, so readers never see a half-written file. The temporary file has
/// a random name and is created exclusively (an existing file or link of that
/// name is never opened); a `path` that is a symbolic link is refused (the
/// rename would replace the link, not the file it names). A new file gets
/// mode 0644 (less the umask), an existing one keeps its mode.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    refuse_symlink(path)?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mode = std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0o644);
    let fail = |e: std::io::Error| Error::io(format!("cannot write {}", path.display()), e);
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .permissions(std::fs::Permissions::from_mode(mode))
        .tempfile_in(dir)
        .map_err(fail)?;
    tmp.write_all(bytes).map_err(fail)?;
    tmp.as_file().sync_all().map_err(fail)?;
    // Checked again right before the rename: the window is as small as it gets.
    refuse_symlink(path)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

/// Creates `path`, refusing to overwrite an existing file (or to follow a
/// symbolic link: `create_new` never does).
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    write_new_with_mode(path, bytes, 0o666)
}

/// [`write_new`] for a file only its owner may read (it holds a secret).
pub fn write_new_private(path: &Path, bytes: &[u8]) -> Result<()> {
    write_new_with_mode(path, bytes, 0o600)
}

fn write_new_with_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| Error::io(format!("cannot create {}", path.display()), e))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomic_never_follows_links() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious\n").unwrap();
        let target = dir.path().join("AGENTS.md");
        // The temporary names of the old implementation, planted as links.
        for pid in [std::process::id(), 1, 2] {
            std::os::unix::fs::symlink(&victim, dir.path().join(format!(".AGENTS.md.tmp.{pid}")))
                .unwrap();
        }
        write_atomic(&target, b"one\n").unwrap();
        write_atomic(&target, b"two\n").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "two\n");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
        // No temporary file is left behind.
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
        // A target that is a link is refused, and the link's file is kept.
        let link = dir.path().join("link.md");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let err = write_atomic(&link, b"x").unwrap_err();
        assert!(matches!(err, Error::Refused(_)), "{err}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
        // write_new refuses an existing link too.
        assert!(write_new(&link, b"x").is_err());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    }

    #[test]
    fn write_atomic_keeps_the_mode_of_an_existing_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("x");
        std::fs::write(&f, "a").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        write_atomic(&f, b"b").unwrap();
        let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
