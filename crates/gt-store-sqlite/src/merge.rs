//! SQLite backend for issue 7: merge queue (refinery) and convoys.

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};
use serde_json::{Map, Value};

use super::beads::{fetch_bead, resolve_id, write_bead_row};
use super::DbResult;
use super::{insert_event, SqliteStore};
use gt_core::error::{Error, Result};
use gt_core::merge::MergeStatus;
use gt_core::rules::merge::{self as rules, BeadChange};
use gt_store::merge::{Convoy, FailureKind, Landing, MergeEntry, MergeStore};

const ENTRY_COLS: &str = "id, rig, bead, polecat, branch, base_commit, head_commit, status, note,
    created_at, updated_at, attempts, target_from, landing_commit, merged_commit, batch, failure,
    conflict_files, followup_pending";

fn entry_from_row(r: &Row<'_>) -> rusqlite::Result<MergeEntry> {
    let files: String = r.get(17)?;
    Ok(MergeEntry {
        // The first eleven columns are a merge request's, as everywhere.
        mr: super::work::mr_from_row(r)?,
        attempts: r.get(11)?,
        target_from: r.get(12)?,
        landing_commit: r.get(13)?,
        merged_commit: r.get(14)?,
        batch: r.get(15)?,
        failure: r.get(16)?,
        conflict_files: serde_json::from_str(&files).unwrap_or_default(),
        followup_pending: r.get::<_, i64>(18)? != 0,
    })
}

fn fetch_entry(conn: &Connection, id: i64) -> Result<MergeEntry> {
    conn.prepare_cached(&format!(
        "SELECT {ENTRY_COLS} FROM merge_requests WHERE id = ?1"
    ))
    .db()?
    .query_row([id], entry_from_row)
    .optional()
    .db()?
    .ok_or_else(|| Error::not_found("merge request", id.to_string()))
}

fn add_comment(
    tx: &Transaction<'_>,
    bead: &str,
    author: &str,
    text: &str,
    now: &str,
) -> Result<()> {
    tx.execute(
        "INSERT INTO comments (bead_id, author, text, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![bead, author, text, now],
    )
    .db()?;
    Ok(())
}

/// Writes what a transition returned besides the request row: the bead
/// row, the comment (by `actor`), then the events, in that order.
fn apply(
    tx: &Transaction<'_>,
    bead: &gt_core::bead::Bead,
    change: &BeadChange,
    now: &str,
    actor: &str,
) -> Result<()> {
    if change.write_bead {
        write_bead_row(tx, bead)?;
    }
    if let Some(text) = &change.comment {
        add_comment(tx, &bead.id, actor, text, now)?;
    }
    for ev in &change.events {
        insert_event(tx, now, actor, ev)?;
    }
    Ok(())
}

fn convoy_row(conn: &Connection, r: &Row<'_>) -> rusqlite::Result<Convoy> {
    let id: i64 = r.get(0)?;
    let beads: Vec<(String, String)> = conn
        .prepare_cached(
            "SELECT cb.bead_id, b.status FROM convoy_beads cb JOIN beads b ON b.id = cb.bead_id
             WHERE cb.convoy_id = ?1 ORDER BY cb.added_at, cb.bead_id",
        )?
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let closed = beads.iter().filter(|(_, s)| s == "closed").count();
    Ok(Convoy {
        id,
        name: r.get(1)?,
        status: crate::parsed(r, 2, "convoy status")?,
        created_by: r.get(3)?,
        created_at: r.get(4)?,
        updated_at: r.get(5)?,
        landed_at: r.get(6)?,
        total: beads.len(),
        closed,
        beads: beads.into_iter().map(|(b, _)| b).collect(),
    })
}

const CONVOY_COLS: &str = "id, name, status, created_by, created_at, updated_at, landed_at";

fn fetch_convoy(conn: &Connection, key: &str) -> Result<Convoy> {
    let by_id = key.strip_prefix("cv-").unwrap_or(key).parse::<i64>().ok();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {CONVOY_COLS} FROM convoys WHERE name = ?1 OR id = ?2 ORDER BY name = ?1 DESC LIMIT 1"
    )).db()?;
    stmt.query_row(params![key, by_id], |r| convoy_row(conn, r))
        .optional()
        .db()?
        .ok_or_else(|| Error::not_found("convoy", key))
}

/// Marks landed the open convoys (among `candidates`, or all) whose beads
/// are all closed, with a `convoy.landed` event each.
fn land_convoys(
    tx: &Transaction<'_>,
    candidates: Option<&[String]>,
    now: &str,
    actor: &str,
) -> Result<Vec<Convoy>> {
    let ids: Vec<i64> =
        match candidates {
            Some(beads) => {
                let mut ids = Vec::new();
                let mut stmt = tx.prepare_cached(
                "SELECT cb.convoy_id FROM convoy_beads cb JOIN convoys c ON c.id = cb.convoy_id
                 WHERE cb.bead_id = ?1 AND c.status = 'open'",
            ).db()?;
                for b in beads {
                    for id in stmt.query_map([b], |r| r.get::<_, i64>(0)).db()? {
                        ids.push(id.db()?);
                    }
                }
                ids.sort();
                ids.dedup();
                ids
            }
            None => tx
                .prepare_cached("SELECT id FROM convoys WHERE status = 'open' ORDER BY id")
                .db()?
                .query_map([], |r| r.get(0))
                .db()?
                .collect::<rusqlite::Result<_>>()
                .db()?,
        };
    let mut out = Vec::new();
    for id in ids {
        let mut c = fetch_convoy(tx, &id.to_string())?;
        let Some(ev) = rules::convoy_landed(&mut c, now) else {
            continue;
        };
        tx.execute(
            "UPDATE convoys SET status = ?2, landed_at = ?3, updated_at = ?4 WHERE id = ?1",
            params![id, c.status.as_str(), c.landed_at, c.updated_at],
        )
        .db()?;
        insert_event(tx, now, actor, &ev)?;
        out.push(fetch_convoy(tx, &id.to_string())?);
    }
    Ok(out)
}

fn add_beads(
    tx: &Transaction<'_>,
    prefix: &str,
    convoy: i64,
    beads: &[String],
    now: &str,
) -> Result<Vec<String>> {
    let mut added = Vec::new();
    for b in beads {
        let id = resolve_id(tx, prefix, b)?;
        let n = tx.execute(
            "INSERT OR IGNORE INTO convoy_beads (convoy_id, bead_id, added_at) VALUES (?1, ?2, ?3)",
            params![convoy, id, now],
        ).db()?;
        if n > 0 {
            added.push(id);
        }
    }
    Ok(added)
}

impl MergeStore for SqliteStore {
    fn rig_config(&self, rig: &str) -> Result<Map<String, Value>> {
        let text: String = self
            .conn()
            .prepare_cached("SELECT config FROM rigs WHERE name = ?1")
            .db()?
            .query_row([rig], |r| r.get(0))
            .optional()
            .db()?
            .ok_or_else(|| Error::not_found("rig", rig))?;
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Ok(Map::new()),
        }
    }

    fn set_rig_config(
        &self,
        rig: &str,
        key: &str,
        value: Option<Value>,
        actor: &str,
    ) -> Result<Map<String, Value>> {
        let now = self.now();
        self.write(|tx| {
            let text: String = tx
                .prepare_cached("SELECT config FROM rigs WHERE name = ?1")
                .db()?
                .query_row([rig], |r| r.get(0))
                .optional()
                .db()?
                .ok_or_else(|| Error::not_found("rig", rig))?;
            let mut map = match serde_json::from_str::<Value>(&text) {
                Ok(Value::Object(m)) => m,
                _ => Map::new(),
            };
            let ev = rules::set_rig_config(&mut map, rig, key, value.clone());
            tx.execute(
                "UPDATE rigs SET config = ?2 WHERE name = ?1",
                params![rig, Value::Object(map.clone()).to_string()],
            )
            .db()?;
            insert_event(tx, &now, actor, &ev)?;
            Ok(map)
        })
    }

    fn merge_entry(&self, id: i64) -> Result<MergeEntry> {
        fetch_entry(self.conn(), id)
    }

    fn merge_entries(
        &self,
        rig: Option<&str>,
        statuses: &[MergeStatus],
    ) -> Result<Vec<MergeEntry>> {
        let all = statuses.is_empty();
        let list = serde_json::to_string(statuses).unwrap_or_else(|_| "[]".into());
        let mut stmt = self
            .conn()
            .prepare_cached(&format!(
                "SELECT {ENTRY_COLS} FROM merge_requests
             WHERE (?1 IS NULL OR rig = ?1)
               AND (?2 = 1 OR status IN (SELECT value FROM json_each(?3)))
             ORDER BY id"
            ))
            .db()?;
        let rows = stmt
            .query_map(params![rig, all as i64, list], entry_from_row)
            .db()?;
        rows.collect::<rusqlite::Result<_>>().db()
    }

    fn merge_entries_for_bead(&self, bead: &str) -> Result<Vec<MergeEntry>> {
        let mut stmt = self
            .conn()
            .prepare_cached(&format!(
                "SELECT {ENTRY_COLS} FROM merge_requests WHERE bead = ?1 ORDER BY id"
            ))
            .db()?;
        let rows = stmt.query_map([bead], entry_from_row).db()?;
        rows.collect::<rusqlite::Result<_>>().db()
    }

    fn rigs_with_merge_work(&self) -> Result<Vec<String>> {
        let mut stmt = self
            .conn()
            .prepare_cached(
                "SELECT DISTINCT m.rig FROM merge_requests m JOIN rigs r ON r.name = m.rig
             WHERE m.status IN ('queued', 'landing') OR m.followup_pending = 1 ORDER BY m.rig",
            )
            .db()?;
        let rows = stmt.query_map([], |r| r.get(0)).db()?;
        rows.collect::<rusqlite::Result<_>>().db()
    }

    fn mark_landing(
        &self,
        landings: &[Landing],
        target_from: &str,
        batch: i64,
        actor: &str,
    ) -> Result<()> {
        let now = self.now();
        self.write(|tx| {
            for l in landings {
                let mut e = fetch_entry(tx, l.id)?;
                let ev = rules::start_landing(&mut e, l, target_from, batch, &now)?;
                tx.execute(
                    "UPDATE merge_requests SET status = ?2, landing_commit = ?3, target_from = ?4,
                        batch = ?5, attempts = ?6, updated_at = ?7 WHERE id = ?1",
                    params![
                        l.id,
                        e.mr.status.as_str(),
                        e.landing_commit,
                        e.target_from,
                        e.batch,
                        e.attempts,
                        e.mr.updated_at
                    ],
                )
                .db()?;
                insert_event(tx, &now, actor, &ev)?;
            }
            Ok(())
        })
    }

    fn record_merged(&self, landed: &[Landing], actor: &str) -> Result<Vec<Convoy>> {
        let now = self.now();
        self.write(|tx| {
            let mut beads = Vec::new();
            for l in landed {
                let mut e = fetch_entry(tx, l.id)?;
                if !rules::land(&mut e, &l.commit, &now) {
                    continue;
                }
                tx.execute(
                    "UPDATE merge_requests SET status = ?2, merged_commit = ?3, followup_pending = ?4,
                        failure = ?5, updated_at = ?6 WHERE id = ?1",
                    params![
                        l.id,
                        e.mr.status.as_str(),
                        e.merged_commit,
                        e.followup_pending,
                        e.failure,
                        e.mr.updated_at
                    ],
                ).db()?;
                let mut bead = fetch_bead(tx, &e.mr.bead)?;
                let change = rules::close_landed(&e, &mut bead, &now);
                apply(tx, &bead, &change, &now, actor)?;
                beads.push(e.mr.bead.clone());
            }
            land_convoys(tx, Some(&beads), &now, actor)
        })
    }

    fn record_failure(
        &self,
        id: i64,
        fkind: FailureKind,
        failure: &str,
        files: &[String],
        note: &str,
        actor: &str,
    ) -> Result<MergeEntry> {
        let now = self.now();
        self.write(|tx| {
            let mut e = fetch_entry(tx, id)?;
            let mut bead = fetch_bead(tx, &e.mr.bead)?;
            let change = rules::fail(&mut e, &mut bead, fkind, failure, files, note, &now);
            tx.execute(
                "UPDATE merge_requests SET status = ?2, failure = ?3, conflict_files = ?4,
                    followup_pending = ?5, landing_commit = ?6, target_from = ?7, updated_at = ?8
                 WHERE id = ?1",
                params![
                    id,
                    e.mr.status.as_str(),
                    e.failure,
                    serde_json::to_string(&e.conflict_files).unwrap_or_else(|_| "[]".into()),
                    e.followup_pending,
                    e.landing_commit,
                    e.target_from,
                    e.mr.updated_at
                ],
            )
            .db()?;
            apply(tx, &bead, &change, &now, actor)?;
            fetch_entry(tx, id)
        })
    }

    fn requeue(&self, id: i64, reason: &str, actor: &str) -> Result<MergeEntry> {
        let now = self.now();
        self.write(|tx| {
            let mut e = fetch_entry(tx, id)?;
            if !rules::check_requeue(&e)? {
                return Ok(e);
            }
            let mut bead = fetch_bead(tx, &e.mr.bead)?;
            let change = rules::requeue(&mut e, &mut bead, reason, &now)?;
            tx.execute(
                "UPDATE merge_requests SET status = ?2, landing_commit = ?3, target_from = ?4,
                    followup_pending = ?5, updated_at = ?6 WHERE id = ?1",
                params![
                    id,
                    e.mr.status.as_str(),
                    e.landing_commit,
                    e.target_from,
                    e.followup_pending,
                    e.mr.updated_at
                ],
            )
            .db()?;
            apply(tx, &bead, &change, &now, actor)?;
            fetch_entry(tx, id)
        })
    }

    fn remove_merge_request(&self, id: i64, actor: &str) -> Result<MergeEntry> {
        let now = self.now();
        self.write(|tx| {
            let mut e = fetch_entry(tx, id)?;
            rules::check_remove(&e)?;
            let mut bead = fetch_bead(tx, &e.mr.bead)?;
            let change = rules::remove(&mut e, &mut bead, &now);
            tx.execute(
                "UPDATE merge_requests SET status = ?2, updated_at = ?3, followup_pending = ?4
                 WHERE id = ?1",
                params![
                    id,
                    e.mr.status.as_str(),
                    e.mr.updated_at,
                    e.followup_pending
                ],
            )
            .db()?;
            apply(tx, &bead, &change, &now, actor)?;
            fetch_entry(tx, id)
        })
    }

    fn set_followup_done(&self, id: i64) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE merge_requests SET followup_pending = 0 WHERE id = ?1",
                [id],
            )
            .db()?;
            Ok(())
        })
    }

    fn next_batch(&self) -> Result<i64> {
        let n: Option<i64> = self
            .conn()
            .query_row("SELECT max(batch) FROM merge_requests", [], |r| r.get(0))
            .db()?;
        Ok(n.unwrap_or(0) + 1)
    }

    fn create_convoy(&self, name: &str, beads: &[String], actor: &str) -> Result<Convoy> {
        gt_core::merge::validate_convoy_name(name)?;
        self.write(|tx| self.create_convoy_in(tx, name, beads, actor))
    }

    fn create_molecule(
        &self,
        formula: &str,
        epic: &gt_core::bead::NewBead,
        steps: &[gt_core::bead::NewBead],
        convoy: &str,
        actor: &str,
    ) -> Result<gt_core::merge::Molecule> {
        rules::check_molecule(convoy, epic, steps)?;
        let now = self.now();
        self.write(|tx| {
            let mut w = Writes {
                store: self,
                tx,
                actor,
            };
            let (m, ev) = rules::make_molecule(&mut w, formula, epic, steps, convoy)?;
            insert_event(w.tx, &now, actor, &ev)?;
            Ok(m)
        })
    }

    fn add_to_convoy(&self, convoy: &str, beads: &[String], actor: &str) -> Result<Convoy> {
        let now = self.now();
        self.write(|tx| {
            let mut c = fetch_convoy(tx, convoy)?;
            let added = add_beads(tx, self.default_prefix(), c.id, beads, &now)?;
            let Some(ev) = rules::add_to_convoy(&mut c, &added, &now) else {
                return Ok(c);
            };
            tx.execute(
                "UPDATE convoys SET updated_at = ?2, status = ?3, landed_at = ?4 WHERE id = ?1",
                params![c.id, c.updated_at, c.status.as_str(), c.landed_at],
            )
            .db()?;
            insert_event(tx, &now, actor, &ev)?;
            // Beads added already closed may complete it at once.
            land_convoys(tx, Some(&added), &now, actor)?;
            fetch_convoy(tx, &c.id.to_string())
        })
    }

    fn get_convoy(&self, convoy: &str) -> Result<Convoy> {
        fetch_convoy(self.conn(), convoy)
    }

    fn list_convoys(&self) -> Result<Vec<Convoy>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!("SELECT {CONVOY_COLS} FROM convoys ORDER BY id"))
            .db()?;
        let rows = stmt.query_map([], |r| convoy_row(conn, r)).db()?;
        rows.collect::<rusqlite::Result<_>>().db()
    }

    fn refresh_convoys(&self, actor: &str) -> Result<Vec<Convoy>> {
        // Cheap read first: most calls find nothing to do and write nothing.
        let due: i64 = self
            .conn()
            .query_row(
                "SELECT count(*) FROM convoys c WHERE c.status = 'open'
               AND EXISTS (SELECT 1 FROM convoy_beads cb WHERE cb.convoy_id = c.id)
               AND NOT EXISTS (SELECT 1 FROM convoy_beads cb JOIN beads b ON b.id = cb.bead_id
                               WHERE cb.convoy_id = c.id AND b.status != 'closed')",
                [],
                |r| r.get(0),
            )
            .db()?;
        if due == 0 {
            return Ok(Vec::new());
        }
        let now = self.now();
        self.write(|tx| land_convoys(tx, None, &now, actor))
    }
}

impl SqliteStore {
    /// [`MergeStore::create_convoy`]'s writes inside an open transaction
    /// (also the convoy of a molecule).
    fn create_convoy_in(
        &self,
        tx: &Transaction<'_>,
        name: &str,
        beads: &[String],
        actor: &str,
    ) -> Result<Convoy> {
        let now = self.now();
        let exists: bool = tx
            .prepare_cached("SELECT 1 FROM convoys WHERE name = ?1")
            .db()?
            .exists([name])
            .db()?;
        rules::check_new_convoy(name, exists)?;
        tx.execute(
            "INSERT INTO convoys (name, status, created_by, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?4)",
            params![name, rules::NEW_CONVOY_STATUS.as_str(), actor, now],
        )
        .db()?;
        let id = tx.last_insert_rowid();
        let added = add_beads(tx, self.default_prefix(), id, beads, &now)?;
        insert_event(tx, &now, actor, &rules::convoy_created(id, name, &added))?;
        fetch_convoy(tx, &id.to_string())
    }
}

/// [`MergeStore::create_molecule`]'s writes in one transaction.
struct Writes<'a, 'b> {
    store: &'a SqliteStore,
    tx: &'a Transaction<'b>,
    actor: &'a str,
}

impl rules::MoleculeWrites for Writes<'_, '_> {
    fn bead(&mut self, new: &gt_core::bead::NewBead) -> Result<gt_core::bead::Bead> {
        self.store.create_in(self.tx, new, self.actor)
    }

    fn convoy(&mut self, name: &str, beads: &[String]) -> Result<Convoy> {
        self.store
            .create_convoy_in(self.tx, name, beads, self.actor)
    }
}
