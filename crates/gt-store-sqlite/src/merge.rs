//! SQLite backend for issue 7: merge queue (refinery) and convoys.

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};
use serde_json::{json, Map, Value};

use super::beads::{fetch_bead, resolve_id, write_bead_row};
use super::DbResult;
use super::{insert_event, SqliteStore};
use crate::{merge_kind as kind, mr_status};
use gt_core::bead::Status;
use gt_core::error::{Error, Result};
use gt_core::event::NewEvent;
use gt_store::merge::{validate_convoy_name, Convoy, FailureKind, Landing, MergeEntry, MergeStore};

const ENTRY_COLS: &str = "id, rig, bead, polecat, branch, base_commit, head_commit, status, note,
    created_at, updated_at, attempts, target_from, landing_commit, merged_commit, batch, failure,
    conflict_files, followup_pending";

/// Longest failure text kept (the tail of gate output).
const MAX_FAILURE_BYTES: usize = 16 * 1024;

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

fn set_status(tx: &Transaction<'_>, id: i64, status: &str, now: &str) -> Result<()> {
    tx.execute(
        "UPDATE merge_requests SET status = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, status, now],
    )
    .db()?;
    Ok(())
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

/// The tail of `text` that fits in `max` bytes, cut on a char boundary.
pub(crate) fn tail_bytes(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
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
        status: r.get(2)?,
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
        let c = fetch_convoy(tx, &id.to_string())?;
        if c.total == 0 || c.closed < c.total {
            continue;
        }
        tx.execute(
            "UPDATE convoys SET status = 'landed', landed_at = ?2, updated_at = ?2 WHERE id = ?1",
            params![id, now],
        )
        .db()?;
        insert_event(
            tx,
            now,
            actor,
            &NewEvent::new(
                kind::CONVOY_LANDED,
                format!(
                    "convoy {} ({}) landed: {} bead(s) closed",
                    c.id, c.name, c.total
                ),
            )
            .payload(json!({ "convoy": c.id, "name": c.name, "beads": c.beads })),
        )?;
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
            match &value {
                Some(v) => {
                    map.insert(key.to_string(), v.clone());
                }
                None => {
                    map.remove(key);
                }
            }
            tx.execute(
                "UPDATE rigs SET config = ?2 WHERE name = ?1",
                params![rig, Value::Object(map.clone()).to_string()],
            )
            .db()?;
            let summary = match &value {
                Some(v) => format!("rig {rig}: {key} = {v}"),
                None => format!("rig {rig}: {key} unset"),
            };
            insert_event(
                tx,
                &now,
                actor,
                &NewEvent::new(kind::RIG_CONFIG_SET, summary)
                    .rig(rig)
                    .payload(json!({ "key": key, "value": value })),
            )?;
            Ok(map)
        })
    }

    fn merge_entry(&self, id: i64) -> Result<MergeEntry> {
        fetch_entry(self.conn(), id)
    }

    fn merge_entries(&self, rig: Option<&str>, statuses: &[&str]) -> Result<Vec<MergeEntry>> {
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
                let e = fetch_entry(tx, l.id)?;
                if e.mr.status != mr_status::QUEUED {
                    return Err(Error::refused(format!(
                        "merge request {} is {}, not queued",
                        l.id, e.mr.status
                    )));
                }
                tx.execute(
                    "UPDATE merge_requests SET status = ?2, landing_commit = ?3, target_from = ?4,
                        batch = ?5, attempts = attempts + 1, updated_at = ?6 WHERE id = ?1",
                    params![l.id, mr_status::LANDING, l.commit, target_from, batch, now],
                )
                .db()?;
                insert_event(
                    tx,
                    &now,
                    actor,
                    &NewEvent::new(
                        kind::MERGE_LANDING,
                        format!(
                            "merge request {} ({}) landing as {}",
                            l.id,
                            e.mr.bead,
                            &l.commit[..l.commit.len().min(12)]
                        ),
                    )
                    .rig(&e.mr.rig)
                    .bead(&e.mr.bead)
                    .payload(json!({
                        "merge_request": l.id, "commit": l.commit,
                        "target_from": target_from, "batch": batch,
                    })),
                )?;
            }
            Ok(())
        })
    }

    fn record_merged(&self, landed: &[Landing], actor: &str) -> Result<Vec<Convoy>> {
        let now = self.now();
        self.write(|tx| {
            let mut beads = Vec::new();
            for l in landed {
                let e = fetch_entry(tx, l.id)?;
                if e.mr.status == mr_status::MERGED {
                    continue;
                }
                tx.execute(
                    "UPDATE merge_requests SET status = ?2, merged_commit = ?3, followup_pending = 1,
                        failure = NULL, updated_at = ?4 WHERE id = ?1",
                    params![l.id, mr_status::MERGED, l.commit, now],
                ).db()?;
                let short = &l.commit[..l.commit.len().min(12)];
                let mut bead = fetch_bead(tx, &e.mr.bead)?;
                if bead.status != Status::Closed {
                    bead.set_status(Status::Closed, &now);
                    bead.close_reason = Some(format!("merged: {short}"));
                    bead.metadata
                        .insert("merged_commit".into(), json!(l.commit));
                    write_bead_row(tx, &bead)?;
                    insert_event(
                        tx,
                        &now,
                        actor,
                        &NewEvent::new(
                            gt_core::event::kind::BEAD_CLOSED,
                            format!("closed {}: merged as {short}", bead.id),
                        )
                        .rig(&e.mr.rig)
                        .bead(&bead.id)
                        .payload(json!({ "reason": bead.close_reason })),
                    )?;
                }
                insert_event(
                    tx,
                    &now,
                    actor,
                    &NewEvent::new(
                        kind::MERGE_LANDED,
                        format!(
                            "merge request {} ({}, {}) landed as {short}",
                            l.id, e.mr.bead, e.mr.branch
                        ),
                    )
                    .rig(&e.mr.rig)
                    .bead(&e.mr.bead)
                    .payload(json!({
                        "merge_request": l.id, "commit": l.commit, "branch": e.mr.branch,
                        "batch": e.batch,
                    })),
                )?;
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
        let failure = tail_bytes(failure, MAX_FAILURE_BYTES);
        let note = tail_bytes(note, gt_core::bead::MAX_COMMENT_BYTES / 2);
        self.write(|tx| {
            let e = fetch_entry(tx, id)?;
            let status = match fkind {
                FailureKind::Conflict => mr_status::CONFLICT,
                _ => mr_status::FAILED,
            };
            tx.execute(
                "UPDATE merge_requests SET status = ?2, failure = ?3, conflict_files = ?4,
                    followup_pending = 1, landing_commit = NULL, target_from = NULL, updated_at = ?5
                 WHERE id = ?1",
                params![
                    id,
                    status,
                    failure,
                    serde_json::to_string(files).unwrap_or_else(|_| "[]".into()),
                    now
                ],
            )
            .db()?;
            let mut bead = fetch_bead(tx, &e.mr.bead)?;
            if bead.status == Status::Merging {
                bead.set_status(Status::Open, &now);
                bead.assignee = None;
                write_bead_row(tx, &bead)?;
            }
            add_comment(tx, &e.mr.bead, actor, note, &now)?;
            let ev_kind = match fkind {
                FailureKind::Conflict => kind::MERGE_CONFLICT,
                _ => kind::MERGE_FAILED,
            };
            let first = failure
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            let first: String = first.chars().take(120).collect();
            insert_event(
                tx,
                &now,
                actor,
                &NewEvent::new(
                    ev_kind,
                    format!("merge request {id} ({}) {status}: {first}", e.mr.bead),
                )
                .rig(&e.mr.rig)
                .bead(&e.mr.bead)
                .payload(json!({ "merge_request": id, "files": files, "failure": failure })),
            )?;
            fetch_entry(tx, id)
        })
    }

    fn requeue(&self, id: i64, reason: &str, actor: &str) -> Result<MergeEntry> {
        let now = self.now();
        self.write(|tx| {
            let e = fetch_entry(tx, id)?;
            match e.mr.status.as_str() {
                mr_status::QUEUED => return Ok(e),
                mr_status::LANDING | mr_status::FAILED | mr_status::CONFLICT => {}
                other => {
                    return Err(Error::refused(format!(
                        "merge request {id} is {other}; only a failed, conflicting or landing request can be queued again"
                    )))
                }
            }
            let bead = fetch_bead(tx, &e.mr.bead)?;
            if e.mr.status != mr_status::LANDING
                && !matches!(bead.status, Status::Open | Status::Merging)
            {
                return Err(Error::refused(format!(
                    "{} is {} (being worked on again); it will queue a new request with gt done",
                    bead.id, bead.status
                )));
            }
            tx.execute(
                "UPDATE merge_requests SET status = ?2, landing_commit = NULL, target_from = NULL,
                    followup_pending = 0, updated_at = ?3 WHERE id = ?1",
                params![id, mr_status::QUEUED, now],
            ).db()?;
            if bead.status == Status::Open {
                let mut bead = bead;
                bead.set_status(Status::Merging, &now);
                write_bead_row(tx, &bead)?;
            }
            insert_event(
                tx,
                &now,
                actor,
                &NewEvent::new(
                    kind::MERGE_REQUEUED,
                    format!("merge request {id} ({}) queued again: {reason}", e.mr.bead),
                )
                .rig(&e.mr.rig)
                .bead(&e.mr.bead)
                .payload(json!({ "merge_request": id, "reason": reason })),
            )?;
            fetch_entry(tx, id)
        })
    }

    fn remove_merge_request(&self, id: i64, actor: &str) -> Result<MergeEntry> {
        let now = self.now();
        self.write(|tx| {
            let e = fetch_entry(tx, id)?;
            match e.mr.status.as_str() {
                mr_status::QUEUED | mr_status::FAILED | mr_status::CONFLICT => {}
                other => {
                    return Err(Error::refused(format!(
                        "merge request {id} is {other}; only a queued, failed or conflicting request can be removed"
                    )))
                }
            }
            set_status(tx, id, mr_status::REMOVED, &now)?;
            tx.execute(
                "UPDATE merge_requests SET followup_pending = 0 WHERE id = ?1",
                [id],
            ).db()?;
            let mut bead = fetch_bead(tx, &e.mr.bead)?;
            if bead.status == Status::Merging {
                bead.set_status(Status::Open, &now);
                bead.assignee = None;
                write_bead_row(tx, &bead)?;
                add_comment(
                    tx,
                    &bead.id,
                    actor,
                    &format!(
                        "merge request {id} was removed from the queue; branch {} is kept",
                        e.mr.branch
                    ),
                    &now,
                )?;
            }
            insert_event(
                tx,
                &now,
                actor,
                &NewEvent::new(
                    kind::MERGE_REMOVED,
                    format!("merge request {id} ({}) removed from the queue", e.mr.bead),
                )
                .rig(&e.mr.rig)
                .bead(&e.mr.bead)
                .payload(json!({ "merge_request": id, "branch": e.mr.branch })),
            )?;
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
        validate_convoy_name(name)?;
        let now = self.now();
        self.write(|tx| {
            let exists: bool = tx
                .prepare_cached("SELECT 1 FROM convoys WHERE name = ?1")
                .db()?
                .exists([name])
                .db()?;
            if exists {
                return Err(Error::refused(format!("convoy '{name}' already exists")));
            }
            tx.execute(
                "INSERT INTO convoys (name, status, created_by, created_at, updated_at)
                 VALUES (?1, 'open', ?2, ?3, ?3)",
                params![name, actor, now],
            )
            .db()?;
            let id = tx.last_insert_rowid();
            let added = add_beads(tx, self.default_prefix(), id, beads, &now)?;
            insert_event(
                tx,
                &now,
                actor,
                &NewEvent::new(
                    kind::CONVOY_CREATED,
                    format!("convoy {id} ({name}) created with {} bead(s)", added.len()),
                )
                .payload(json!({ "convoy": id, "name": name, "beads": added })),
            )?;
            fetch_convoy(tx, &id.to_string())
        })
    }

    fn add_to_convoy(&self, convoy: &str, beads: &[String], actor: &str) -> Result<Convoy> {
        let now = self.now();
        self.write(|tx| {
            let c = fetch_convoy(tx, convoy)?;
            let added = add_beads(tx, self.default_prefix(), c.id, beads, &now)?;
            if added.is_empty() {
                return Ok(c);
            }
            let reopen = c.status == "landed";
            tx.execute(
                "UPDATE convoys SET updated_at = ?2,
                    status = CASE WHEN ?3 THEN 'open' ELSE status END,
                    landed_at = CASE WHEN ?3 THEN NULL ELSE landed_at END
                 WHERE id = ?1",
                params![c.id, now, reopen],
            )
            .db()?;
            insert_event(
                tx,
                &now,
                actor,
                &NewEvent::new(
                    kind::CONVOY_UPDATED,
                    format!(
                        "convoy {} ({}): {} bead(s) added",
                        c.id,
                        c.name,
                        added.len()
                    ),
                )
                .payload(json!({ "convoy": c.id, "name": c.name, "added": added })),
            )?;
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
