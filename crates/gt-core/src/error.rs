//! Typed errors of Gas Town. The CLI maps each to a short message, an
//! optional hint, and an exit code class ([`ErrorClass`]).

use std::path::PathBuf;

/// Result alias used throughout the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How the CLI should treat an error: it decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Bad input, not found, refused: exit 1.
    User,
    /// Missing tools, unreadable town, database from a newer `gt`: exit 3.
    Environment,
    /// A bug or an unexpected failure: exit 4.
    Internal,
}

/// What kind of failure a storage backend reported, in terms that do not
/// name the backend. The backend maps its own error codes onto these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreErrorKind {
    /// Another writer held the database past the busy timeout.
    Busy,
    /// The database is damaged (the backend reports it malformed).
    Corrupt,
    /// The file is not a database of this backend at all.
    NotADatabase,
    /// The database, or a file it needs, cannot be written.
    ReadOnly,
    /// The database, or a file it needs (a write-ahead log...), cannot be opened.
    CannotOpen,
    /// A uniqueness, foreign-key or check constraint was violated.
    Constraint,
    /// Anything else: a bug or an unexpected failure.
    Other,
}

/// A storage backend's failure: its kind and the backend's own message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct StoreError {
    pub kind: StoreErrorKind,
    pub message: String,
}

impl StoreError {
    pub fn new(kind: StoreErrorKind, message: impl Into<String>) -> Self {
        StoreError {
            kind,
            message: message.into(),
        }
    }

    /// The database file is damaged or not a database at all.
    pub fn is_damaged(&self) -> bool {
        matches!(
            self.kind,
            StoreErrorKind::Corrupt | StoreErrorKind::NotADatabase
        )
    }

    /// The database, or a file it needs, cannot be written or opened.
    pub fn is_readonly(&self) -> bool {
        matches!(
            self.kind,
            StoreErrorKind::ReadOnly | StoreErrorKind::CannotOpen
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input that does not satisfy a rule (title length, priority range, name syntax...).
    #[error("{0}")]
    Invalid(String),

    /// A thing that was asked for by id or name does not exist.
    #[error("{what} not found: {id}")]
    NotFound { what: &'static str, id: String },

    /// A partial id matched more than one thing.
    #[error("ambiguous id '{id}' matches {}", candidates.join(", "))]
    Ambiguous { id: String, candidates: Vec<String> },

    /// The request is well-formed but refused in the current state.
    #[error("{0}")]
    Refused(String),

    /// A dependency would close a cycle.
    #[error("dependency cycle: {0}")]
    Cycle(String),

    /// No town was found from the current directory, `--town` or `GT_TOWN`.
    #[error("not inside a Gas Town")]
    NotInTown,

    /// The town's files cannot be written.
    #[error("town is read-only: {0}")]
    ReadOnly(PathBuf),

    /// The database was written by a newer `gt`.
    #[error("database {path} has schema version {found}, this gt supports up to {supported}")]
    SchemaTooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },

    /// The town's database is missing, empty or damaged. Only `gt init`
    /// creates a database, so this is refused rather than repaired.
    #[error("town database {}: {problem}", path.display())]
    DamagedDatabase { path: PathBuf, problem: String },

    /// Something the machine lacks or that cannot be read (tmux, git, an unreadable file).
    #[error("{0}")]
    Environment(String),

    /// An external command (git, tmux) failed.
    #[error("{program} failed: {message}")]
    Command { program: String, message: String },

    /// The storage backend failed; what it reported, without naming the backend.
    #[error("database error: {0}")]
    Store(#[from] StoreError),

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::Invalid(msg.into())
    }

    pub fn refused(msg: impl Into<String>) -> Self {
        Error::Refused(msg.into())
    }

    pub fn not_found(what: &'static str, id: impl Into<String>) -> Self {
        Error::NotFound {
            what,
            id: id.into(),
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// The exit-code class of this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Invalid(_)
            | Error::NotFound { .. }
            | Error::Ambiguous { .. }
            | Error::Refused(_)
            | Error::Cycle(_)
            | Error::NotInTown
            | Error::ReadOnly(_) => ErrorClass::User,
            Error::SchemaTooNew { .. }
            | Error::DamagedDatabase { .. }
            | Error::Environment(_)
            | Error::Command { .. } => ErrorClass::Environment,
            Error::Io { source, .. } => match source.kind() {
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
                    ErrorClass::User
                }
                _ => ErrorClass::Environment,
            },
            Error::Store(e) if e.is_readonly() => ErrorClass::User,
            // A damaged file is the machine's state, not a bug in gt.
            Error::Store(e) if e.is_damaged() => ErrorClass::Environment,
            Error::Store(_) => ErrorClass::Internal,
            Error::Internal(_) => ErrorClass::Internal,
        }
    }

    /// A stable machine-readable name, used as `error.kind` in `--json` output.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Invalid(_) => "invalid",
            Error::NotFound { .. } => "not_found",
            Error::Ambiguous { .. } => "ambiguous",
            Error::Refused(_) => "refused",
            Error::Cycle(_) => "cycle",
            Error::NotInTown => "not_in_town",
            Error::ReadOnly(_) => "read_only",
            Error::SchemaTooNew { .. } => "schema_too_new",
            Error::DamagedDatabase { .. } => "damaged_database",
            Error::Environment(_) => "environment",
            Error::Command { .. } => "command_failed",
            Error::Io { source, .. }
                if matches!(
                    source.kind(),
                    std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
                ) =>
            {
                "read_only"
            }
            Error::Io { .. } => "io",
            Error::Store(e) if e.is_readonly() => "read_only",
            Error::Store(e) if e.is_damaged() => "damaged_database",
            Error::Store(_) => "database",
            Error::Internal(_) => "internal",
        }
    }

    /// An optional one-line hint for humans.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::NotInTown => Some("run gt init".into()),
            Error::NotFound { what, id } if looks_like_placeholder(id) => Some(format!(
                "'{}' looks like an example from the docs; use a real {what} id (gt bead list, \
                 gt agents, gt mq list show them)",
                id.escape_debug()
            )),
            Error::Ambiguous { .. } => Some("give more characters of the id".into()),
            Error::SchemaTooNew { .. } => Some("upgrade gt; this database was not modified".into()),
            Error::ReadOnly(_) => Some("check the permissions of the town directory".into()),
            Error::DamagedDatabase { .. } => Some(DAMAGED_HINT.into()),
            Error::Store(e) if e.is_damaged() => Some(DAMAGED_HINT.into()),
            Error::Store(e) if e.is_readonly() => {
                Some("check the permissions of the town directory".into())
            }
            _ => None,
        }
    }
}

/// `hq-abc`, `ID`, `<id>`, `<bead-id>`, `hq-xxx`...: ids copied from
/// documentation rather than from gt's own output.
pub fn looks_like_placeholder(id: &str) -> bool {
    let id = id.trim();
    if id.starts_with('<') && id.ends_with('>') {
        return true;
    }
    if !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c == '_' || c == '-')
    {
        return true;
    }
    let tail = id.rsplit_once('-').map(|(_, t)| t).unwrap_or(id);
    matches!(
        tail,
        "abc" | "def" | "ghi" | "xyz" | "xxx" | "xxxx" | "123" | "1234" | "foo" | "bar" | "id"
    ) || id == "..."
}

const DAMAGED_HINT: &str = "only gt init creates a database; restore .gt/town.db from a backup \
     (gt doctor checks it; nothing was changed)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_ids_get_a_hint() {
        for id in [
            "hq-abc",
            "hq-def",
            "ID",
            "<id>",
            "<bead-id>",
            "BEAD_ID",
            "hq-xxx",
        ] {
            assert!(looks_like_placeholder(id), "{id}");
            assert!(Error::not_found("bead", id).hint().is_some(), "{id}");
        }
        for id in ["hq-4k2m", "hq-x62", "app-7", "nux"] {
            assert!(!looks_like_placeholder(id), "{id}");
            assert!(Error::not_found("bead", id).hint().is_none(), "{id}");
        }
    }

    #[test]
    fn store_errors_keep_their_class_kind_and_hint() {
        let e = |kind| Error::Store(StoreError::new(kind, "boom"));
        for (kind, class, name, hinted) in [
            (
                StoreErrorKind::ReadOnly,
                ErrorClass::User,
                "read_only",
                true,
            ),
            (
                StoreErrorKind::CannotOpen,
                ErrorClass::User,
                "read_only",
                true,
            ),
            (
                StoreErrorKind::Corrupt,
                ErrorClass::Environment,
                "damaged_database",
                true,
            ),
            (
                StoreErrorKind::NotADatabase,
                ErrorClass::Environment,
                "damaged_database",
                true,
            ),
            (
                StoreErrorKind::Busy,
                ErrorClass::Internal,
                "database",
                false,
            ),
            (
                StoreErrorKind::Constraint,
                ErrorClass::Internal,
                "database",
                false,
            ),
            (
                StoreErrorKind::Other,
                ErrorClass::Internal,
                "database",
                false,
            ),
        ] {
            assert_eq!(e(kind).class(), class, "{kind:?}");
            assert_eq!(e(kind).kind(), name, "{kind:?}");
            assert_eq!(e(kind).hint().is_some(), hinted, "{kind:?}");
            assert_eq!(e(kind).to_string(), "database error: boom");
        }
        assert_eq!(
            e(StoreErrorKind::Corrupt).hint().as_deref(),
            Some(DAMAGED_HINT)
        );
    }
}
