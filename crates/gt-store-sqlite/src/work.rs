//! [`RigStore`] and [`WorkStore`] for SQLite: rigs, polecats, sessions and
//! merge requests. Each method is one transaction with its events.

use rusqlite::{params, OptionalExtension, Row, Transaction};

use super::beads::{fetch_bead, resolve_id, write_bead_row};
use super::DbResult;
use super::{insert_event, SqliteStore};
use gt_core::bead::Bead;
use gt_core::error::{Error, Result};
use gt_core::merge::MergeRequest;
use gt_core::polecat::{Polecat, PolecatState};
use gt_core::rig::Rig;
use gt_core::rules::work::{self as rules, PolecatChange};
use gt_core::session::{end_reason, Session};
use gt_store::{
    DoneOutcome, DoneRequest, HookRequest, RigStore, SessionFilter, SlingUndo, WorkStore,
};

pub(super) const SESSION_COLS: &str =
    "id, rig, polecat, bead, tmux_session, runtime, branch, base_commit,
    started_at, running_at, ended_at, end_reason, head_commit, host";
pub(super) const MR_COLS: &str =
    "id, rig, bead, polecat, branch, base_commit, head_commit, status, note,
    created_at, updated_at";

fn rig_from_row(r: &Row<'_>) -> rusqlite::Result<Rig> {
    Ok(Rig {
        name: r.get(0)?,
        source: r.get(1)?,
        branch: r.get(2)?,
        prefix: r.get(3)?,
        agent: r.get(4)?,
        created_at: r.get(5)?,
    })
}

fn polecat_from_row(r: &Row<'_>) -> rusqlite::Result<Polecat> {
    let state: String = r.get(2)?;
    Ok(Polecat {
        rig: r.get(0)?,
        name: r.get(1)?,
        state: state.parse().unwrap_or(PolecatState::Dead),
        bead: r.get(3)?,
        branch: r.get(4)?,
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
    })
}

pub(super) fn session_from_row(r: &Row<'_>) -> rusqlite::Result<Session> {
    Ok(Session {
        id: r.get(0)?,
        rig: r.get(1)?,
        polecat: r.get(2)?,
        bead: r.get(3)?,
        tmux_session: r.get(4)?,
        runtime: r.get(5)?,
        branch: r.get(6)?,
        base_commit: r.get(7)?,
        started_at: r.get(8)?,
        running_at: r.get(9)?,
        ended_at: r.get(10)?,
        end_reason: r.get(11)?,
        head_commit: r.get(12)?,
        host: r.get(13)?,
    })
}

pub(super) fn mr_from_row(r: &Row<'_>) -> rusqlite::Result<MergeRequest> {
    Ok(MergeRequest {
        id: r.get(0)?,
        rig: r.get(1)?,
        bead: r.get(2)?,
        polecat: r.get(3)?,
        branch: r.get(4)?,
        base_commit: r.get(5)?,
        head_commit: r.get(6)?,
        status: crate::parsed(r, 7, "merge status")?,
        note: r.get(8)?,
        created_at: r.get(9)?,
        updated_at: r.get(10)?,
    })
}

fn fetch_rig(tx: &rusqlite::Connection, name: &str) -> Result<Rig> {
    tx.prepare_cached(
        "SELECT name, source, branch, prefix, agent, created_at FROM rigs WHERE name = ?1",
    )
    .db()?
    .query_row([name], rig_from_row)
    .optional()
    .db()?
    .ok_or_else(|| Error::not_found("rig", name))
}

pub(super) fn fetch_polecat(tx: &rusqlite::Connection, rig: &str, name: &str) -> Result<Polecat> {
    tx.prepare_cached(
        "SELECT rig, name, state, bead, branch, created_at, updated_at FROM polecats
         WHERE rig = ?1 AND name = ?2",
    )
    .db()?
    .query_row([rig, name], polecat_from_row)
    .optional()
    .db()?
    .ok_or_else(|| Error::not_found("polecat", format!("{rig}/{name}")))
}

pub(super) fn fetch_session(tx: &rusqlite::Connection, id: i64) -> Result<Session> {
    tx.prepare_cached(&format!(
        "SELECT {SESSION_COLS} FROM sessions WHERE id = ?1"
    ))
    .db()?
    .query_row([id], session_from_row)
    .optional()
    .db()?
    .ok_or_else(|| Error::not_found("session", id.to_string()))
}

fn open_session_of_bead(tx: &rusqlite::Connection, bead: &str) -> Result<Option<Session>> {
    tx.prepare_cached(&format!(
        "SELECT {SESSION_COLS} FROM sessions WHERE bead = ?1 AND ended_at IS NULL
             ORDER BY id DESC LIMIT 1"
    ))
    .db()?
    .query_row([bead], session_from_row)
    .optional()
    .db()
}

fn open_session_of_polecat(
    tx: &rusqlite::Connection,
    rig: &str,
    polecat: &str,
) -> Result<Option<Session>> {
    tx.prepare_cached(&format!(
        "SELECT {SESSION_COLS} FROM sessions WHERE rig = ?1 AND polecat = ?2
             AND ended_at IS NULL ORDER BY id DESC LIMIT 1"
    ))
    .db()?
    .query_row([rig, polecat], session_from_row)
    .optional()
    .db()
}

fn set_polecat(tx: &Transaction<'_>, c: &PolecatChange, now: &str) -> Result<()> {
    tx.execute(
        "UPDATE polecats SET state = ?3, bead = ?4, branch = coalesce(?5, branch), updated_at = ?6
         WHERE rig = ?1 AND name = ?2",
        params![c.rig, c.name, c.state.as_str(), c.bead, c.branch, now],
    )
    .db()?;
    Ok(())
}

fn close_session(
    tx: &Transaction<'_>,
    s: &Session,
    reason: &str,
    head: Option<&str>,
    now: &str,
    actor: &str,
) -> Result<()> {
    tx.execute(
        "UPDATE sessions SET ended_at = ?2, end_reason = ?3, head_commit = coalesce(?4, head_commit)
         WHERE id = ?1 AND ended_at IS NULL",
        params![s.id, now, reason, head],
    ).db()?;
    insert_event(tx, now, actor, &rules::session_ended(s, reason))?;
    Ok(())
}

fn add_note(tx: &Transaction<'_>, bead: &str, author: &str, note: &str, now: &str) -> Result<()> {
    tx.execute(
        "INSERT INTO comments (bead_id, author, text, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![bead, author, note, now],
    )
    .db()?;
    Ok(())
}

/// Gives `bead` (the bead of session `s`) back: ends the session when it is
/// open, returns the bead to `open` ([`reopen_for_others`]), adds `note`, and
/// records `bead.released`.
fn release_bead(
    tx: &Transaction<'_>,
    s: &Session,
    bead: &str,
    reason: &str,
    note: Option<&str>,
    now: &str,
    actor: &str,
) -> Result<()> {
    if s.is_open() {
        close_session(tx, s, reason, None, now, actor)?;
    }
    let mut b = fetch_bead(tx, bead)?;
    reopen_for_others(tx, &mut b, now)?;
    if let Some(n) = note {
        add_note(tx, bead, actor, n, now)?;
    }
    insert_event(tx, now, actor, &rules::bead_released(s, bead, reason, note))?;
    Ok(())
}

/// [`WorkStore::release`] inside an open transaction: the session ended
/// with `reason`, its polecat freed, its bead given back; returns the
/// session as it was read.
fn release_session(
    tx: &Transaction<'_>,
    session: i64,
    reason: &str,
    note: Option<&str>,
    now: &str,
    actor: &str,
) -> Result<Session> {
    let s = fetch_session(tx, session)?;
    let p = fetch_polecat(tx, &s.rig, &s.polecat)?;
    if let Some(c) = rules::free_polecat(&p, &s.bead) {
        set_polecat(tx, &c, now)?;
    }
    release_bead(tx, &s, &s.bead, reason, note, now, actor)?;
    Ok(s)
}

/// Gives the bead back ([`rules::reopen_for_others`]) and writes it.
fn reopen_for_others(tx: &Transaction<'_>, bead: &mut Bead, now: &str) -> Result<()> {
    rules::reopen_for_others(bead, now);
    write_bead_row(tx, bead)
}

impl RigStore for SqliteStore {
    fn add_rig(&self, rig: &Rig, actor: &str) -> Result<()> {
        let now = self.now();
        self.write(|tx| {
            let exists = fetch_rig(tx, &rig.name).is_ok();
            let taken: bool = tx
                .prepare_cached("SELECT 1 FROM rigs WHERE prefix = ?1")
                .db()?
                .exists([&rig.prefix])
                .db()?;
            let ev = rules::add_rig(rig, exists, taken, self.default_prefix())?;
            tx.execute(
                "INSERT INTO rigs (name, source, branch, prefix, agent, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![rig.name, rig.source, rig.branch, rig.prefix, rig.agent, now],
            )
            .db()?;
            insert_event(tx, &now, actor, &ev)?;
            Ok(())
        })
    }

    fn get_rig(&self, name: &str) -> Result<Rig> {
        fetch_rig(self.conn(), name)
    }

    fn list_rigs(&self) -> Result<Vec<Rig>> {
        let mut stmt = self
            .conn()
            .prepare_cached(
                "SELECT name, source, branch, prefix, agent, created_at FROM rigs ORDER BY name",
            )
            .db()?;
        let rows = stmt.query_map([], rig_from_row).db()?;
        rows.collect::<rusqlite::Result<_>>().db()
    }

    fn remove_rig(&self, name: &str, actor: &str) -> Result<()> {
        let now = self.now();
        self.write(|tx| {
            fetch_rig(tx, name)?;
            // Open sessions of the rig end with it.
            let open: Vec<Session> = tx
                .prepare_cached(&format!(
                    "SELECT {SESSION_COLS} FROM sessions WHERE rig = ?1 AND ended_at IS NULL"
                ))
                .db()?
                .query_map([name], session_from_row)
                .db()?
                .collect::<rusqlite::Result<_>>()
                .db()?;
            for s in &open {
                close_session(tx, s, end_reason::RIG_REMOVED, None, &now, actor)?;
                if let Ok(mut b) = fetch_bead(tx, &s.bead) {
                    reopen_for_others(tx, &mut b, &now)?;
                }
            }
            tx.execute("DELETE FROM rigs WHERE name = ?1", [name])
                .db()?;
            insert_event(tx, &now, actor, &rules::rig_removed(name))?;
            Ok(())
        })
    }

    fn add_polecat(&self, rig: &str, name: &str, actor: &str) -> Result<Polecat> {
        gt_core::polecat::validate_name("polecat", name)?;
        let now = self.now();
        self.write(|tx| {
            fetch_rig(tx, rig)?;
            let exists = fetch_polecat(tx, rig, name).is_ok();
            let (state, ev) = rules::add_polecat(rig, name, exists)?;
            tx.execute(
                "INSERT INTO polecats (rig, name, state, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?4)",
                params![rig, name, state.as_str(), now],
            )
            .db()?;
            insert_event(tx, &now, actor, &ev)?;
            fetch_polecat(tx, rig, name)
        })
    }

    fn get_polecat(&self, rig: &str, name: &str) -> Result<Polecat> {
        fetch_polecat(self.conn(), rig, name)
    }

    fn set_polecat_state(
        &self,
        rig: &str,
        name: &str,
        state: PolecatState,
        actor: &str,
    ) -> Result<()> {
        self.set_polecat_state_tx(rig, name, state, actor)
    }

    fn set_rig_agent(&self, rig: &str, agent: Option<&str>, actor: &str) -> Result<()> {
        let now = self.now();
        self.write(|tx| {
            let mut r = fetch_rig(tx, rig)?;
            let ev = rules::set_rig_agent(&mut r, agent);
            tx.execute(
                "UPDATE rigs SET agent = ?2 WHERE name = ?1",
                params![rig, r.agent],
            )
            .db()?;
            insert_event(tx, &now, actor, &ev)?;
            Ok(())
        })
    }

    fn list_polecats(&self, rig: Option<&str>) -> Result<Vec<Polecat>> {
        let mut stmt = self
            .conn()
            .prepare_cached(
                "SELECT rig, name, state, bead, branch, created_at, updated_at FROM polecats
             WHERE ?1 IS NULL OR rig = ?1 ORDER BY rig, created_at, name",
            )
            .db()?;
        let rows = stmt.query_map([rig], polecat_from_row).db()?;
        rows.collect::<rusqlite::Result<_>>().db()
    }

    fn remove_polecat(&self, rig: &str, name: &str, actor: &str) -> Result<()> {
        let now = self.now();
        self.write(|tx| {
            let p = fetch_polecat(tx, rig, name)?;
            if let Some(s) = open_session_of_polecat(tx, rig, name)? {
                close_session(tx, &s, end_reason::POLECAT_REMOVED, None, &now, actor)?;
            }
            if let Some(b) = &p.bead {
                if let Ok(mut b) = fetch_bead(tx, b) {
                    reopen_for_others(tx, &mut b, &now)?;
                }
            }
            tx.execute(
                "DELETE FROM polecats WHERE rig = ?1 AND name = ?2",
                params![rig, name],
            )
            .db()?;
            insert_event(tx, &now, actor, &rules::polecat_removed(rig, name))?;
            Ok(())
        })
    }
}

impl SqliteStore {
    fn set_polecat_state_tx(
        &self,
        rig: &str,
        name: &str,
        state: PolecatState,
        actor: &str,
    ) -> Result<()> {
        let now = self.now();
        self.write(|tx| {
            let mut p = fetch_polecat(tx, rig, name)?;
            let ev = rules::set_polecat_state(&mut p, state, &now);
            tx.execute(
                "UPDATE polecats SET state = ?3, updated_at = ?4 WHERE rig = ?1 AND name = ?2",
                params![rig, name, p.state.as_str(), p.updated_at],
            )
            .db()?;
            insert_event(tx, &now, actor, &ev)?;
            Ok(())
        })
    }
}

impl WorkStore for SqliteStore {
    fn hook(&self, req: &HookRequest<'_>, actor: &str) -> Result<Session> {
        let now = self.now();
        self.write(|tx| {
            let id = resolve_id(tx, self.default_prefix(), req.bead)?;
            let mut bead = fetch_bead(tx, &id)?;
            let open = open_session_of_bead(tx, &id)?;
            if let Some(old) = rules::hook_takeover(&bead, open.as_ref(), req)? {
                close_session(tx, &old.session, old.reason, None, &now, actor)?;
                if let Some(c) = &old.polecat {
                    set_polecat(tx, c, &now)?;
                }
            }
            let polecat = fetch_polecat(tx, req.rig, req.polecat)?;
            let busy = open_session_of_polecat(tx, req.rig, req.polecat)?;
            let plan = rules::hook(&mut bead, &polecat, busy.as_ref(), req, &now)?;
            write_bead_row(tx, &bead)?;
            set_polecat(tx, &plan.polecat, &now)?;
            tx.execute(
                "INSERT INTO sessions (rig, polecat, bead, tmux_session, runtime, branch, base_commit,
                                       started_at, host)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    req.rig,
                    req.polecat,
                    id,
                    req.tmux_session,
                    req.runtime,
                    req.branch,
                    req.base_commit,
                    now,
                    req.host
                ],
            ).db()?;
            let sid = tx.last_insert_rowid();
            insert_event(
                tx,
                &now,
                actor,
                &rules::sling_event(&bead, &plan.agent, req, sid),
            )?;
            fetch_session(tx, sid)
        })
    }

    fn mark_running(&self, session: i64, actor: &str) -> Result<()> {
        let now = self.now();
        self.write(|tx| {
            let s = fetch_session(tx, session)?;
            tx.execute(
                "UPDATE sessions SET running_at = ?2 WHERE id = ?1",
                params![session, now],
            )
            .db()?;
            let mut bead = fetch_bead(tx, &s.bead)?;
            let (changed, ev) = rules::mark_running(&s, &mut bead, &now);
            if changed {
                write_bead_row(tx, &bead)?;
            }
            insert_event(tx, &now, actor, &ev)?;
            Ok(())
        })
    }

    fn release(&self, session: i64, reason: &str, note: Option<&str>, actor: &str) -> Result<()> {
        let now = self.now();
        self.write(|tx| release_session(tx, session, reason, note, &now, actor).map(drop))
    }

    fn release_and_queue(
        &self,
        session: i64,
        reason: &str,
        note: Option<&str>,
        queue: &gt_core::bead::BeadPatch,
        actor: &str,
    ) -> Result<bool> {
        let now = self.now();
        self.write(|tx| {
            let s = release_session(tx, session, reason, note, &now, actor)?;
            let mut b = fetch_bead(tx, &s.bead)?;
            let Some(ev) = rules::requeue(&mut b, queue, &now)? else {
                return Ok(false);
            };
            write_bead_row(tx, &b)?;
            insert_event(tx, &now, actor, &ev.bead(&s.bead))?;
            Ok(true)
        })
    }

    fn discard_sling(&self, undo: &SlingUndo<'_>, actor: &str) -> Result<()> {
        let now = self.now();
        self.write(|tx| {
            let id = resolve_id(tx, self.default_prefix(), undo.bead)?;
            let session = match undo.session {
                Some(sid) => Some(fetch_session(tx, sid)?),
                None => None,
            };
            let holder = session.as_ref().map(|s| (s.rig.clone(), s.polecat.clone()));
            if undo.drop_bead {
                for sql in [
                    "DELETE FROM sessions WHERE bead = ?1",
                    "DELETE FROM comments WHERE bead_id = ?1",
                    "DELETE FROM labels WHERE bead_id = ?1",
                    "DELETE FROM deps WHERE bead_id = ?1 OR depends_on = ?1",
                    "DELETE FROM beads WHERE id = ?1",
                ] {
                    tx.execute(sql, [&id]).db()?;
                }
            } else if let Some(s) = &session {
                release_bead(
                    tx,
                    s,
                    &id,
                    end_reason::FAILED_TO_START,
                    Some(undo.note),
                    &now,
                    actor,
                )?;
            }
            let mut polecat_removed = false;
            if let Some((rig, name)) = undo.new_polecat {
                let others: i64 = tx
                    .query_row(
                        "SELECT count(*) FROM sessions WHERE rig = ?1 AND polecat = ?2",
                        params![rig, name],
                        |r| r.get(0),
                    )
                    .db()?;
                let sid = undo.session.unwrap_or(-1);
                let own: i64 = tx
                    .query_row("SELECT count(*) FROM sessions WHERE id = ?1", [sid], |r| {
                        r.get(0)
                    })
                    .db()?;
                if rules::drop_new_polecat(others, own) {
                    tx.execute(
                        "DELETE FROM polecats WHERE rig = ?1 AND name = ?2",
                        params![rig, name],
                    )
                    .db()?;
                    polecat_removed = true;
                }
            }
            if let Some((rig, name)) = holder {
                if let Ok(p) = fetch_polecat(tx, &rig, &name) {
                    if let Some(c) = rules::free_polecat(&p, &id) {
                        set_polecat(tx, &c, &now)?;
                    }
                }
            }
            let ev = rules::sling_failed(undo, &id, session.as_ref(), polecat_removed);
            insert_event(tx, &now, actor, &ev)?;
            Ok(())
        })
    }

    fn end_session(&self, session: i64, reason: &str, actor: &str) -> Result<()> {
        let now = self.now();
        self.write(|tx| {
            let s = fetch_session(tx, session)?;
            if s.is_open() {
                close_session(tx, &s, reason, None, &now, actor)?;
            }
            Ok(())
        })
    }

    fn finish(&self, req: &DoneRequest<'_>, actor: &str) -> Result<DoneOutcome> {
        let now = self.now();
        self.write(|tx| {
            let s = fetch_session(tx, req.session)?;
            rules::check_finish(&s)?;
            let mut bead = fetch_bead(tx, &s.bead)?;
            if let Some(n) = req.note {
                add_note(tx, &s.bead, actor, n, &now)?;
            }
            let plan = rules::finish(&s, &mut bead, req, &now);
            write_bead_row(tx, &bead)?;
            let mut mr = None;
            if let Some(status) = plan.merge_status {
                tx.execute(
                    "INSERT INTO merge_requests (rig, bead, polecat, branch, base_commit, head_commit,
                                                 status, note, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
                    params![
                        s.rig,
                        s.bead,
                        s.polecat,
                        s.branch,
                        s.base_commit,
                        req.head_commit,
                        status.as_str(),
                        req.note,
                        now
                    ],
                )
                .db()?;
                let id = tx.last_insert_rowid();
                let m = tx
                    .prepare_cached(&format!(
                        "SELECT {MR_COLS} FROM merge_requests WHERE id = ?1"
                    ))
                    .db()?
                    .query_row([id], mr_from_row)
                    .db()?;
                insert_event(tx, &now, actor, &rules::merge_queued(&s, req, id))?;
                mr = Some(m);
            }
            close_session(tx, &s, plan.end_reason, Some(req.head_commit), &now, actor)?;
            set_polecat(tx, &plan.polecat, &now)?;
            insert_event(tx, &now, actor, &rules::done_event(&s, req))?;
            Ok(DoneOutcome {
                bead: fetch_bead(tx, &s.bead)?,
                merge_request: mr,
            })
        })
    }

    fn get_session(&self, id: i64) -> Result<Session> {
        fetch_session(self.conn(), id)
    }

    fn list_sessions(&self, f: &SessionFilter<'_>) -> Result<Vec<Session>> {
        let mut stmt = self
            .conn()
            .prepare_cached(&format!(
                "SELECT {SESSION_COLS} FROM sessions
             WHERE (?1 = 0 OR ended_at IS NULL) AND (?2 IS NULL OR rig = ?2)
               AND (?3 IS NULL OR polecat = ?3) AND (?4 IS NULL OR bead = ?4)
               AND (?6 IS NULL OR host = ?6)
             ORDER BY id DESC LIMIT ?5"
            ))
            .db()?;
        let limit = f.limit.map(|l| l as i64).unwrap_or(-1);
        let rows = stmt
            .query_map(
                params![f.open_only as i64, f.rig, f.polecat, f.bead, limit, f.host],
                session_from_row,
            )
            .db()?;
        let mut out: Vec<Session> = rows.collect::<rusqlite::Result<_>>().db()?;
        out.reverse();
        Ok(out)
    }

    fn list_merge_requests(&self, rig: Option<&str>) -> Result<Vec<MergeRequest>> {
        let mut stmt = self
            .conn()
            .prepare_cached(&format!(
                "SELECT {MR_COLS} FROM merge_requests WHERE ?1 IS NULL OR rig = ?1 ORDER BY id"
            ))
            .db()?;
        let rows = stmt.query_map([rig], mr_from_row).db()?;
        rows.collect::<rusqlite::Result<_>>().db()
    }
}
