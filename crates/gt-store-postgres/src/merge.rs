//! [`MergeStore`] for PostgreSQL: the merge queue (refinery) and convoys,
//! as in `gt-store-sqlite/src/merge.rs`.

use postgres::{GenericClient, Row, Transaction};
use serde_json::{Map, Value};

use gt_core::error::{Error, Result};
use gt_core::merge::MergeStatus;
use gt_core::rules::merge::{self as rules, BeadChange};
use gt_store::merge::{Convoy, FailureKind, Landing, MergeEntry, MergeStore};

use crate::beads::{fetch_bead, resolve_id, write_bead_row};
use crate::{insert_event, DbResult, PgStore};

const ENTRY_COLS: &str = "id, rig, bead, polecat, branch, base_commit, head_commit, status, note,
    created_at, updated_at, attempts, target_from, landing_commit, merged_commit, batch, failure,
    conflict_files, followup_pending";

fn entry_from_row(r: &Row) -> Result<MergeEntry> {
    let files: String = r.try_get(17).db()?;
    Ok(MergeEntry {
        // The first eleven columns are a merge request's, as everywhere.
        mr: crate::work::mr_from_row(r)?,
        attempts: r.try_get(11).db()?,
        target_from: r.try_get(12).db()?,
        landing_commit: r.try_get(13).db()?,
        merged_commit: r.try_get(14).db()?,
        batch: r.try_get(15).db()?,
        failure: r.try_get(16).db()?,
        conflict_files: serde_json::from_str(&files).unwrap_or_default(),
        followup_pending: r.try_get(18).db()?,
    })
}

fn fetch_entry(c: &mut impl GenericClient, id: i64) -> Result<MergeEntry> {
    let row = c
        .query_opt(
            &format!("SELECT {ENTRY_COLS} FROM merge_requests WHERE id = $1"),
            &[&id],
        )
        .db()?
        .ok_or_else(|| Error::not_found("merge request", id.to_string()))?;
    entry_from_row(&row)
}

fn add_comment(
    tx: &mut impl GenericClient,
    bead: &str,
    author: &str,
    text: &str,
    now: &str,
) -> Result<()> {
    tx.execute(
        "INSERT INTO comments (bead_id, author, text, created_at) VALUES ($1, $2, $3, $4)",
        &[&bead, &author, &text, &now],
    )
    .db()?;
    Ok(())
}

/// Writes what a transition returned besides the request row: the bead
/// row, the comment (by `actor`), then the events, in that order.
fn apply(
    tx: &mut impl GenericClient,
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

/// The convoy of row `r` (of [`CONVOY_COLS`]) with its beads.
fn convoy_row(c: &mut impl GenericClient, r: &Row) -> Result<Convoy> {
    let id: i64 = r.try_get(0).db()?;
    let beads = c
        .query(
            "SELECT cb.bead_id, b.status FROM convoy_beads cb JOIN beads b ON b.id = cb.bead_id
             WHERE cb.convoy_id = $1 ORDER BY cb.added_at, cb.bead_id",
            &[&id],
        )
        .db()?
        .iter()
        .map(|r| Ok((r.try_get(0).db()?, r.try_get(1).db()?)))
        .collect::<Result<Vec<(String, String)>>>()?;
    let closed = beads.iter().filter(|(_, s)| s == "closed").count();
    Ok(Convoy {
        id,
        name: r.try_get(1).db()?,
        status: crate::parsed(r, 2, "convoy status")?,
        created_by: r.try_get(3).db()?,
        created_at: r.try_get(4).db()?,
        updated_at: r.try_get(5).db()?,
        landed_at: r.try_get(6).db()?,
        total: beads.len(),
        closed,
        beads: beads.into_iter().map(|(b, _)| b).collect(),
    })
}

const CONVOY_COLS: &str = "id, name, status, created_by, created_at, updated_at, landed_at";

fn fetch_convoy(c: &mut impl GenericClient, key: &str) -> Result<Convoy> {
    let by_id = key.strip_prefix("cv-").unwrap_or(key).parse::<i64>().ok();
    let row = c
        .query_opt(
            &format!(
                "SELECT {CONVOY_COLS} FROM convoys WHERE name = $1 OR id = $2
                 ORDER BY name = $1 DESC LIMIT 1"
            ),
            &[&key, &by_id],
        )
        .db()?
        .ok_or_else(|| Error::not_found("convoy", key))?;
    convoy_row(c, &row)
}

/// Marks landed the open convoys (among `candidates`, or all) whose beads
/// are all closed, with a `convoy.landed` event each.
fn land_convoys(
    tx: &mut impl GenericClient,
    candidates: Option<&[String]>,
    now: &str,
    actor: &str,
) -> Result<Vec<Convoy>> {
    let ids: Vec<i64> = match candidates {
        Some(beads) => {
            let mut ids = Vec::new();
            for b in beads {
                for r in tx
                    .query(
                        "SELECT cb.convoy_id FROM convoy_beads cb
                         JOIN convoys c ON c.id = cb.convoy_id
                         WHERE cb.bead_id = $1 AND c.status = 'open'",
                        &[b],
                    )
                    .db()?
                {
                    ids.push(r.try_get(0).db()?);
                }
            }
            ids.sort();
            ids.dedup();
            ids
        }
        None => tx
            .query(
                "SELECT id FROM convoys WHERE status = 'open' ORDER BY id",
                &[],
            )
            .db()?
            .iter()
            .map(|r| r.try_get(0).db())
            .collect::<Result<_>>()?,
    };
    let mut out = Vec::new();
    for id in ids {
        let mut c = fetch_convoy(tx, &id.to_string())?;
        let Some(ev) = rules::convoy_landed(&mut c, now) else {
            continue;
        };
        tx.execute(
            "UPDATE convoys SET status = $2, landed_at = $3, updated_at = $4 WHERE id = $1",
            &[&id, &c.status.as_str(), &c.landed_at, &c.updated_at],
        )
        .db()?;
        insert_event(tx, now, actor, &ev)?;
        out.push(fetch_convoy(tx, &id.to_string())?);
    }
    Ok(out)
}

/// Adds `beads` to convoy `convoy`; returns the ids of those not in it yet.
fn add_beads(
    tx: &mut impl GenericClient,
    prefix: &str,
    convoy: i64,
    beads: &[String],
    now: &str,
) -> Result<Vec<String>> {
    let mut added = Vec::new();
    for b in beads {
        let id = resolve_id(tx, prefix, b)?;
        let n = tx
            .execute(
                "INSERT INTO convoy_beads (convoy_id, bead_id, added_at) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
                &[&convoy, &id, &now],
            )
            .db()?;
        if n > 0 {
            added.push(id);
        }
    }
    Ok(added)
}

/// The stored config of rig `rig` (empty when it is not an object).
fn read_rig_config(c: &mut impl GenericClient, rig: &str) -> Result<Map<String, Value>> {
    let text: String = c
        .query_opt("SELECT config FROM rigs WHERE name = $1", &[&rig])
        .db()?
        .ok_or_else(|| Error::not_found("rig", rig))?
        .try_get(0)
        .db()?;
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Ok(Map::new()),
    }
}

impl MergeStore for PgStore {
    fn rig_config(&self, rig: &str) -> Result<Map<String, Value>> {
        read_rig_config(&mut *self.client(), rig)
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
            let mut map = read_rig_config(tx, rig)?;
            let ev = rules::set_rig_config(&mut map, rig, key, value.clone());
            tx.execute(
                "UPDATE rigs SET config = $2 WHERE name = $1",
                &[&rig, &Value::Object(map.clone()).to_string()],
            )
            .db()?;
            insert_event(tx, &now, actor, &ev)?;
            Ok(map)
        })
    }

    fn merge_entry(&self, id: i64) -> Result<MergeEntry> {
        fetch_entry(&mut *self.client(), id)
    }

    fn merge_entries(
        &self,
        rig: Option<&str>,
        statuses: &[MergeStatus],
    ) -> Result<Vec<MergeEntry>> {
        let all = statuses.is_empty();
        let list: Vec<String> = statuses.iter().map(|s| s.as_str().to_string()).collect();
        self.client()
            .query(
                &format!(
                    "SELECT {ENTRY_COLS} FROM merge_requests
                     WHERE ($1::text IS NULL OR rig = $1)
                       AND ($2 OR status = ANY($3))
                     ORDER BY id"
                ),
                &[&rig, &all, &list],
            )
            .db()?
            .iter()
            .map(entry_from_row)
            .collect()
    }

    fn merge_entries_for_bead(&self, bead: &str) -> Result<Vec<MergeEntry>> {
        self.client()
            .query(
                &format!("SELECT {ENTRY_COLS} FROM merge_requests WHERE bead = $1 ORDER BY id"),
                &[&bead],
            )
            .db()?
            .iter()
            .map(entry_from_row)
            .collect()
    }

    fn rigs_with_merge_work(&self) -> Result<Vec<String>> {
        self.client()
            .query(
                "SELECT DISTINCT m.rig FROM merge_requests m JOIN rigs r ON r.name = m.rig
                 WHERE m.status IN ('queued', 'landing') OR m.followup_pending ORDER BY m.rig",
                &[],
            )
            .db()?
            .iter()
            .map(|r| r.try_get(0).db())
            .collect()
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
                    "UPDATE merge_requests SET status = $2, landing_commit = $3, target_from = $4,
                        batch = $5, attempts = $6, updated_at = $7 WHERE id = $1",
                    &[
                        &l.id,
                        &e.mr.status.as_str(),
                        &e.landing_commit,
                        &e.target_from,
                        &e.batch,
                        &e.attempts,
                        &e.mr.updated_at,
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
                    "UPDATE merge_requests SET status = $2, merged_commit = $3,
                        followup_pending = $4, failure = $5, updated_at = $6 WHERE id = $1",
                    &[
                        &l.id,
                        &e.mr.status.as_str(),
                        &e.merged_commit,
                        &e.followup_pending,
                        &e.failure,
                        &e.mr.updated_at,
                    ],
                )
                .db()?;
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
            let files_json =
                serde_json::to_string(&e.conflict_files).unwrap_or_else(|_| "[]".into());
            tx.execute(
                "UPDATE merge_requests SET status = $2, failure = $3, conflict_files = $4,
                    followup_pending = $5, landing_commit = $6, target_from = $7, updated_at = $8
                 WHERE id = $1",
                &[
                    &id,
                    &e.mr.status.as_str(),
                    &e.failure,
                    &files_json,
                    &e.followup_pending,
                    &e.landing_commit,
                    &e.target_from,
                    &e.mr.updated_at,
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
                "UPDATE merge_requests SET status = $2, landing_commit = $3, target_from = $4,
                    followup_pending = $5, updated_at = $6 WHERE id = $1",
                &[
                    &id,
                    &e.mr.status.as_str(),
                    &e.landing_commit,
                    &e.target_from,
                    &e.followup_pending,
                    &e.mr.updated_at,
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
                "UPDATE merge_requests SET status = $2, updated_at = $3, followup_pending = $4
                 WHERE id = $1",
                &[
                    &id,
                    &e.mr.status.as_str(),
                    &e.mr.updated_at,
                    &e.followup_pending,
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
                "UPDATE merge_requests SET followup_pending = FALSE WHERE id = $1",
                &[&id],
            )
            .db()?;
            Ok(())
        })
    }

    fn next_batch(&self) -> Result<i64> {
        let n: Option<i64> = self
            .client()
            .query_one("SELECT max(batch) FROM merge_requests", &[])
            .db()?
            .try_get(0)
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
        let prefix = self.default_prefix();
        self.write(|tx| {
            let mut c = fetch_convoy(tx, convoy)?;
            let added = add_beads(tx, prefix, c.id, beads, &now)?;
            let Some(ev) = rules::add_to_convoy(&mut c, &added, &now) else {
                return Ok(c);
            };
            tx.execute(
                "UPDATE convoys SET updated_at = $2, status = $3, landed_at = $4 WHERE id = $1",
                &[&c.id, &c.updated_at, &c.status.as_str(), &c.landed_at],
            )
            .db()?;
            insert_event(tx, &now, actor, &ev)?;
            // Beads added already closed may complete it at once.
            land_convoys(tx, Some(&added), &now, actor)?;
            fetch_convoy(tx, &c.id.to_string())
        })
    }

    fn get_convoy(&self, convoy: &str) -> Result<Convoy> {
        fetch_convoy(&mut *self.client(), convoy)
    }

    fn list_convoys(&self) -> Result<Vec<Convoy>> {
        let mut c = self.client();
        let rows = c
            .query(
                &format!("SELECT {CONVOY_COLS} FROM convoys ORDER BY id"),
                &[],
            )
            .db()?;
        rows.iter().map(|r| convoy_row(&mut *c, r)).collect()
    }

    fn refresh_convoys(&self, actor: &str) -> Result<Vec<Convoy>> {
        // Cheap read first: most calls find nothing to do and write nothing.
        let due: i64 = self
            .client()
            .query_one(
                "SELECT count(*) FROM convoys c WHERE c.status = 'open'
                   AND EXISTS (SELECT 1 FROM convoy_beads cb WHERE cb.convoy_id = c.id)
                   AND NOT EXISTS (SELECT 1 FROM convoy_beads cb JOIN beads b ON b.id = cb.bead_id
                                   WHERE cb.convoy_id = c.id AND b.status != 'closed')",
                &[],
            )
            .db()?
            .try_get(0)
            .db()?;
        if due == 0 {
            return Ok(Vec::new());
        }
        let now = self.now();
        self.write(|tx| land_convoys(tx, None, &now, actor))
    }
}

impl PgStore {
    /// [`MergeStore::create_convoy`]'s writes inside an open transaction
    /// (also the convoy of a molecule).
    fn create_convoy_in(
        &self,
        tx: &mut Transaction<'_>,
        name: &str,
        beads: &[String],
        actor: &str,
    ) -> Result<Convoy> {
        let now = self.now();
        let prefix = self.default_prefix();
        let exists = tx
            .query_opt("SELECT 1 FROM convoys WHERE name = $1", &[&name])
            .db()?
            .is_some();
        rules::check_new_convoy(name, exists)?;
        let id: i64 = tx
            .query_one(
                "INSERT INTO convoys (name, status, created_by, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $4) RETURNING id",
                &[&name, &rules::NEW_CONVOY_STATUS.as_str(), &actor, &now],
            )
            .db()?
            .try_get(0)
            .db()?;
        let added = add_beads(tx, prefix, id, beads, &now)?;
        insert_event(tx, &now, actor, &rules::convoy_created(id, name, &added))?;
        fetch_convoy(tx, &id.to_string())
    }
}

/// [`MergeStore::create_molecule`]'s writes in one transaction.
struct Writes<'a, 'b> {
    store: &'a PgStore,
    tx: &'a mut Transaction<'b>,
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
