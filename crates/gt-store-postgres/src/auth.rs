//! Where the store's password comes from when its URL has none, in libpq's
//! order: the URL's own password, else the caller's `PGPASSWORD`, else the
//! first matching line of the password file (`PGPASSFILE`, else
//! `~/.pgpass`). The library never reads the process environment: the CLI
//! hands the caller's values down as a [`PasswordSource`].
//!
//! A password is never printed: not in an error, the store's `location()`,
//! an event or a log; [`PasswordSource`]'s `Debug` shows only whether one
//! was given.

use std::path::{Path, PathBuf};

use gt_core::caller::CallerEnv;

/// The caller's password sources (none: the URL's password only).
#[derive(Clone, Default)]
pub struct PasswordSource {
    /// `PGPASSWORD`.
    env_password: Option<String>,
    /// `PGPASSFILE`, else `$HOME/.pgpass`.
    passfile: Option<PathBuf>,
}

impl std::fmt::Debug for PasswordSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordSource")
            .field("pgpassword", &self.env_password.as_ref().map(|_| "***"))
            .field("passfile", &self.passfile)
            .finish()
    }
}

impl PasswordSource {
    /// From the caller's `PGPASSWORD`, `PGPASSFILE` and `HOME`.
    pub fn from_caller(caller: &CallerEnv) -> Self {
        PasswordSource {
            env_password: caller.var("PGPASSWORD").map(str::to_string),
            passfile: caller
                .var("PGPASSFILE")
                .map(PathBuf::from)
                .or_else(|| caller.home().map(|h| h.join(".pgpass"))),
        }
    }

    /// Explicit sources (tests, embedders).
    pub fn new(env_password: Option<String>, passfile: Option<PathBuf>) -> Self {
        PasswordSource {
            env_password,
            passfile,
        }
    }

    /// The password for a connection the URL gave none for: `PGPASSWORD`,
    /// else the password file's first line matching `key`.
    pub(crate) fn password_for(&self, key: &PassKey<'_>) -> Option<String> {
        if let Some(p) = &self.env_password {
            return Some(p.clone());
        }
        let path = self.passfile.as_deref()?;
        let text = read_private(path)?;
        pgpass_lookup(&text, key)
    }
}

/// What a password-file line is matched against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PassKey<'a> {
    pub host: &'a str,
    pub port: &'a str,
    pub database: &'a str,
    pub user: &'a str,
}

/// The file's text when it is a regular file only its owner can read or
/// write (mode 0600 or stricter); like libpq, any other file is ignored.
fn read_private(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.permissions().mode() & 0o077 != 0 {
        return None;
    }
    std::fs::read_to_string(path).ok()
}

/// The password of the first line of a `.pgpass` text matching `key`.
/// A line is `hostname:port:database:username:password`; a field `*`
/// matches anything; `\:` and `\\` stand for `:` and `\`; lines starting
/// with `#` and lines with fewer fields are skipped; the password ends at
/// an unescaped `:`.
pub(crate) fn pgpass_lookup(text: &str, key: &PassKey<'_>) -> Option<String> {
    let wanted = [key.host, key.port, key.database, key.user];
    for line in text.lines() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let fields = split_fields(line);
        if fields.len() < 5 {
            continue;
        }
        let matches = fields[..4]
            .iter()
            .zip(wanted)
            .all(|(f, w)| f.wildcard || f.text == w);
        if matches {
            // As in libpq, the password ends at its first unescaped colon.
            return Some(fields[4].text.clone()).filter(|p| !p.is_empty());
        }
    }
    None
}

struct Field {
    /// Unescaped.
    text: String,
    /// A lone, unescaped `*`.
    wildcard: bool,
}

fn split_fields(line: &str) -> Vec<Field> {
    let mut fields = Vec::new();
    let mut text = String::new();
    // A field is a wildcard when it is one `*` as written (`\*` is not).
    let mut raw = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                raw.push(c);
                if let Some(n) = chars.next() {
                    raw.push(n);
                    text.push(n);
                }
            }
            ':' => {
                let wildcard = raw == "*";
                fields.push(Field {
                    text: std::mem::take(&mut text),
                    wildcard,
                });
                raw.clear();
            }
            _ => {
                raw.push(c);
                text.push(c);
            }
        }
    }
    let wildcard = raw == "*";
    fields.push(Field { text, wildcard });
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn key<'a>(host: &'a str, port: &'a str, db: &'a str, user: &'a str) -> PassKey<'a> {
        PassKey {
            host,
            port,
            database: db,
            user,
        }
    }

    #[test]
    fn the_first_matching_line_wins() {
        let text = "# comment\n\
                    db.example:5432:town:gt:first\n\
                    db.example:5432:town:gt:second\n\
                    *:*:*:*:fallback\n";
        assert_eq!(
            pgpass_lookup(text, &key("db.example", "5432", "town", "gt")).as_deref(),
            Some("first")
        );
        assert_eq!(
            pgpass_lookup(text, &key("other", "1", "x", "y")).as_deref(),
            Some("fallback")
        );
        assert_eq!(
            pgpass_lookup("db:5432:town:gt:pw\n", &key("db", "5433", "town", "gt")),
            None
        );
    }

    #[test]
    fn wildcards_match_any_value_of_their_field_only() {
        let text = "*:5432:*:gt:star\n";
        assert_eq!(
            pgpass_lookup(text, &key("anyhost", "5432", "anydb", "gt")).as_deref(),
            Some("star")
        );
        assert_eq!(pgpass_lookup(text, &key("h", "5432", "d", "other")), None);
        // An escaped star is a literal star, and `*x` is no wildcard.
        let text = "\\*:5432:d:u:literal\n*x:5432:d:u:no\n";
        assert_eq!(pgpass_lookup(text, &key("h", "5432", "d", "u")), None);
        assert_eq!(
            pgpass_lookup(text, &key("*", "5432", "d", "u")).as_deref(),
            Some("literal")
        );
    }

    #[test]
    fn escapes_stand_for_colons_and_backslashes() {
        let text = "h:5432:my\\:db:u\\\\ser:p\\:w\\\\d\n";
        assert_eq!(
            pgpass_lookup(text, &key("h", "5432", "my:db", "u\\ser")).as_deref(),
            Some("p:w\\d")
        );
        // As in libpq, an unescaped colon ends the password.
        assert_eq!(
            pgpass_lookup("h:1:d:u:a:b\r\n", &key("h", "1", "d", "u")).as_deref(),
            Some("a")
        );
        // Too few fields: skipped.
        assert_eq!(pgpass_lookup("h:1:d:u\n", &key("h", "1", "d", "u")), None);
    }

    #[test]
    fn the_env_password_comes_before_the_file_and_the_file_must_be_private() {
        let dir = std::env::temp_dir().join(format!("gt-pgpass-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pgpass");
        std::fs::write(&file, "*:*:*:*:from-file\n").unwrap();
        let k = key("h", "5432", "d", "u");

        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let from_file = PasswordSource::new(None, Some(file.clone()));
        assert_eq!(from_file.password_for(&k).as_deref(), Some("from-file"));
        let both = PasswordSource::new(Some("from-env".into()), Some(file.clone()));
        assert_eq!(both.password_for(&k).as_deref(), Some("from-env"));

        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o400)).unwrap();
        assert_eq!(from_file.password_for(&k).as_deref(), Some("from-file"));
        for loose in [0o640, 0o604, 0o660] {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(loose)).unwrap();
            assert_eq!(
                from_file.password_for(&k),
                None,
                "mode {loose:o} is ignored"
            );
        }
        assert_eq!(PasswordSource::default().password_for(&k), None);
        assert_eq!(
            PasswordSource::new(None, Some(dir.join("missing"))).password_for(&k),
            None
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_caller_names_the_sources_and_debug_hides_the_password() {
        let caller = CallerEnv::default()
            .with_var("HOME", "/home/u")
            .with_var("PGPASSWORD", "s3cret");
        let s = PasswordSource::from_caller(&caller);
        assert_eq!(s.passfile.as_deref(), Some(Path::new("/home/u/.pgpass")));
        assert!(!format!("{s:?}").contains("s3cret"));
        let s = PasswordSource::from_caller(&caller.with_var("PGPASSFILE", "/etc/pw"));
        assert_eq!(s.passfile.as_deref(), Some(Path::new("/etc/pw")));
    }
}
