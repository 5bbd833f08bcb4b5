//! SQLite backend for the deacon (issue 6).

use rusqlite::{params, OptionalExtension};

use super::DbResult;
use super::{insert_event, SqliteStore};
use gt_core::error::Result;
use gt_core::event::NewEvent;
use gt_core::rules::deacon as rules;
use gt_store::deacon::{DeaconMark, DeaconState, DeaconStore, Fault, GateRun, NewFault};

const FAULT_COLS: &str = "scope, subject, rig, polecat, step, error, first_at, last_at, count";

fn fault_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Fault> {
    Ok(Fault {
        scope: r.get(0)?,
        subject: r.get(1)?,
        rig: r.get(2)?,
        polecat: r.get(3)?,
        step: r.get(4)?,
        error: r.get(5)?,
        first_at: r.get(6)?,
        last_at: r.get(7)?,
        count: r.get::<_, i64>(8)? as u64,
    })
}

fn mark_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DeaconMark> {
    Ok(DeaconMark {
        key: r.get(0)?,
        first_at: r.get(1)?,
        last_at: r.get(2)?,
        count: r.get::<_, i64>(3)? as u64,
    })
}

fn fetch_mark(conn: &rusqlite::Connection, key: &str) -> Result<Option<DeaconMark>> {
    conn.prepare_cached("SELECT key, first_at, last_at, count FROM deacon_marks WHERE key = ?1")
        .db()?
        .query_row([key], mark_from_row)
        .optional()
        .db()
}

impl DeaconStore for SqliteStore {
    fn deacon_state(&self) -> Result<DeaconState> {
        self.conn().query_row(
            "SELECT pid, started_at, heartbeat_at, last_patrol_at, patrols, actions, scheduler_paused
             FROM deacon WHERE id = 1",
            [],
            |r| {
                Ok(DeaconState {
                    pid: r.get::<_, Option<i64>>(0)?.map(|p| p as u32),
                    started_at: r.get(1)?,
                    heartbeat_at: r.get(2)?,
                    last_patrol_at: r.get(3)?,
                    patrols: r.get::<_, i64>(4)? as u64,
                    actions: r.get::<_, i64>(5)? as u64,
                    scheduler_paused: r.get::<_, i64>(6)? != 0,
                })
            },
        ).db()
    }

    fn deacon_started(&self, pid: Option<u32>) -> Result<()> {
        let now = self.now();
        self.write(|tx| {
            match pid {
                Some(p) => tx.execute(
                    "UPDATE deacon SET pid = ?1, started_at = ?2, heartbeat_at = ?2 WHERE id = 1",
                    params![p, now],
                ).db()?,
                None => tx.execute(
                    "UPDATE deacon SET pid = NULL, heartbeat_at = NULL WHERE id = 1",
                    [],
                ).db()?,
            };
            Ok(())
        })
    }

    fn deacon_heartbeat(&self, actions: u64) -> Result<()> {
        let now = self.now();
        self.write(|tx| {
            tx.execute(
                "UPDATE deacon SET heartbeat_at = ?1, last_patrol_at = ?1, patrols = patrols + 1,
                 actions = actions + ?2 WHERE id = 1",
                params![now, actions as i64],
            )
            .db()?;
            Ok(())
        })
    }

    fn set_scheduler_paused(&self, paused: bool, actor: &str) -> Result<()> {
        let now = self.now();
        self.write(|tx| {
            tx.execute(
                "UPDATE deacon SET scheduler_paused = ?1 WHERE id = 1",
                [paused as i64],
            )
            .db()?;
            insert_event(tx, &now, actor, &rules::scheduler_event(paused))?;
            Ok(())
        })
    }

    fn mark(&self, key: &str) -> Result<Option<DeaconMark>> {
        fetch_mark(self.conn(), key)
    }

    fn marks(&self, prefix: &str) -> Result<Vec<DeaconMark>> {
        let mut stmt = self
            .conn()
            .prepare_cached(
                "SELECT key, first_at, last_at, count FROM deacon_marks
             WHERE key >= ?1 AND key < ?1 || char(1114111) ORDER BY key",
            )
            .db()?;
        let rows = stmt.query_map([prefix], mark_from_row).db()?;
        rows.collect::<rusqlite::Result<_>>().db()
    }

    fn record_action(&self, key: &str, event: NewEvent, actor: &str) -> Result<DeaconMark> {
        let now = self.now();
        self.write(|tx| {
            tx.execute(
                "INSERT INTO deacon_marks (key, first_at, last_at, count) VALUES (?1, ?2, ?2, 1)
                 ON CONFLICT (key) DO UPDATE SET last_at = excluded.last_at, count = count + 1",
                params![key, now],
            )
            .db()?;
            insert_event(tx, &now, actor, &event)?;
            Ok(fetch_mark(tx, key)?.expect("just written"))
        })
    }

    fn forget_mark(&self, key: &str) -> Result<bool> {
        self.write(|tx| {
            Ok(tx
                .execute("DELETE FROM deacon_marks WHERE key = ?1", [key])
                .db()?
                > 0)
        })
    }

    fn record_fault(
        &self,
        f: &NewFault<'_>,
        event: NewEvent,
        actor: &str,
    ) -> Result<(Fault, bool)> {
        let now = self.now();
        self.write(|tx| {
            let before: Option<String> = tx
                .query_row(
                    "SELECT error FROM deacon_faults WHERE subject = ?1 AND step = ?2",
                    params![f.subject, f.step],
                    |r| r.get(0),
                )
                .optional().db()?;
            tx.execute(
                "INSERT INTO deacon_faults (subject, step, scope, rig, polecat, error, first_at, last_at, count)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, 1)
                 ON CONFLICT (subject, step) DO UPDATE SET error = excluded.error,
                   last_at = excluded.last_at, count = count + 1",
                params![f.subject, f.step, f.scope, f.rig, f.polecat, f.error, now],
            ).db()?;
            let appended = rules::fault_event(before.as_deref(), f, &event);
            if let Some(ev) = appended {
                insert_event(tx, &now, actor, ev)?;
            }
            let fault = tx.query_row(
                &format!("SELECT {FAULT_COLS} FROM deacon_faults WHERE subject = ?1 AND step = ?2"),
                params![f.subject, f.step],
                fault_from_row,
            ).db()?;
            Ok((fault, appended.is_some()))
        })
    }

    fn clear_fault(&self, subject: &str, step: &str, event: NewEvent, actor: &str) -> Result<bool> {
        let now = self.now();
        self.write(|tx| {
            let n = tx
                .execute(
                    "DELETE FROM deacon_faults WHERE subject = ?1 AND step = ?2",
                    params![subject, step],
                )
                .db()?;
            if let Some(ev) = rules::fault_cleared_event(n > 0, &event) {
                insert_event(tx, &now, actor, ev)?;
            }
            Ok(n > 0)
        })
    }

    fn faults(&self) -> Result<Vec<Fault>> {
        let mut stmt = self
            .conn()
            .prepare_cached(&format!(
                "SELECT {FAULT_COLS} FROM deacon_faults ORDER BY first_at, subject, step"
            ))
            .db()?;
        let rows = stmt.query_map([], fault_from_row).db()?;
        rows.collect::<rusqlite::Result<_>>().db()
    }

    fn gate_started(&self, g: &GateRun) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO gate_runs (rig, pgid, start_ticks, gate, command, started_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (rig) DO UPDATE SET pgid = excluded.pgid,
                   start_ticks = excluded.start_ticks, gate = excluded.gate,
                   command = excluded.command, started_at = excluded.started_at",
                params![
                    g.rig,
                    g.pgid,
                    g.start_ticks.map(|t| t as i64),
                    g.gate,
                    g.command,
                    g.started_at
                ],
            )
            .db()?;
            Ok(())
        })
    }

    fn gate_finished(
        &self,
        rig: &str,
        pgid: u32,
        event: Option<NewEvent>,
        actor: &str,
    ) -> Result<()> {
        let now = self.now();
        self.write(|tx| {
            tx.execute(
                "DELETE FROM gate_runs WHERE rig = ?1 AND pgid = ?2",
                params![rig, pgid],
            )
            .db()?;
            if let Some(ev) = &event {
                insert_event(tx, &now, actor, ev)?;
            }
            Ok(())
        })
    }

    fn gate_runs(&self) -> Result<Vec<GateRun>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT rig, pgid, start_ticks, gate, command, started_at FROM gate_runs ORDER BY rig",
        ).db()?;
        let rows = stmt
            .query_map([], |r| {
                Ok(GateRun {
                    rig: r.get(0)?,
                    pgid: r.get::<_, i64>(1)? as u32,
                    start_ticks: r.get::<_, Option<i64>>(2)?.map(|t| t as u64),
                    gate: r.get(3)?,
                    command: r.get(4)?,
                    started_at: r.get(5)?,
                })
            })
            .db()?;
        rows.collect::<rusqlite::Result<_>>().db()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use gt_core::event::EventQuery;
    use gt_host::clock::SystemClock;
    use gt_store::EventStore;

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::create(&dir.path().join("t.db"), "hq", Arc::new(SystemClock)).unwrap();
        (dir, s)
    }

    fn events(s: &SqliteStore) -> Vec<String> {
        s.events(&EventQuery::default())
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect()
    }

    #[test]
    fn deacon_store_a_fault_makes_one_event_until_its_error_changes() {
        let (_d, s) = store();
        let f = |error| NewFault {
            scope: "agent",
            subject: "r/nux",
            rig: Some("r"),
            polecat: Some("nux"),
            step: "dead_sessions",
            error,
        };
        let ev = || NewEvent::new("deacon.agent_failed", "x");
        let (a, new) = s.record_fault(&f("broken"), ev(), "deacon").unwrap();
        assert!(new);
        assert_eq!(a.count, 1);
        let (b, new) = s.record_fault(&f("broken"), ev(), "deacon").unwrap();
        assert!(!new);
        assert_eq!((b.count, b.first_at.clone()), (2, a.first_at.clone()));
        let (c, new) = s.record_fault(&f("worse"), ev(), "deacon").unwrap();
        assert!(new);
        assert_eq!(c.error, "worse");
        assert_eq!(events(&s), ["deacon.agent_failed", "deacon.agent_failed"]);
        assert_eq!(s.faults().unwrap(), vec![c]);
        let rec = || NewEvent::new("deacon.recovered", "y");
        assert!(s
            .clear_fault("r/nux", "dead_sessions", rec(), "deacon")
            .unwrap());
        assert!(!s
            .clear_fault("r/nux", "dead_sessions", rec(), "deacon")
            .unwrap());
        assert!(s.faults().unwrap().is_empty());
        assert_eq!(events(&s).len(), 3);
    }

    #[test]
    fn deacon_store_gate_runs_are_recorded_until_finished() {
        let (_d, s) = store();
        let g = GateRun {
            rig: "r".into(),
            pgid: 4242,
            start_ticks: Some(99),
            gate: "test".into(),
            command: "cargo test".into(),
            started_at: "2026-01-01T00:00:00.000000Z".into(),
        };
        s.gate_started(&g).unwrap();
        assert_eq!(s.gate_runs().unwrap(), vec![g.clone()]);
        // Another group's end does not forget this one.
        s.gate_finished("r", 1, None, "deacon").unwrap();
        assert_eq!(s.gate_runs().unwrap().len(), 1);
        s.gate_finished(
            "r",
            4242,
            Some(NewEvent::new("merge.gate_killed", "k")),
            "deacon",
        )
        .unwrap();
        assert!(s.gate_runs().unwrap().is_empty());
        assert_eq!(events(&s), ["merge.gate_killed"]);
    }
}
