//! `gt-store-sqlite`: the embedded store backend. [`SqliteStore`] implements
//! every `gt-store` trait over one SQLite database: WAL, foreign keys, busy
//! timeout, and write transactions taken with `BEGIN IMMEDIATE` and retried
//! on `SQLITE_BUSY`. Migrations are the numbered files under `migrations/`.
//! This is the only crate of the workspace that names `rusqlite`.

mod beads;
mod blocking;
mod costs;
mod deacon;
mod dump;
pub mod foreign;
mod hosts;
mod mail;
mod merge;
mod observe;
mod schema;
mod work;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension, Transaction};

use gt_core::error::{Error, Result, StoreError, StoreErrorKind};
use gt_core::event::{Event, EventQuery, NewEvent};
use gt_host::clock::{format_ts, Clock};
use gt_store::{EventStore, StoreMaintenance};

pub use schema::latest as latest_schema_version;

/// Column `idx` of `r` parsed as `T` (a stored status or kind name); a name
/// this gt does not know makes the row corrupt.
pub(crate) fn parsed<T: std::str::FromStr>(
    r: &rusqlite::Row<'_>,
    idx: usize,
    what: &str,
) -> rusqlite::Result<T> {
    let text: String = r.get(idx)?;
    text.parse().map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            idx,
            rusqlite::types::Type::Text,
            format!("stored {what} '{}' is not valid", text.escape_debug()).into(),
        )
    })
}

/// How long one statement waits for another process's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a whole write transaction is retried on `SQLITE_BUSY`.
const BUSY_RETRIES: u32 = 20;

pub struct SqliteStore {
    conn: Connection,
    /// What every appended event records as its source (`set_source`);
    /// read by the connection's `gt_source()` function.
    source: Arc<std::sync::Mutex<Option<String>>>,
    /// The host every appended event records (`set_host`); read by the
    /// connection's `gt_host()` function.
    host: Arc<std::sync::Mutex<Option<String>>>,
    /// The files' stamp at the last `wait_for_events`.
    last_change: std::sync::Mutex<Option<observe::ChangeStamp>>,
    path: PathBuf,
    clock: Arc<dyn Clock>,
    /// Prefix for new bead ids when the caller gives none.
    prefix: String,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

impl SqliteStore {
    /// Creates a new database at `path` (which must not exist) and migrates it.
    pub fn create(path: &Path, prefix: &str, clock: Arc<dyn Clock>) -> Result<Self> {
        if path.exists() {
            return Err(Error::refused(format!(
                "database already exists: {}",
                path.display()
            )));
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| open_error(path, e))?;
        conn.pragma_update(None, "journal_mode", "WAL").db()?;
        Self::finish_open(conn, path, prefix, clock, true)
    }

    /// Opens an existing database, applying pending migrations. A database
    /// from a newer `gt` is refused and left untouched.
    pub fn open(path: &Path, prefix: &str, clock: Arc<dyn Clock>) -> Result<Self> {
        let damaged = |problem: &str| Error::DamagedDatabase {
            path: path.to_path_buf(),
            problem: problem.to_string(),
        };
        match std::fs::metadata(path) {
            Ok(m) if !m.is_file() => return Err(damaged("is not a file")),
            // SQLite would take an empty file for a new database and
            // silently start the town over with nothing in it.
            Ok(m) if m.len() == 0 => return Err(damaged("is empty (0 bytes)")),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(damaged("is missing"))
            }
            Err(e) => return Err(Error::io(format!("cannot read {}", path.display()), e)),
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| open_error(path, e))?;
        // A read-only town shows up only once SQLite needs its WAL files.
        Self::finish_open(conn, path, prefix, clock, false).map_err(|e| match e {
            Error::Store(ref d)
                if matches!(
                    d.kind,
                    StoreErrorKind::CannotOpen | StoreErrorKind::ReadOnly
                ) =>
            {
                Error::ReadOnly(path.parent().unwrap_or(path).to_path_buf())
            }
            Error::Store(ref d) if d.kind == StoreErrorKind::NotADatabase => {
                damaged("is not a gt database (the file is damaged or of another kind)")
            }
            Error::Store(ref d) if d.kind == StoreErrorKind::Corrupt => {
                damaged("is damaged (SQLite reports it malformed)")
            }
            other => other,
        })
    }

    fn finish_open(
        conn: Connection,
        path: &Path,
        prefix: &str,
        clock: Arc<dyn Clock>,
        creating: bool,
    ) -> Result<Self> {
        conn.busy_timeout(BUSY_TIMEOUT).db()?;
        if !creating {
            // A database with no schema at all was never made by gt init.
            let version: i64 = conn
                .pragma_query_value(None, "user_version", |r| r.get(0))
                .db()?;
            let tables: i64 = conn
                .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
                .db()?;
            if version == 0 && tables == 0 {
                return Err(Error::DamagedDatabase {
                    path: path.to_path_buf(),
                    problem: "holds no gt data (an empty database)".into(),
                });
            }
        }
        conn.pragma_update(None, "foreign_keys", "ON").db()?;
        conn.pragma_update(None, "synchronous", "FULL").db()?;
        conn.set_prepared_statement_cache_capacity(64);
        // `gt_source()` in the event insert: this handle's source. Direct
        // only (no trigger or view of a hostile file can call it).
        let (source, host): (Arc<std::sync::Mutex<Option<String>>>, _) = Default::default();
        for (name, value) in [("gt_source", &source), ("gt_host", &host)] {
            let read = value.clone();
            conn.create_scalar_function(
                name,
                0,
                rusqlite::functions::FunctionFlags::SQLITE_UTF8
                    | rusqlite::functions::FunctionFlags::SQLITE_DIRECTONLY,
                move |_| Ok(read.lock().unwrap_or_else(|p| p.into_inner()).clone()),
            )
            .db()?;
        }
        let store = SqliteStore {
            conn,
            source,
            host,
            last_change: std::sync::Mutex::new(None),
            path: path.to_path_buf(),
            clock,
            prefix: prefix.to_string(),
        };
        store.migrate()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `PRAGMA quick_check`: empty when the database is sound, else SQLite's
    /// findings (at most `limit` of them).
    pub fn quick_check(&self, limit: u32) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare(&format!("PRAGMA quick_check({})", limit.max(1)))
            .db()?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .db()?
            .collect::<rusqlite::Result<Vec<_>>>()
            .db()?;
        Ok(rows.into_iter().filter(|r| r != "ok").collect())
    }

    pub fn schema_version(&self) -> Result<i64> {
        self.conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .db()
    }

    fn migrate(&self) -> Result<()> {
        let latest = schema::latest();
        let current = self.schema_version()?;
        if current > latest {
            return Err(Error::SchemaTooNew {
                path: self.path.clone(),
                found: current,
                supported: latest,
            });
        }
        if current == latest {
            return Ok(());
        }
        self.write(|tx| {
            // Another process may have migrated while we waited for the lock.
            let v: i64 = tx
                .pragma_query_value(None, "user_version", |r| r.get(0))
                .db()?;
            if v > latest {
                return Err(Error::SchemaTooNew {
                    path: self.path.clone(),
                    found: v,
                    supported: latest,
                });
            }
            for (i, sql) in schema::MIGRATIONS.iter().enumerate().skip(v as usize) {
                tx.execute_batch(sql).db()?;
                tx.pragma_update(None, "user_version", (i + 1) as i64)
                    .db()?;
            }
            Ok(())
        })
    }

    pub(crate) fn now(&self) -> String {
        format_ts(self.clock.now())
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction, retrying the whole
    /// transaction when the database stays busy past the busy timeout.
    pub(crate) fn write<R>(&self, mut f: impl FnMut(&Transaction<'_>) -> Result<R>) -> Result<R> {
        let mut attempt = 0;
        loop {
            let result = (|| {
                let tx = Transaction::new_unchecked(
                    &self.conn,
                    rusqlite::TransactionBehavior::Immediate,
                )
                .db()?;
                let r = f(&tx)?;
                tx.commit().db()?;
                Ok(r)
            })();
            match result {
                Err(Error::Store(ref e))
                    if e.kind == StoreErrorKind::Busy && attempt < BUSY_RETRIES =>
                {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(5 * u64::from(attempt)));
                }
                Err(Error::Store(ref e)) if e.kind == StoreErrorKind::ReadOnly => {
                    return Err(Error::ReadOnly(
                        self.path.parent().unwrap_or(&self.path).to_path_buf(),
                    ))
                }
                other => return other,
            }
        }
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    pub(crate) fn default_prefix(&self) -> &str {
        &self.prefix
    }
}

impl StoreMaintenance for SqliteStore {
    /// `PRAGMA quick_check`'s findings.
    fn integrity_problems(&self, limit: u32) -> Result<Vec<String>> {
        self.quick_check(limit)
    }

    /// `PRAGMA user_version`.
    fn schema_version(&self) -> Result<i64> {
        SqliteStore::schema_version(self)
    }

    /// The database file.
    fn location(&self) -> String {
        self.path.display().to_string()
    }
}

/// Writes `PRAGMA user_version` directly (tests that simulate a database
/// written by another `gt` version).
#[doc(hidden)]
pub fn set_user_version_for_tests(path: &Path, version: i64) -> Result<()> {
    let conn = Connection::open(path).db()?;
    conn.pragma_update(None, "user_version", version).db()?;
    Ok(())
}

/// Maps a SQLite error onto the backend-neutral [`StoreError`]: the code
/// decides the kind, the message is SQLite's own.
pub(crate) fn store_error(e: rusqlite::Error) -> Error {
    let kind = match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => StoreErrorKind::Busy,
        Some(ErrorCode::DatabaseCorrupt) => StoreErrorKind::Corrupt,
        Some(ErrorCode::NotADatabase) => StoreErrorKind::NotADatabase,
        Some(ErrorCode::ReadOnly) => StoreErrorKind::ReadOnly,
        Some(ErrorCode::CannotOpen) => StoreErrorKind::CannotOpen,
        Some(ErrorCode::ConstraintViolation) => StoreErrorKind::Constraint,
        _ => StoreErrorKind::Other,
    };
    Error::Store(StoreError::new(kind, e.to_string()))
}

/// `.db()?` turns a SQLite result into the library's [`Result`] (the orphan
/// rule allows no `From<rusqlite::Error>` for the core's `Error`).
pub(crate) trait DbResult<T> {
    fn db(self) -> Result<T>;
}

impl<T> DbResult<T> for rusqlite::Result<T> {
    fn db(self) -> Result<T> {
        self.map_err(store_error)
    }
}

fn open_error(path: &Path, e: rusqlite::Error) -> Error {
    match e.sqlite_error_code() {
        Some(ErrorCode::CannotOpen) | Some(ErrorCode::PermissionDenied) => {
            Error::Environment(format!("cannot open town database {}: {e}", path.display()))
        }
        Some(ErrorCode::ReadOnly) => Error::ReadOnly(path.parent().unwrap_or(path).to_path_buf()),
        _ => store_error(e),
    }
}

/// Appends an event inside an open transaction.
pub(crate) fn insert_event(
    tx: &Transaction<'_>,
    time: &str,
    actor: &str,
    ev: &NewEvent,
) -> Result<i64> {
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO events (time, kind, actor, rig, bead, summary, payload, source, host)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, gt_source(), gt_host())",
        )
        .db()?;
    stmt.execute(params![
        time,
        ev.kind,
        actor,
        ev.rig,
        ev.bead,
        ev.summary,
        ev.payload.to_string()
    ])
    .db()?;
    Ok(tx.last_insert_rowid())
}

fn event_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Event> {
    let payload: String = r.get(7)?;
    Ok(Event {
        id: r.get(0)?,
        time: r.get(1)?,
        kind: r.get(2)?,
        actor: r.get(3)?,
        rig: r.get(4)?,
        bead: r.get(5)?,
        summary: r.get(6)?,
        payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
        source: r.get(8)?,
        host: r.get(9)?,
    })
}

/// The columns [`event_from_row`] reads, in order.
pub(crate) const EVENT_COLS: &str =
    "id, time, kind, actor, rig, bead, summary, payload, source, host";

impl EventStore for SqliteStore {
    fn append_event(&self, event: NewEvent, actor: &str) -> Result<Event> {
        let time = self.now();
        let id = self.write(|tx| insert_event(tx, &time, actor, &event))?;
        Ok(Event {
            id,
            time,
            kind: event.kind.to_string(),
            actor: actor.to_string(),
            rig: event.rig,
            bead: event.bead,
            summary: event.summary,
            payload: event.payload,
            source: self
                .source
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            host: self.host.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        })
    }

    fn set_source(&self, source: Option<&str>) -> Result<()> {
        if let Some(s) = source {
            gt_core::event::validate_actor(s)?;
        }
        *self.source.lock().unwrap_or_else(|p| p.into_inner()) = source.map(str::to_string);
        Ok(())
    }

    fn set_host(&self, host: Option<&str>) -> Result<()> {
        if let Some(h) = host {
            gt_core::host::validate_host_name(h)?;
        }
        *self.host.lock().unwrap_or_else(|p| p.into_inner()) = host.map(str::to_string);
        Ok(())
    }

    fn events(&self, q: &EventQuery) -> Result<Vec<Event>> {
        let mut sql = format!("SELECT {EVENT_COLS} FROM events WHERE 1=1");
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        let mut after = q.after_id.unwrap_or(0);
        if let Some(since) = &q.since {
            // Ids grow with time: turn the time bound into an id bound so the
            // scan stays on the primary key.
            let first: Option<i64> = self
                .conn
                .query_row(
                    "SELECT min(id) FROM events WHERE time >= ?1",
                    [since],
                    |r| r.get(0),
                )
                .optional()
                .db()?
                .flatten();
            match first {
                Some(id) => after = after.max(id - 1),
                None => return Ok(Vec::new()),
            }
        }
        if after > 0 {
            sql.push_str(" AND id > ?");
            args.push(after.into());
        }
        // Exact kinds (none extends another) are served by the kind index;
        // `+col` keeps the planner off the actor/rig/bead indexes then (a
        // rig's index would walk all of the rig's events to find a rare kind).
        let exact_kinds = !q.kinds.is_empty() && q.kinds.iter().all(|k| exact_kind(k));
        let plus = if exact_kinds { "+" } else { "" };
        for (col, val) in [("actor", &q.actor), ("rig", &q.rig), ("bead", &q.bead)] {
            if let Some(v) = val {
                sql.push_str(&format!(" AND {plus}{col} = ?"));
                args.push(v.clone().into());
            }
        }
        if !q.kinds.is_empty() {
            sql.push_str(" AND (");
            for (i, k) in q.kinds.iter().enumerate() {
                if i > 0 {
                    sql.push_str(" OR ");
                }
                // `bead` matches `bead.created`, `bead.closed`... A kind no
                // other kind extends is matched exactly, so the kind index
                // serves it (a LIKE would scan the events).
                if exact_kind(k) {
                    sql.push_str("kind = ?");
                    args.push(k.clone().into());
                    continue;
                }
                sql.push_str("kind = ? OR kind LIKE ? ESCAPE '\\'");
                args.push(k.clone().into());
                let escaped = k
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                args.push(format!("{escaped}.%").into());
            }
            sql.push(')');
        }
        sql.push_str(" ORDER BY id DESC");
        if let Some(limit) = q.limit {
            sql.push_str(" LIMIT ?");
            args.push((limit as i64).into());
        }
        let mut stmt = self.conn.prepare_cached(&sql).db()?;
        let mut out = stmt
            .query_map(rusqlite::params_from_iter(args), event_from_row)
            .db()?
            .collect::<rusqlite::Result<Vec<_>>>()
            .db()?;
        out.reverse();
        Ok(out)
    }
}

fn exact_kind(k: &str) -> bool {
    gt_core::event::EventKind::is_exact(k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gt_core::bead::NewBead;
    use gt_host::clock::SystemClock;
    use gt_store::BeadStore;

    fn clock() -> Arc<dyn Clock> {
        Arc::new(SystemClock)
    }

    #[test]
    fn exact_kinds_are_known_kinds_no_other_kind_extends() {
        assert!(exact_kind("rig.config_tampered"));
        assert!(exact_kind("session.started"));
        // Prefixes of other kinds, and names no kind has, keep the prefix
        // match (`bead` → `bead.created`, …).
        assert!(!exact_kind("bead"));
        assert!(!exact_kind("session"));
        assert!(!exact_kind("made.up"));
        assert!(!exact_kind(""));
    }

    #[test]
    fn a_new_database_is_at_the_latest_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = SqliteStore::create(&path, "hq", clock()).unwrap();
        assert_eq!(store.schema_version().unwrap(), latest_schema_version());
        let mode: String = store
            .conn()
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        drop(store);
        // Opening again applies nothing and keeps the version.
        let store = SqliteStore::open(&path, "hq", clock()).unwrap();
        assert_eq!(store.schema_version().unwrap(), latest_schema_version());
    }

    #[test]
    fn an_old_database_is_migrated_forward_keeping_its_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        {
            // A town written by the first release: migration 1 only.
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "journal_mode", "WAL").unwrap();
            conn.execute_batch(schema::MIGRATIONS[0]).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            conn.execute(
                "INSERT INTO beads (id, title, status, priority, type, created_at, updated_at)
                 VALUES ('hq-old', 'from v1', 'open', 2, 'task', '2026-01-01T00:00:00.000000Z',
                         '2026-01-01T00:00:00.000000Z')",
                [],
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path, "hq", clock()).unwrap();
        assert_eq!(store.schema_version().unwrap(), latest_schema_version());
        assert_eq!(store.get_bead("hq-old").unwrap().title, "from v1");
        // Tables of later migrations are there and usable.
        let b = store.create_bead(&NewBead::new("after"), "t").unwrap();
        assert!(b.id.starts_with("hq-"));
        for table in [
            "rigs",
            "sessions",
            "merge_requests",
            "deacon",
            "agent_activity",
        ] {
            let n: i64 = store
                .conn()
                .query_row(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                    [table],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(n, 1, "{table} missing after migration");
        }
    }

    #[test]
    fn a_newer_database_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        drop(SqliteStore::create(&path, "hq", clock()).unwrap());
        set_user_version_for_tests(&path, latest_schema_version() + 1).unwrap();
        let before = std::fs::read(&path).unwrap();
        let err = SqliteStore::open(&path, "hq", clock()).unwrap_err();
        assert!(matches!(err, Error::SchemaTooNew { .. }), "{err}");
        assert_eq!(err.class(), gt_core::ErrorClass::Environment);
        assert_eq!(before, std::fs::read(&path).unwrap());
    }

    #[test]
    fn an_empty_or_missing_database_is_refused_not_recreated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let err = SqliteStore::open(&path, "hq", clock()).unwrap_err();
        assert!(matches!(err, Error::DamagedDatabase { .. }), "{err}");
        assert!(!path.exists());
        std::fs::write(&path, b"").unwrap();
        let err = SqliteStore::open(&path, "hq", clock()).unwrap_err();
        assert!(matches!(err, Error::DamagedDatabase { .. }), "{err}");
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
        // A valid SQLite file without any of gt's tables.
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE x (a); DROP TABLE x;")
            .unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() > 0);
        let err = SqliteStore::open(&path, "hq", clock()).unwrap_err();
        assert_eq!(err.class(), gt_core::ErrorClass::Environment, "{err}");
        assert!(err.hint().is_some());
    }

    #[test]
    fn not_a_database_is_an_environment_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        std::fs::write(&path, vec![b'x'; 4096]).unwrap();
        let err = SqliteStore::open(&path, "hq", clock()).unwrap_err();
        assert_eq!(err.class(), gt_core::ErrorClass::Environment, "{err}");
    }
}
