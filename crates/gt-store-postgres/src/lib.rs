//! `gt-store-postgres`: the store backend for towns that span machines.
//! [`PgStore`] implements every `gt-store` trait over one PostgreSQL
//! database and passes the same conformance suite as the SQLite backend.
//!
//! How a port of a method reads (the same three steps as in SQLite):
//! read the rows in the transaction, call the rule of `gt_core::rules`,
//! write what it returns and append its events — never a refusal, a status
//! choice or an event text of its own. SQL that differs from SQLite's is
//! only dialect: `$1` parameters, `RETURNING id` for new ids, `= ANY($1)`
//! for lists, `ILIKE` where SQLite's `LIKE` (case-insensitive for ASCII)
//! was meant, `strpos` for `instr`.
//!
//! Transactions: writers take turns, as in SQLite. Every write transaction
//! first takes the town's write lock (a transaction-scoped advisory lock,
//! [`WRITE_LOCK`]) and runs at `READ COMMITTED`, so each statement after the
//! lock sees every earlier commit: a change reads the rows it decides on and
//! nobody else changes them before it commits. Event ids therefore grow in
//! commit order, and a follower that reads `id > last` (`gt feed`, the
//! deacon) never misses an event committed late — which a sequence alone
//! does not promise under concurrent writers (`tests/concurrency.rs` fails
//! without the lock). Serialization failures and deadlocks (SQLSTATE
//! 40001/40P01) still retry the whole transaction and never reach a user.
//! Reads outside a write are single statements (each its own snapshot) and
//! never wait for the lock. Text columns compare byte by byte
//! (`COLLATE "C"`), as SQLite's do.
//!
//! The connection is one `postgres::Client` behind a mutex: a method holds
//! it for its statement or its transaction, and helpers take
//! `&mut impl GenericClient` so they run on either (never lock twice).

mod auth;
mod beads;
mod blocking;
mod costs;
mod deacon;
mod dump;
mod hosts;
mod mail;
mod merge;
mod observe;
mod schema;
mod tls;
mod work;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use postgres::config::{Host, SslMode};
use postgres::error::SqlState;
use postgres::{Client, GenericClient, NoTls, Row, Transaction};

use gt_core::error::{Error, Result, StoreError, StoreErrorKind};
use gt_core::event::{Event, EventKind, EventQuery, NewEvent};
use gt_host::clock::{format_ts, Clock};
use gt_store::{EventStore, StoreMaintenance};

pub use auth::PasswordSource;
pub use schema::latest as latest_schema_version;
pub use schema::TABLES;

/// The key of the town's write lock (`pg_advisory_xact_lock`): "gt-w".
pub const WRITE_LOCK: i64 = 0x6774_2d77;

/// How often a whole write transaction is retried on a serialization
/// failure or a deadlock.
const RETRIES: u32 = 30;

pub struct PgStore {
    client: Mutex<Client>,
    /// Connects again the way the store was opened (a connection the server
    /// ended — see [`IDLE_IN_TRANSACTION_MS`] — or lost is replaced).
    reopen: Box<dyn Fn() -> Result<Client> + Send + Sync>,
    /// The URL without its password, for people (`gt doctor`, errors).
    location: String,
    clock: Arc<dyn Clock>,
    /// Prefix for new bead ids when the caller gives none.
    prefix: String,
    /// What every appended event records as its source (`set_source`): the
    /// session setting `gt.source`, set again on a new connection.
    source: Mutex<Option<String>>,
    /// The host every appended event records (`set_host`): the session
    /// setting `gt.host`, set again on a new connection.
    host: Mutex<Option<String>>,
    /// A second connection that `LISTEN`s on [`EVENTS_CHANNEL`], made by
    /// the first [`ObserveStore::wait_for_events`] (daemons, `gt feed`).
    listener: Mutex<Option<Client>>,
}

/// The channel every committed event insert notifies (migration 6).
pub const EVENTS_CHANNEL: &str = "gt_events";

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("location", &self.location)
            .finish()
    }
}

/// How long a session may sit in an open transaction before the server
/// ends it (and its locks): see [`PgStore::connect`].
pub const IDLE_IN_TRANSACTION_MS: u64 = 10_000;

impl PgStore {
    /// Makes the empty database at `url` a town's store (migrates it). A
    /// database that already holds gt's tables is refused and left as it is.
    pub fn create(url: &str, prefix: &str, clock: Arc<dyn Clock>) -> Result<Self> {
        Self::create_with(url, &PasswordSource::default(), prefix, clock)
    }

    /// [`PgStore::create`], with the caller's password sources for a URL
    /// that holds no password.
    pub fn create_with(
        url: &str,
        passwords: &PasswordSource,
        prefix: &str,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        let store = Self::connect(url, passwords, prefix, clock)?;
        if store.schema_version()? > 0 {
            return Err(Error::refused(format!(
                "{} already holds a gt town",
                store.location
            )));
        }
        store.migrate()?;
        Ok(store)
    }

    /// Opens the town store at `url`, applying pending migrations. A
    /// database written by a newer `gt` is refused and left untouched; one
    /// without gt's tables is not a town.
    pub fn open(url: &str, prefix: &str, clock: Arc<dyn Clock>) -> Result<Self> {
        Self::open_with(url, &PasswordSource::default(), prefix, clock)
    }

    /// [`PgStore::open`], with the caller's password sources for a URL that
    /// holds no password.
    pub fn open_with(
        url: &str,
        passwords: &PasswordSource,
        prefix: &str,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        let store = Self::connect(url, passwords, prefix, clock)?;
        let version = store.schema_version()?;
        if version == 0 {
            return Err(Error::Environment(format!(
                "{} holds no gt town (run gt init with --store to make one)",
                store.location
            )));
        }
        if version > schema::latest() {
            return Err(Error::SchemaTooNew {
                path: store.location.clone().into(),
                found: version,
                supported: schema::latest(),
            });
        }
        // Only a store behind this gt takes the write lock to migrate: every
        // process opens the store, and most only read.
        if version < schema::latest() {
            store.migrate()?;
        }
        Ok(store)
    }

    fn connect(
        url: &str,
        passwords: &PasswordSource,
        prefix: &str,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        let location = redact(url);
        let (rest, tls) = tls::split_tls_params(url)
            .map_err(|e| Error::invalid(format!("bad store URL {location}: {e}")))?;
        let mut config: postgres::Config = rest.parse().map_err(|e: postgres::Error| {
            Error::invalid(format!("bad store URL {location}: {e}"))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        // A host that stops in the middle of a transaction (a stopped
        // process, a lost network) would hold the town's write lock for
        // ever: the server ends such a session after a while, so the rest of
        // the town goes on. gt's transactions take milliseconds.
        let idle = format!("-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_MS}");
        let options = match config.get_options() {
            Some(o) if !o.trim().is_empty() => format!("{o} {idle}"),
            _ => idle,
        };
        config.options(&options);
        if config.get_password().is_none() {
            if let Some(pw) = passwords.password_for(&pass_key(&config).as_key()) {
                config.password(pw);
            }
        }
        // The causes name what failed ("server does not support TLS", the
        // server's refusal); none of them holds the password.
        let shown = location.clone();
        let reach = move |e: postgres::Error| {
            let mut text = e.to_string();
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                text.push_str(&format!(": {c}"));
                cause = c.source();
            }
            Error::Environment(format!("cannot reach the town store {shown}: {text}"))
        };
        let open = move || -> Result<Client> {
            let mut config = config.clone();
            match tls.mode {
                tls::SslMode::Disable => config.ssl_mode(SslMode::Disable).connect(NoTls),
                mode => {
                    let connector = tls::connector(&tls)?;
                    let mode = if mode == tls::SslMode::Prefer {
                        SslMode::Prefer
                    } else {
                        SslMode::Require
                    };
                    config.ssl_mode(mode).connect(connector)
                }
            }
            .map_err(&reach)
        };
        let client = open()?;
        Ok(PgStore {
            client: Mutex::new(client),
            reopen: Box::new(open),
            location,
            clock,
            prefix: prefix.to_string(),
            source: Mutex::new(None),
            host: Mutex::new(None),
            listener: Mutex::new(None),
        })
    }

    /// [`ObserveStore::wait_for_events`]: blocks on the listening
    /// connection until a notification or `timeout`. A listener that cannot
    /// be made or fails is dropped (the next call makes a new one), and the
    /// wait is then a plain sleep that reports `true`, so the caller reads
    /// the events table as it would by polling.
    pub(crate) fn wait_on_listener(&self, timeout: Duration) -> Result<bool> {
        let mut guard = self.listener.lock().unwrap_or_else(|p| p.into_inner());
        if guard.as_ref().is_none_or(|c| c.is_closed()) {
            let listening = (self.reopen)().and_then(|mut c| {
                c.batch_execute(&format!("LISTEN {EVENTS_CHANNEL}")).db()?;
                Ok(c)
            });
            match listening {
                // Listening from now on: what came before is for the caller
                // to read.
                Ok(c) => {
                    *guard = Some(c);
                    return Ok(true);
                }
                Err(_) => {
                    *guard = None;
                    drop(guard);
                    std::thread::sleep(timeout);
                    return Ok(true);
                }
            }
        }
        let Some(c) = guard.as_mut() else {
            return Ok(true);
        };
        use postgres::fallible_iterator::FallibleIterator;
        let got = {
            let mut n = c.notifications();
            let first = n.timeout_iter(timeout).next();
            // Several commits may have notified: one read serves them all.
            if matches!(first, Ok(Some(_))) {
                while let Ok(Some(_)) = n.iter().next() {}
            }
            first
        };
        match got {
            Ok(Some(_)) => Ok(true),
            Ok(None) => Ok(false),
            Err(_) => {
                *guard = None;
                Ok(true)
            }
        }
    }

    /// Sets the session's `gt.source` or `gt.host` (read by the event
    /// insert).
    fn apply_setting(c: &mut Client, name: &str, value: Option<&str>) -> Result<()> {
        c.execute(
            "SELECT set_config($1, $2, false)",
            &[&name, &value.unwrap_or("")],
        )
        .db()?;
        Ok(())
    }

    /// The applied schema version; 0 when gt's tables are not there.
    pub fn schema_version(&self) -> Result<i64> {
        let mut c = self.client();
        let exists: bool = c
            .query_one("SELECT to_regclass('gt_schema') IS NOT NULL", &[])
            .db()?
            .try_get(0)
            .db()?;
        if !exists {
            return Ok(0);
        }
        c.query_one("SELECT version FROM gt_schema", &[])
            .db()?
            .try_get(0)
            .db()
    }

    fn migrate(&self) -> Result<()> {
        let latest = schema::latest();
        let location = self.location.clone();
        self.write(|tx| {
            // One migrating process at a time, the others wait here.
            tx.batch_execute(
                "CREATE TABLE IF NOT EXISTS gt_schema (version BIGINT NOT NULL);
                 LOCK TABLE gt_schema IN EXCLUSIVE MODE;",
            )
            .db()?;
            let row = tx.query_opt("SELECT version FROM gt_schema", &[]).db()?;
            let current: i64 = match &row {
                Some(r) => r.try_get(0).db()?,
                None => 0,
            };
            if current > latest {
                return Err(Error::SchemaTooNew {
                    path: location.clone().into(),
                    found: current,
                    supported: latest,
                });
            }
            for sql in schema::MIGRATIONS.iter().skip(current as usize) {
                tx.batch_execute(sql).db()?;
            }
            if row.is_none() {
                tx.execute("INSERT INTO gt_schema (version) VALUES ($1)", &[&latest])
                    .db()?;
            } else if current < latest {
                tx.execute("UPDATE gt_schema SET version = $1", &[&latest])
                    .db()?;
            }
            Ok(())
        })
    }

    pub(crate) fn now(&self) -> String {
        format_ts(self.clock.now())
    }

    /// The connection, for one read (held until the guard drops).
    pub(crate) fn client(&self) -> MutexGuard<'_, Client> {
        // A panic while holding the lock leaves the client as it was
        // between statements: go on with it.
        let mut c = self.client.lock().unwrap_or_else(|p| p.into_inner());
        if c.is_closed() {
            // The failed statement was refused; the next one gets a new
            // connection (when it cannot be made, the closed one answers
            // with its error, as before).
            if let Ok(mut fresh) = (self.reopen)() {
                let settings = [("gt.source", &self.source), ("gt.host", &self.host)];
                if settings.iter().all(|(name, value)| {
                    let value = value.lock().unwrap_or_else(|p| p.into_inner()).clone();
                    value.is_none()
                        || Self::apply_setting(&mut fresh, name, value.as_deref()).is_ok()
                }) {
                    *c = fresh;
                }
            }
        }
        c
    }

    /// Runs `f` in a transaction that holds the town's write lock (see the
    /// crate docs), retrying the whole transaction on a serialization
    /// failure or a deadlock.
    pub(crate) fn write<R>(
        &self,
        mut f: impl FnMut(&mut Transaction<'_>) -> Result<R>,
    ) -> Result<R> {
        let mut client = self.client();
        let mut attempt = 0;
        loop {
            let result = (|| {
                let mut tx = client
                    .build_transaction()
                    .isolation_level(postgres::IsolationLevel::ReadCommitted)
                    .start()
                    .db()?;
                tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])
                    .db()?;
                let r = f(&mut tx)?;
                tx.commit().db()?;
                Ok(r)
            })();
            match result {
                Err(Error::Store(ref e)) if e.kind == StoreErrorKind::Busy && attempt < RETRIES => {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(2 * u64::from(attempt)));
                }
                other => return other,
            }
        }
    }

    pub(crate) fn default_prefix(&self) -> &str {
        &self.prefix
    }
}

/// The `.pgpass` fields a connection is matched on, as libpq takes them:
/// the first host (a socket directory counts as `localhost`), its port
/// (5432 by default), the database (the user's name by default), the user.
struct OwnedPassKey {
    host: String,
    port: String,
    database: String,
    user: String,
}

impl OwnedPassKey {
    fn as_key(&self) -> auth::PassKey<'_> {
        auth::PassKey {
            host: &self.host,
            port: &self.port,
            database: &self.database,
            user: &self.user,
        }
    }
}

fn pass_key(config: &postgres::Config) -> OwnedPassKey {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        _ => "localhost".to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or_default().to_string();
    OwnedPassKey {
        host,
        port: port.to_string(),
        database: config.get_dbname().unwrap_or(&user).to_string(),
        user,
    }
}

/// `url` without its password (`postgres://user:***@host/db`).
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        // A key=value connection string: drop any password=… pair.
        return url
            .split_whitespace()
            .filter(|kv| !kv.starts_with("password="))
            .collect::<Vec<_>>()
            .join(" ");
    };
    let (auth, host) = match rest.rsplit_once('@') {
        Some((a, h)) => (Some(a), h),
        None => (None, rest),
    };
    let host = match host.split_once('?') {
        // Query parameters may carry a password too.
        Some((h, q)) => {
            let kept: Vec<&str> = q
                .split('&')
                .filter(|kv| !kv.to_ascii_lowercase().starts_with("password="))
                .collect();
            if kept.is_empty() {
                h.to_string()
            } else {
                format!("{h}?{}", kept.join("&"))
            }
        }
        None => host.to_string(),
    };
    match auth {
        Some(a) => {
            let user = a.split_once(':').map_or(a, |(u, _)| u);
            if a.contains(':') {
                format!("{scheme}://{user}:***@{host}")
            } else {
                format!("{scheme}://{user}@{host}")
            }
        }
        None => format!("{scheme}://{host}"),
    }
}

/// Maps a PostgreSQL error onto the backend-neutral [`StoreError`]: the
/// SQLSTATE decides the kind, the message is the server's (or the client's).
pub(crate) fn store_error(e: postgres::Error) -> Error {
    let kind = match e.code() {
        Some(c)
            if *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::T_R_DEADLOCK_DETECTED =>
        {
            StoreErrorKind::Busy
        }
        Some(c)
            if *c == SqlState::UNIQUE_VIOLATION
                || *c == SqlState::FOREIGN_KEY_VIOLATION
                || *c == SqlState::CHECK_VIOLATION
                || *c == SqlState::NOT_NULL_VIOLATION =>
        {
            StoreErrorKind::Constraint
        }
        Some(c) if *c == SqlState::READ_ONLY_SQL_TRANSACTION => StoreErrorKind::ReadOnly,
        Some(c) if *c == SqlState::DATA_CORRUPTED || *c == SqlState::INDEX_CORRUPTED => {
            StoreErrorKind::Corrupt
        }
        None if e.is_closed() => StoreErrorKind::CannotOpen,
        _ => StoreErrorKind::Other,
    };
    let message = match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => e.to_string(),
    };
    Error::Store(StoreError::new(kind, message))
}

/// `.db()?` turns a PostgreSQL result into the core's [`Result`].
pub(crate) trait DbResult<T> {
    fn db(self) -> Result<T>;
}

impl<T> DbResult<T> for std::result::Result<T, postgres::Error> {
    fn db(self) -> Result<T> {
        self.map_err(store_error)
    }
}

/// Column `idx` of `r` parsed as `T` (a stored status or kind name); a name
/// this gt does not know makes the row corrupt.
pub(crate) fn parsed<T: std::str::FromStr>(r: &Row, idx: usize, what: &str) -> Result<T> {
    let text: String = r.try_get(idx).db()?;
    text.parse().map_err(|_| {
        Error::Store(StoreError::new(
            StoreErrorKind::Corrupt,
            format!("stored {what} '{}' is not valid", text.escape_debug()),
        ))
    })
}

/// A stored JSON text column as a value (`Null` when it does not parse).
pub(crate) fn json_col(r: &Row, idx: usize) -> Result<serde_json::Value> {
    let text: String = r.try_get(idx).db()?;
    Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
}

/// Appends an event inside an open transaction; returns its id.
pub(crate) fn insert_event(
    tx: &mut impl GenericClient,
    time: &str,
    actor: &str,
    ev: &NewEvent,
) -> Result<i64> {
    let payload = ev.payload.to_string();
    tx.query_one(
        "INSERT INTO events (time, kind, actor, rig, bead, summary, payload, source, host)
         VALUES ($1, $2, $3, $4, $5, $6, $7, NULLIF(current_setting('gt.source', true), ''),
                 NULLIF(current_setting('gt.host', true), ''))
         RETURNING id",
        &[
            &time,
            &ev.kind,
            &actor,
            &ev.rig,
            &ev.bead,
            &ev.summary,
            &payload,
        ],
    )
    .db()?
    .try_get(0)
    .db()
}

/// The columns [`event_from_row`] reads, in order.
pub(crate) const EVENT_COLS: &str =
    "id, time, kind, actor, rig, bead, summary, payload, source, host";

pub(crate) fn event_from_row(r: &Row) -> Result<Event> {
    Ok(Event {
        id: r.try_get(0).db()?,
        time: r.try_get(1).db()?,
        kind: r.try_get(2).db()?,
        actor: r.try_get(3).db()?,
        rig: r.try_get(4).db()?,
        bead: r.try_get(5).db()?,
        summary: r.try_get(6).db()?,
        payload: json_col(r, 7)?,
        source: r.try_get(8).db()?,
        host: r.try_get(9).db()?,
    })
}

impl EventStore for PgStore {
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
        let mut c = self.client();
        Self::apply_setting(&mut c, "gt.source", source)?;
        *self.source.lock().unwrap_or_else(|p| p.into_inner()) = source.map(str::to_string);
        Ok(())
    }

    fn set_host(&self, host: Option<&str>) -> Result<()> {
        if let Some(h) = host {
            gt_core::host::validate_host_name(h)?;
        }
        let mut c = self.client();
        Self::apply_setting(&mut c, "gt.host", host)?;
        *self.host.lock().unwrap_or_else(|p| p.into_inner()) = host.map(str::to_string);
        Ok(())
    }

    fn events(&self, q: &EventQuery) -> Result<Vec<Event>> {
        let mut sql = format!("SELECT {EVENT_COLS} FROM events WHERE TRUE");
        let mut args: Vec<Box<dyn postgres::types::ToSql + Sync>> = Vec::new();
        let mut arg = |sql: &mut String, text: &str, v: Box<dyn postgres::types::ToSql + Sync>| {
            args.push(v);
            sql.push_str(&text.replace('?', &format!("${}", args.len())));
        };
        let mut after = q.after_id.unwrap_or(0);
        if let Some(since) = &q.since {
            // As in SQLite: the time bound becomes an id bound (ids grow
            // with time), so both backends return the same events.
            let first: Option<i64> = self
                .client()
                .query_one("SELECT min(id) FROM events WHERE time >= $1", &[since])
                .db()?
                .try_get(0)
                .db()?;
            match first {
                Some(id) => after = after.max(id - 1),
                None => return Ok(Vec::new()),
            }
        }
        if after > 0 {
            arg(&mut sql, " AND id > ?", Box::new(after));
        }
        for (col, val) in [("actor", &q.actor), ("rig", &q.rig), ("bead", &q.bead)] {
            if let Some(v) = val {
                arg(&mut sql, &format!(" AND {col} = ?"), Box::new(v.clone()));
            }
        }
        if !q.kinds.is_empty() {
            sql.push_str(" AND (");
            for (i, k) in q.kinds.iter().enumerate() {
                if i > 0 {
                    sql.push_str(" OR ");
                }
                // `bead` matches `bead.created`, `bead.closed`, …; a kind no
                // other kind extends is matched exactly.
                if EventKind::is_exact(k) {
                    arg(&mut sql, "kind = ?", Box::new(k.clone()));
                    continue;
                }
                arg(&mut sql, "kind = ?", Box::new(k.clone()));
                let escaped = k
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                arg(
                    &mut sql,
                    " OR kind LIKE ?",
                    Box::new(format!("{escaped}.%")),
                );
            }
            sql.push(')');
        }
        sql.push_str(" ORDER BY id DESC");
        if let Some(limit) = q.limit {
            arg(&mut sql, " LIMIT ?", Box::new(limit as i64));
        }
        let params: Vec<&(dyn postgres::types::ToSql + Sync)> =
            args.iter().map(|a| a.as_ref()).collect();
        let rows = self.client().query(sql.as_str(), &params).db()?;
        let mut out = rows
            .iter()
            .map(event_from_row)
            .collect::<Result<Vec<_>>>()?;
        out.reverse();
        Ok(out)
    }
}

impl StoreMaintenance for PgStore {
    /// PostgreSQL checks its own pages; gt checks that its schema is whole:
    /// every table of the latest migration is there.
    fn integrity_problems(&self, limit: u32) -> Result<Vec<String>> {
        let mut problems = Vec::new();
        let mut c = self.client();
        for table in schema::TABLES {
            let there: bool = c
                .query_one("SELECT to_regclass($1) IS NOT NULL", &[table])
                .db()?
                .try_get(0)
                .db()?;
            if !there {
                problems.push(format!("table {table} is missing"));
            }
        }
        problems.truncate(limit.max(1) as usize);
        Ok(problems)
    }

    fn schema_version(&self) -> Result<i64> {
        PgStore::schema_version(self)
    }

    /// The URL without its password.
    fn location(&self) -> String {
        self.location.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::{redact, DbResult};

    /// A store whose process stops inside a transaction (holding the town's
    /// write lock) stops nobody for long: the server ends that session
    /// after [`super::IDLE_IN_TRANSACTION_MS`], the other writer goes on,
    /// nothing of the stuck transaction is kept, and the stuck store
    /// connects again on its next call.
    #[test]
    fn a_writer_stuck_in_a_transaction_is_ended_and_reconnects() {
        use gt_store::HostStore;
        use std::sync::Arc;
        use std::time::{Duration, Instant};
        let Some(db) = gt_testkit::postgres::TestDatabase::create("stuck") else {
            return;
        };
        let clock = || Arc::new(gt_host::clock::SystemClock);
        let stuck = super::PgStore::create(&db.url(), "hq", clock()).unwrap();
        let other =
            super::PgStore::open_with(&db.url(), &super::PasswordSource::default(), "hq", clock())
                .unwrap();
        let idle = Duration::from_millis(super::IDLE_IN_TRANSACTION_MS);
        let t = std::thread::spawn(move || {
            let r = stuck.write(|tx| {
                tx.execute(
                    "INSERT INTO hosts (name, state, epoch, joined_at, state_at)
                     VALUES ('lost', 'down', 0, 'x', 'x')",
                    &[],
                )
                .db()?;
                std::thread::sleep(idle + Duration::from_secs(2));
                Ok(())
            });
            (stuck, r)
        });
        std::thread::sleep(Duration::from_millis(500));
        let start = Instant::now();
        other.add_host("h1", None, "tester").unwrap();
        let waited = start.elapsed();
        assert!(waited < idle + Duration::from_secs(5), "waited {waited:?}");
        let (stuck, r) = t.join().unwrap();
        assert!(r.is_err(), "the stuck transaction was ended");
        let names: Vec<String> = stuck
            .list_hosts()
            .unwrap()
            .into_iter()
            .map(|h| h.name)
            .collect();
        assert_eq!(names, ["h1"], "nothing of the stuck transaction is kept");
    }

    #[test]
    fn locations_never_show_a_password() {
        assert_eq!(
            redact("postgres://gt:s3cret@db.example:5432/town"),
            "postgres://gt:***@db.example:5432/town"
        );
        assert_eq!(
            redact("postgresql://gt@127.0.0.1/town?sslmode=require&password=s3cret"),
            "postgresql://gt@127.0.0.1/town?sslmode=require"
        );
        assert_eq!(redact("postgres://db/town"), "postgres://db/town");
        assert_eq!(
            redact("host=db user=gt password=s3cret dbname=town"),
            "host=db user=gt dbname=town"
        );
    }
}
