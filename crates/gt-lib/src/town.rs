//! The town: a directory holding `gt.toml`, the `.gt/` state folder with the
//! database, logs and runtime files, and (later) one folder per rig.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::json;

use crate::caller::CallerEnv;
use crate::clock::{Clock, SystemClock};
use crate::config::TownConfig;
use crate::error::{Error, Result};
use crate::event::{kind, NewEvent};
use crate::store::{EventStore, HostStore, Store};
use gt_store_postgres::{PasswordSource, PgStore};
use gt_store_sqlite::SqliteStore;

pub const CONFIG_FILE: &str = "gt.toml";
pub const STATE_DIR: &str = ".gt";
pub const DB_FILE: &str = "town.db";

#[derive(Debug, Clone)]
pub struct Town {
    root: PathBuf,
    pub config: TownConfig,
    clock: Arc<dyn Clock>,
    /// Where a PostgreSQL store's password comes from when its URL has
    /// none (the caller's `PGPASSWORD`, `~/.pgpass`); see [`Town::with_caller`].
    store_passwords: PasswordSource,
}

/// This host's name and capacity when a town is made or joined.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostChoice<'a> {
    /// Unset: `local` (gt.toml then names no host).
    pub name: Option<&'a str>,
    /// Unset: unlimited.
    pub capacity: Option<u32>,
}

/// True when `dir` holds a town.
pub fn is_town(dir: &Path) -> bool {
    dir.join(CONFIG_FILE).is_file() && dir.join(STATE_DIR).is_dir()
}

impl Town {
    /// Creates a town at `path`. Refuses an existing town, a file, or a
    /// non-empty directory (unless `force`, which never deletes anything).
    /// On failure it removes only what it created.
    pub fn init(path: &Path, name: Option<&str>, force: bool, actor: &str) -> Result<Town> {
        Self::init_with_store(
            path,
            name,
            force,
            None,
            &HostChoice::default(),
            &CallerEnv::default(),
            actor,
        )
    }

    /// [`Town::init`] with the town's shared state in the PostgreSQL
    /// database at `store` (which must hold no town yet) instead of
    /// `.gt/town.db`; the URL is kept in gt.toml (`[store] url`). A URL
    /// without a password takes it from `caller` (see [`Town::with_caller`]).
    /// The town's first host is `host` (its name kept in gt.toml).
    pub fn init_with_store(
        path: &Path,
        name: Option<&str>,
        force: bool,
        store: Option<&str>,
        host: &HostChoice<'_>,
        caller: &CallerEnv,
        actor: &str,
    ) -> Result<Town> {
        if let Some(url) = store {
            crate::config::validate_store_url(url)?;
        }
        if let Some(h) = host.name {
            gt_core::host::validate_host_name(h)?;
        }
        let existed = check_new_town_dir(path, force)?;
        let derived;
        let name = match name {
            Some(n) => n,
            None => {
                derived = path
                    .canonicalize()
                    .ok()
                    .or_else(|| Some(path.to_path_buf()))
                    .and_then(|p| p.file_name().map(|s| s.to_string_lossy().into_owned()))
                    .unwrap_or_else(|| "town".to_string());
                &derived
            }
        };
        let mut config = TownConfig::new(name)?;
        config.store.url = store.map(str::to_string);
        config.host.name = host.name.map(str::to_string);

        let mut created: Vec<PathBuf> = Vec::new();
        let result = (|| -> Result<Town> {
            let town = make_town_dir(path, existed, &config, caller, &mut created)?;
            let store = open_store(&town, true)?;
            store.append_event(
                NewEvent::new(
                    kind::TOWN_CREATED,
                    format!("town {} created", config.town.name),
                )
                .payload(json!({
                    "name": config.town.name,
                    "prefix": config.town.prefix,
                    "path": town.root,
                    "host": town.host_name(),
                })),
                actor,
            )?;
            store.add_host(town.host_name(), host.capacity, actor)?;
            Ok(town)
        })();
        if result.is_err() {
            remove_created(&created);
        }
        result
    }

    /// `gt join`: makes `path` a further host of the town whose store is the
    /// PostgreSQL database at `url`: a gt.toml with the URL, the town's name
    /// and prefix (read from the store) and this host's name, the `.gt/`
    /// folders, and the host recorded in the store (`host.joined`). Refuses
    /// a database with no town, a host name the town has, and the same
    /// directories `gt init` refuses; on failure it removes what it made.
    pub fn join(
        url: &str,
        path: &Path,
        force: bool,
        host: &HostChoice<'_>,
        caller: &CallerEnv,
        actor: &str,
    ) -> Result<Town> {
        crate::config::validate_store_url(url)?;
        let host_name = host
            .name
            .ok_or_else(|| Error::invalid("gt join needs --host NAME: the name of this host"))?;
        gt_core::host::validate_host_name(host_name)?;
        let existed = check_new_town_dir(path, force)?;
        // Read the town's identity from its store first: nothing is made
        // for a database that holds no town.
        let passwords = PasswordSource::from_caller(caller);
        let probe = PgStore::open_with(
            url,
            &passwords,
            crate::config::TownConfig::new("t")?.town.prefix.as_str(),
            Arc::new(SystemClock),
        )?;
        let (town_name, prefix) = town_identity(&probe)?;
        if probe.list_hosts()?.iter().any(|h| h.name == host_name) {
            return Err(Error::refused(format!(
                "host '{host_name}' is already part of this town; choose another --host name"
            )));
        }
        drop(probe);
        let mut config = TownConfig::new(&town_name)?;
        config.town.prefix = prefix;
        config.store.url = Some(url.to_string());
        config.host.name = Some(host_name.to_string());
        config.validate()?;
        let mut created: Vec<PathBuf> = Vec::new();
        let result = (|| -> Result<Town> {
            let town = make_town_dir(path, existed, &config, caller, &mut created)?;
            town.store()?.add_host(host_name, host.capacity, actor)?;
            Ok(town)
        })();
        if result.is_err() {
            remove_created(&created);
        }
        result
    }

    /// Opens the town at `root`.
    pub fn open(root: &Path) -> Result<Town> {
        if !is_town(root) {
            return Err(Error::NotInTown);
        }
        let root = root
            .canonicalize()
            .map_err(|e| Error::io(format!("cannot resolve {}", root.display()), e))?;
        let config = TownConfig::load(&root.join(CONFIG_FILE))?;
        Ok(Town {
            root,
            config,
            clock: Arc::new(SystemClock),
            store_passwords: PasswordSource::default(),
        })
    }

    /// Finds the town: `explicit` (`--town`) > `from_env` (`GT_TOWN`) >
    /// walking up from `cwd`.
    pub fn discover(explicit: Option<&Path>, from_env: Option<&Path>, cwd: &Path) -> Result<Town> {
        if let Some(p) = explicit.or(from_env) {
            return Town::open(p);
        }
        let mut dir = Some(cwd);
        while let Some(d) = dir {
            if is_town(d) {
                return Town::open(d);
            }
            dir = d.parent();
        }
        Err(Error::NotInTown)
    }

    /// The caller's password sources for a PostgreSQL store whose URL holds
    /// no password: `PGPASSWORD`, else the matching line of `PGPASSFILE` or
    /// `~/.pgpass` (the library reads no environment of its own; the CLI
    /// and [`crate::workspace::Workspace`] hand the caller's down). The
    /// password is kept for connecting only: never printed or stored.
    pub fn with_caller(mut self, caller: &CallerEnv) -> Self {
        self.store_passwords = PasswordSource::from_caller(caller);
        self
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn name(&self) -> &str {
        &self.config.town.name
    }

    /// Whether the town's store is shared by hosts (PostgreSQL): the views
    /// then name the host of each agent and event.
    pub fn is_shared(&self) -> bool {
        self.config.store.url.is_some()
    }

    /// This host's name in the town (`local` unless `gt init --host` or
    /// `gt join` chose one).
    pub fn host_name(&self) -> &str {
        self.config.host.name()
    }

    pub fn config_path(&self) -> PathBuf {
        self.root.join(CONFIG_FILE)
    }

    pub fn state_dir(&self) -> PathBuf {
        self.root.join(STATE_DIR)
    }

    pub fn db_path(&self) -> PathBuf {
        self.state_dir().join(DB_FILE)
    }

    /// The town was removed from this machine: its embedded database (or,
    /// for a town whose store is a server, its gt.toml) is gone.
    pub fn is_gone(&self) -> bool {
        match self.config.store.url {
            Some(_) => !self.config_path().exists(),
            None => !self.db_path().exists(),
        }
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Opens the town's store (the backend stays behind the traits).
    pub fn store(&self) -> Result<Box<dyn Store + Send>> {
        open_store(self, false)
    }

    /// In a town of several hosts: the shared settings kept in `store` in
    /// force (while it keeps none, gt.toml's are). Nothing for a town with
    /// one machine, whose settings are its gt.toml.
    pub fn apply_shared<S: HostStore + ?Sized>(&mut self, store: &S) -> Result<()> {
        if let Some(c) = self.shared_config(store)? {
            self.config = c;
        }
        Ok(())
    }

    /// The config in force when the town's shared settings differ from
    /// gt.toml: `Some` for a town of several hosts whose store keeps them.
    pub fn shared_config<S: HostStore + ?Sized>(&self, store: &S) -> Result<Option<TownConfig>> {
        if !self.is_shared() {
            return Ok(None);
        }
        store
            .town_settings()?
            .map(|text| self.config.with_shared(&text))
            .transpose()
    }

    /// A change of the shared settings of a town of several hosts: `change`
    /// edits the stored document (or, while there is none, gt.toml's shared
    /// part); the result is stored with `event` in one transaction, only if
    /// no other host changed them meanwhile (else read and applied again).
    fn change_shared(
        &mut self,
        change: impl Fn(&str) -> Result<String>,
        event: NewEvent,
        actor: &str,
    ) -> Result<()> {
        let store = self.store()?;
        let mut tries = 0;
        loop {
            let stored = store.town_settings()?;
            let current = stored.clone().unwrap_or_else(|| self.config.shared_toml());
            let text = change(&current)?;
            let next = self.config.with_shared(&text)?;
            match store.set_town_settings(&text, stored.as_deref(), event.clone(), actor) {
                Ok(()) => {
                    self.config = next;
                    return Ok(());
                }
                Err(Error::Refused(_)) if tries < 5 => tries += 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// Defines a custom agent and records the change.
    pub fn set_agent(&mut self, name: &str, command: &str, actor: &str) -> Result<()> {
        let event = NewEvent::new(kind::CONFIG_SET, format!("agent {name} = {command}"))
            .payload(json!({ "agent": name, "command": command }));
        if self.is_shared() {
            return self.change_shared(
                |t| crate::config::set_agent_text(t, name, command),
                event,
                actor,
            );
        }
        let store = self.store()?;
        self.config = crate::config::set_agent(&self.config_path(), name, command)?;
        store.append_event(event, actor)?;
        Ok(())
    }

    /// Removes a custom agent and records the change.
    pub fn remove_agent(&mut self, name: &str, actor: &str) -> Result<()> {
        let event = NewEvent::new(kind::CONFIG_SET, format!("agent {name} removed"))
            .payload(json!({ "agent": name, "removed": true }));
        if self.is_shared() {
            return self.change_shared(|t| crate::config::remove_agent_text(t, name), event, actor);
        }
        let store = self.store()?;
        self.config = crate::config::remove_agent(&self.config_path(), name)?;
        store.append_event(event, actor)?;
        Ok(())
    }

    /// Sets a config key and records the change as an event. In a town of
    /// several hosts every key but the dashboard's files is shared: kept in
    /// the store, in force on every host.
    pub fn set_config(&mut self, key: &str, value: &str, actor: &str) -> Result<()> {
        let event = NewEvent::new(kind::CONFIG_SET, format!("config {key} = {value}"))
            .payload(json!({ "key": key, "value": value }));
        if self.is_shared() && !crate::config::is_host_key(key) {
            return self.change_shared(|t| crate::config::set_text(t, key, value), event, actor);
        }
        let store = self.store()?;
        self.config = crate::config::set(&self.config_path(), key, value)?;
        store.append_event(event, actor)?;
        Ok(())
    }
}

/// Refuses to make a town at `path` when it is a file, a town, or (unless
/// `force`) a non-empty directory; returns whether it exists.
fn check_new_town_dir(path: &Path, force: bool) -> Result<bool> {
    if path.is_file() {
        return Err(Error::invalid(format!(
            "{} is a file, not a directory",
            path.display()
        )));
    }
    if is_town(path) || path.join(STATE_DIR).join(DB_FILE).exists() {
        return Err(Error::refused(format!(
            "{} is already a Gas Town; nothing was changed",
            path.display()
        )));
    }
    let existed = path.exists();
    if existed {
        let mut entries = std::fs::read_dir(path)
            .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
        if entries.next().is_some() && !force {
            return Err(Error::refused(format!(
                "{} is not empty; use --force to make a town in it (nothing is deleted)",
                path.display()
            )));
        }
    }
    Ok(existed)
}

/// Makes the town's folders and gt.toml at `path`, noting each in
/// `created` (so a failure removes only those).
fn make_town_dir(
    path: &Path,
    existed: bool,
    config: &TownConfig,
    caller: &CallerEnv,
    created: &mut Vec<PathBuf>,
) -> Result<Town> {
    if !existed {
        std::fs::create_dir_all(path)
            .map_err(|e| Error::io(format!("cannot create {}", path.display()), e))?;
        created.push(path.to_path_buf());
    }
    let root = path
        .canonicalize()
        .map_err(|e| Error::io(format!("cannot resolve {}", path.display()), e))?;
    let state = root.join(STATE_DIR);
    std::fs::create_dir(&state)
        .map_err(|e| Error::io(format!("cannot create {}", state.display()), e))?;
    created.push(state.clone());
    for sub in ["logs", "run"] {
        std::fs::create_dir(state.join(sub))
            .map_err(|e| Error::io(format!("cannot create {sub} folder"), e))?;
    }
    let cfg_path = root.join(CONFIG_FILE);
    // A store URL may carry the database's password: then gt.toml is
    // its owner's only (later writes keep the mode).
    if config.store.url.is_some() {
        crate::fsutil::write_new_private(&cfg_path, config.to_toml().as_bytes())?;
    } else {
        crate::fsutil::write_new(&cfg_path, config.to_toml().as_bytes())?;
    }
    created.push(cfg_path);
    Ok(Town {
        root,
        config: config.clone(),
        clock: Arc::new(SystemClock),
        store_passwords: PasswordSource::default(),
    }
    .with_caller(caller))
}

fn remove_created(created: &[PathBuf]) {
    for p in created.iter().rev() {
        let _ = if p.is_dir() {
            std::fs::remove_dir_all(p)
        } else {
            std::fs::remove_file(p)
        };
    }
}

/// The town's name and bead prefix, from its `town.created` event (a town
/// made before the prefix was recorded there has the default prefix).
fn town_identity(store: &dyn Store) -> Result<(String, String)> {
    let created = store.events(&crate::event::EventQuery {
        kinds: vec![kind::TOWN_CREATED.to_string()],
        limit: Some(1),
        ..Default::default()
    })?;
    let Some(ev) = created.first() else {
        return Err(Error::refused(
            "that database holds no town; make one with `gt init DIR --store URL`",
        ));
    };
    let name = ev.payload["name"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| "town".to_string());
    let prefix = ev.payload["prefix"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| {
            TownConfig::new("t")
                .map(|c| c.town.prefix)
                .unwrap_or_default()
        });
    Ok((name, prefix))
}

/// The newest database schema this gt's store backend understands (`gt
/// version`).
pub fn latest_schema_version() -> i64 {
    gt_store_sqlite::latest_schema_version()
}

/// One table moved by [`Town::migrate_store_to`], as checked on both sides.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MigratedTable {
    pub table: String,
    pub rows: usize,
    /// SHA-256 of the rows (order-independent), equal on both stores.
    pub checksum: String,
}

/// What `gt store migrate --to` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoreMigration {
    /// The store the town used (its SQLite file).
    pub from: String,
    /// The new store, without its password.
    pub to: String,
    pub tables: Vec<MigratedTable>,
    /// Where the SQLite file was moved (kept, never deleted).
    pub kept: PathBuf,
}

impl Town {
    /// `gt store migrate --to URL`: moves this SQLite town to the empty
    /// PostgreSQL database at `url`. Refused while the town's deacon runs
    /// or an agent session is open (their writes would go to the old
    /// store). Every table is copied in one transaction, then read back:
    /// counts and a checksum per table must match, else nothing changes
    /// here. Then gt.toml names the new store and the SQLite file is moved
    /// aside as `town.db.migrated` (kept). A `store.migrated` event ends it.
    pub fn migrate_store_to(
        &mut self,
        url: &str,
        caller: &CallerEnv,
        actor: &str,
    ) -> Result<StoreMigration> {
        crate::config::validate_store_url(url)?;
        if self.config.store.url.is_some() {
            return Err(Error::refused(
                "this town's store is PostgreSQL already; gt store migrate moves a SQLite town",
            ));
        }
        if let Some(pid) = crate::deacon::running_pid(self)? {
            return Err(Error::refused(format!(
                "the deacon runs (pid {pid}); stop the town first with gt down --all"
            )));
        }
        let kept = self.state_dir().join(format!("{DB_FILE}.migrated"));
        if kept.exists() {
            return Err(Error::refused(format!(
                "{} exists (an earlier migration); move it away first",
                kept.display()
            )));
        }
        let prefix = self.config.town.prefix.clone();
        let sqlite = open_sqlite_for_migration(self)?;
        let open = crate::store::WorkStore::list_sessions(
            &sqlite,
            &crate::store::SessionFilter {
                open_only: true,
                ..Default::default()
            },
        )?;
        if let Some(s) = open.first() {
            return Err(Error::refused(format!(
                "{} open agent session(s) (e.g. {}); end them first with gt down --all",
                open.len(),
                s.agent()
            )));
        }
        let dumps = sqlite.dump_tables()?;
        let passwords = PasswordSource::from_caller(caller);
        let pg = PgStore::create_with(url, &passwords, &prefix, self.clock.clone())?;
        let to = crate::store::StoreMaintenance::location(&pg);
        pg.load_tables(&dumps)?;
        let names: Vec<&str> = dumps.iter().map(|d| d.table.as_str()).collect();
        let back = pg.dump_tables(&names)?;
        let mut tables = Vec::new();
        for (a, b) in dumps.iter().zip(&back) {
            let (ca, cb) = (a.checksum(), b.checksum());
            if a.rows.len() != b.rows.len() || ca != cb {
                return Err(Error::Environment(format!(
                    "table {} did not copy faithfully ({} rows here, {} there); the town still uses {} and {to} holds a partial copy",
                    a.table,
                    a.rows.len(),
                    b.rows.len(),
                    self.db_path().display()
                )));
            }
            tables.push(MigratedTable {
                table: a.table.clone(),
                rows: a.rows.len(),
                checksum: ca,
            });
        }
        drop(sqlite);
        // gt.toml names the new store (owner-only: the URL may hold a
        // password), then the SQLite file goes aside.
        let mut config = self.config.clone();
        config.store.url = Some(url.to_string());
        let path = self.config_path();
        let tmp = self.root.join(format!("{CONFIG_FILE}.migrating"));
        let _ = std::fs::remove_file(&tmp);
        crate::fsutil::write_new_private(&tmp, config.to_toml().as_bytes())?;
        std::fs::rename(&tmp, &path)
            .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
        std::fs::rename(self.db_path(), &kept)
            .map_err(|e| Error::io(format!("cannot move {} aside", self.db_path().display()), e))?;
        for ext in ["-wal", "-shm"] {
            let side = self.state_dir().join(format!("{DB_FILE}{ext}"));
            if side.exists() {
                let _ = std::fs::rename(
                    &side,
                    self.state_dir().join(format!("{DB_FILE}.migrated{ext}")),
                );
            }
        }
        self.config = config;
        let from = self.db_path().display().to_string();
        let counts: serde_json::Map<String, serde_json::Value> = tables
            .iter()
            .map(|t| (t.table.clone(), json!(t.rows)))
            .collect();
        // Its settings become the shared settings of every host to come,
        // stored with the event that ends the migration.
        pg.set_town_settings(
            &self.config.shared_toml(),
            None,
            NewEvent::new(
                kind::STORE_MIGRATED,
                format!("town moved from {from} to {to}"),
            )
            .payload(json!({ "from": from, "to": to, "rows": counts })),
            actor,
        )?;
        Ok(StoreMigration {
            from,
            to,
            tables,
            kept,
        })
    }
}

/// The town's own SQLite file, opened as itself for `gt store migrate`
/// (the only caller that needs the backend, to read its tables).
fn open_sqlite_for_migration(town: &Town) -> Result<SqliteStore> {
    SqliteStore::open(
        &town.db_path(),
        &town.config.town.prefix,
        town.clock.clone(),
    )
}

/// The one place that names the store backend (with
/// [`latest_schema_version`]): creates (`gt init`) or opens the town's
/// database, stamped with the town's clock.
fn open_store(town: &Town, create: bool) -> Result<Box<dyn Store + Send>> {
    let (path, prefix) = (town.db_path(), &town.config.town.prefix);
    if let Some(url) = &town.config.store.url {
        let store = if create {
            PgStore::create_with(url, &town.store_passwords, prefix, town.clock.clone())?
        } else {
            PgStore::open_with(url, &town.store_passwords, prefix, town.clock.clone())?
        };
        // A shared store: every event says which host's gt made it.
        store.set_host(Some(town.host_name()))?;
        return Ok(Box::new(store));
    }
    Ok(if create {
        Box::new(SqliteStore::create(&path, prefix, town.clock.clone())?)
    } else {
        Box::new(SqliteStore::open(&path, prefix, town.clock.clone())?)
    })
}
