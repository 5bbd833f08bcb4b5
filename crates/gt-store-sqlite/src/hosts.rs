//! [`HostStore`] for SQLite: the `hosts` table. Each write reads the host,
//! applies `gt_core::rules::host`, writes it back with its event.

use rusqlite::{params, OptionalExtension, Row, Transaction};

use super::DbResult;
use super::{insert_event, SqliteStore};
use gt_core::error::{Error, Result};
use gt_core::host::{Host, HostState, Lease};
use gt_core::rules::host as rules;
use gt_store::HostStore;

const HOST_COLS: &str = "name, capacity, state, epoch, heartbeat_at, joined_at, state_at";

fn host_from_row(r: &Row<'_>) -> rusqlite::Result<Host> {
    let state: String = r.get(2)?;
    let capacity: Option<i64> = r.get(1)?;
    Ok(Host {
        name: r.get(0)?,
        capacity: capacity.map(|c| c as u32),
        state: state.parse().unwrap_or(HostState::Dead),
        epoch: r.get(3)?,
        heartbeat_at: r.get(4)?,
        joined_at: r.get(5)?,
        state_at: r.get(6)?,
    })
}

fn fetch_host(tx: &rusqlite::Connection, name: &str) -> Result<Option<Host>> {
    tx.prepare_cached(&format!("SELECT {HOST_COLS} FROM hosts WHERE name = ?1"))
        .db()?
        .query_row([name], host_from_row)
        .optional()
        .db()
}

fn existing(tx: &rusqlite::Connection, name: &str) -> Result<Host> {
    fetch_host(tx, name)?.ok_or_else(|| Error::not_found("host", name))
}

fn put_host(tx: &Transaction<'_>, h: &Host) -> Result<()> {
    tx.prepare_cached(&format!(
        "INSERT INTO hosts ({HOST_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (name) DO UPDATE SET capacity = excluded.capacity, state = excluded.state,
           epoch = excluded.epoch, heartbeat_at = excluded.heartbeat_at,
           state_at = excluded.state_at"
    ))
    .db()?
    .execute(params![
        h.name,
        h.capacity.map(i64::from),
        h.state.as_str(),
        h.epoch,
        h.heartbeat_at,
        h.joined_at,
        h.state_at
    ])
    .db()?;
    Ok(())
}

const LEASE_COLS: &str = "name, holder, epoch, taken_at, expires_at";

fn lease_from_row(r: &Row<'_>) -> rusqlite::Result<Lease> {
    Ok(Lease {
        name: r.get(0)?,
        holder: r.get(1)?,
        epoch: r.get(2)?,
        taken_at: r.get(3)?,
        expires_at: r.get(4)?,
    })
}

fn fetch_lease(c: &rusqlite::Connection, name: &str) -> Result<Option<Lease>> {
    c.prepare_cached(&format!("SELECT {LEASE_COLS} FROM leases WHERE name = ?1"))
        .db()?
        .query_row([name], lease_from_row)
        .optional()
        .db()
}

fn put_lease(tx: &Transaction<'_>, l: &Lease) -> Result<()> {
    tx.prepare_cached(&format!(
        "INSERT INTO leases ({LEASE_COLS}) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, epoch = excluded.epoch,
           taken_at = excluded.taken_at, expires_at = excluded.expires_at"
    ))
    .db()?
    .execute(params![l.name, l.holder, l.epoch, l.taken_at, l.expires_at])
    .db()?;
    Ok(())
}

impl SqliteStore {
    /// Reads host `name`, changes it by `rule` (which may refuse and may
    /// return an event), writes it back with the event, in one transaction.
    fn change_host(
        &self,
        name: &str,
        actor: &str,
        rule: impl Fn(&mut Host, &str) -> Result<Option<gt_core::event::NewEvent>>,
    ) -> Result<Host> {
        let now = self.now();
        self.write(|tx| {
            let mut h = existing(tx, name)?;
            let ev = rule(&mut h, &now)?;
            put_host(tx, &h)?;
            if let Some(ev) = ev {
                insert_event(tx, &now, actor, &ev)?;
            }
            Ok(h)
        })
    }
}

impl HostStore for SqliteStore {
    fn add_host(&self, name: &str, capacity: Option<u32>, actor: &str) -> Result<Host> {
        let now = self.now();
        self.write(|tx| {
            let exists = fetch_host(tx, name)?.is_some();
            let (h, ev) = rules::join(name, capacity, exists, &now)?;
            put_host(tx, &h)?;
            insert_event(tx, &now, actor, &ev)?;
            Ok(h)
        })
    }

    fn get_host(&self, name: &str) -> Result<Host> {
        existing(self.conn(), name)
    }

    fn list_hosts(&self) -> Result<Vec<Host>> {
        let mut stmt = self
            .conn()
            .prepare_cached(&format!("SELECT {HOST_COLS} FROM hosts ORDER BY name"))
            .db()?;
        let rows = stmt.query_map([], host_from_row).db()?;
        rows.collect::<rusqlite::Result<_>>().db()
    }

    fn host_up(&self, name: &str, actor: &str) -> Result<Host> {
        self.change_host(name, actor, |h, now| Ok(Some(rules::come_up(h, now))))
    }

    fn host_heartbeat(&self, name: &str, epoch: i64) -> Result<Host> {
        self.change_host(name, "", |h, now| {
            rules::heartbeat(h, epoch, now)?;
            Ok(None)
        })
    }

    fn host_down(&self, name: &str, epoch: i64, actor: &str) -> Result<Host> {
        self.change_host(name, actor, |h, now| {
            rules::go_down(h, epoch, now).map(Some)
        })
    }

    fn declare_dead_hosts(&self, stale_before: &str, actor: &str) -> Result<Vec<Host>> {
        let now = self.now();
        self.write(|tx| {
            let up: Vec<Host> = tx
                .prepare_cached(&format!(
                    "SELECT {HOST_COLS} FROM hosts WHERE state = 'up' ORDER BY name"
                ))
                .db()?
                .query_map([], host_from_row)
                .db()?
                .collect::<rusqlite::Result<_>>()
                .db()?;
            let mut dead = Vec::new();
            for mut h in up {
                if let Some(ev) = rules::declare_dead(&mut h, stale_before, &now) {
                    put_host(tx, &h)?;
                    insert_event(tx, &now, actor, &ev)?;
                    dead.push(h);
                }
            }
            Ok(dead)
        })
    }

    fn set_host_capacity(&self, name: &str, capacity: Option<u32>, actor: &str) -> Result<Host> {
        self.change_host(name, actor, |h, _| {
            Ok(Some(rules::set_capacity(h, capacity)))
        })
    }

    fn take_lease(&self, name: &str, holder: &str, expires_at: &str, actor: &str) -> Result<Lease> {
        let now = self.now();
        self.write(|tx| {
            let (l, ev) =
                rules::take_lease(fetch_lease(tx, name)?, name, holder, &now, expires_at)?;
            put_lease(tx, &l)?;
            if let Some(ev) = ev {
                insert_event(tx, &now, actor, &ev)?;
            }
            Ok(l)
        })
    }

    fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        let now = self.now();
        self.write(|tx| {
            if let Some(mut l) = fetch_lease(tx, name)? {
                if rules::release_lease(&mut l, holder, &now) {
                    put_lease(tx, &l)?;
                }
            }
            Ok(())
        })
    }

    fn list_leases(&self) -> Result<Vec<Lease>> {
        let mut stmt = self
            .conn()
            .prepare_cached(&format!("SELECT {LEASE_COLS} FROM leases ORDER BY name"))
            .db()?;
        let rows = stmt.query_map([], lease_from_row).db()?;
        rows.collect::<rusqlite::Result<_>>().db()
    }

    fn town_settings(&self) -> Result<Option<String>> {
        self.conn()
            .prepare_cached("SELECT value FROM meta WHERE key = 'town_settings'")
            .db()?
            .query_row([], |r| r.get(0))
            .optional()
            .db()
    }

    fn set_town_settings(
        &self,
        settings: &str,
        expected: Option<&str>,
        event: gt_core::event::NewEvent,
        actor: &str,
    ) -> Result<()> {
        gt_store::host::check_town_settings(settings)?;
        let now = self.now();
        self.write(|tx| {
            let current: Option<String> = tx
                .prepare_cached("SELECT value FROM meta WHERE key = 'town_settings'")
                .db()?
                .query_row([], |r| r.get(0))
                .optional()
                .db()?;
            if current.as_deref() != expected {
                return Err(gt_store::host::settings_moved());
            }
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('town_settings', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [settings],
            )
            .db()?;
            insert_event(tx, &now, actor, &event)?;
            Ok(())
        })
    }
}
