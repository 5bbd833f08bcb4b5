//! [`DeaconStore`] for PostgreSQL: the deacon's row, its marks, faults and
//! running gates.

use postgres::{GenericClient, Row};

use crate::{insert_event, DbResult, PgStore};
use gt_core::error::{Error, Result};
use gt_core::event::NewEvent;
use gt_core::rules::deacon as rules;
use gt_store::deacon::{DeaconMark, DeaconState, DeaconStore, Fault, GateRun, NewFault};

const FAULT_COLS: &str = "scope, subject, rig, polecat, step, error, first_at, last_at, count";

fn fault_from_row(r: &Row) -> Result<Fault> {
    Ok(Fault {
        scope: r.try_get(0).db()?,
        subject: r.try_get(1).db()?,
        rig: r.try_get(2).db()?,
        polecat: r.try_get(3).db()?,
        step: r.try_get(4).db()?,
        error: r.try_get(5).db()?,
        first_at: r.try_get(6).db()?,
        last_at: r.try_get(7).db()?,
        count: r.try_get::<_, i64>(8).db()? as u64,
    })
}

fn mark_from_row(r: &Row) -> Result<DeaconMark> {
    Ok(DeaconMark {
        key: r.try_get(0).db()?,
        first_at: r.try_get(1).db()?,
        last_at: r.try_get(2).db()?,
        count: r.try_get::<_, i64>(3).db()? as u64,
    })
}

fn fetch_mark(c: &mut impl GenericClient, key: &str) -> Result<Option<DeaconMark>> {
    c.query_opt(
        "SELECT key, first_at, last_at, count FROM deacon_marks WHERE key = $1",
        &[&key],
    )
    .db()?
    .as_ref()
    .map(mark_from_row)
    .transpose()
}

impl DeaconStore for PgStore {
    fn deacon_state(&self) -> Result<DeaconState> {
        let r = self
            .client()
            .query_one(
                "SELECT pid, started_at, heartbeat_at, last_patrol_at, patrols, actions,
                 scheduler_paused FROM deacon WHERE id = 1",
                &[],
            )
            .db()?;
        Ok(DeaconState {
            pid: r.try_get::<_, Option<i64>>(0).db()?.map(|p| p as u32),
            started_at: r.try_get(1).db()?,
            heartbeat_at: r.try_get(2).db()?,
            last_patrol_at: r.try_get(3).db()?,
            patrols: r.try_get::<_, i64>(4).db()? as u64,
            actions: r.try_get::<_, i64>(5).db()? as u64,
            scheduler_paused: r.try_get(6).db()?,
        })
    }

    fn deacon_started(&self, pid: Option<u32>) -> Result<()> {
        let now = self.now();
        self.write(|tx| {
            match pid {
                Some(p) => tx
                    .execute(
                        "UPDATE deacon SET pid = $1, started_at = $2, heartbeat_at = $2
                         WHERE id = 1",
                        &[&i64::from(p), &now],
                    )
                    .db()?,
                None => tx
                    .execute(
                        "UPDATE deacon SET pid = NULL, heartbeat_at = NULL WHERE id = 1",
                        &[],
                    )
                    .db()?,
            };
            Ok(())
        })
    }

    fn deacon_heartbeat(&self, actions: u64) -> Result<()> {
        let now = self.now();
        self.write(|tx| {
            tx.execute(
                "UPDATE deacon SET heartbeat_at = $1, last_patrol_at = $1, patrols = patrols + 1,
                 actions = actions + $2 WHERE id = 1",
                &[&now, &(actions as i64)],
            )
            .db()?;
            Ok(())
        })
    }

    fn set_scheduler_paused(&self, paused: bool, actor: &str) -> Result<()> {
        let now = self.now();
        self.write(|tx| {
            tx.execute(
                "UPDATE deacon SET scheduler_paused = $1 WHERE id = 1",
                &[&paused],
            )
            .db()?;
            insert_event(tx, &now, actor, &rules::scheduler_event(paused))?;
            Ok(())
        })
    }

    fn mark(&self, key: &str) -> Result<Option<DeaconMark>> {
        fetch_mark(&mut *self.client(), key)
    }

    fn marks(&self, prefix: &str) -> Result<Vec<DeaconMark>> {
        let rows = self
            .client()
            .query(
                "SELECT key, first_at, last_at, count FROM deacon_marks
                 WHERE key >= $1 AND key < $1 || chr(1114111) ORDER BY key",
                &[&prefix],
            )
            .db()?;
        rows.iter().map(mark_from_row).collect()
    }

    fn record_action(&self, key: &str, event: NewEvent, actor: &str) -> Result<DeaconMark> {
        let now = self.now();
        self.write(|tx| {
            tx.execute(
                "INSERT INTO deacon_marks (key, first_at, last_at, count) VALUES ($1, $2, $2, 1)
                 ON CONFLICT (key) DO UPDATE SET last_at = excluded.last_at,
                   count = deacon_marks.count + 1",
                &[&key, &now],
            )
            .db()?;
            insert_event(tx, &now, actor, &event)?;
            fetch_mark(tx, key)?.ok_or_else(|| Error::Internal("deacon mark vanished".into()))
        })
    }

    fn forget_mark(&self, key: &str) -> Result<bool> {
        self.write(|tx| {
            Ok(tx
                .execute("DELETE FROM deacon_marks WHERE key = $1", &[&key])
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
            let before: Option<String> = match tx
                .query_opt(
                    "SELECT error FROM deacon_faults WHERE subject = $1 AND step = $2",
                    &[&f.subject, &f.step],
                )
                .db()?
            {
                Some(r) => Some(r.try_get(0).db()?),
                None => None,
            };
            tx.execute(
                "INSERT INTO deacon_faults (subject, step, scope, rig, polecat, error, first_at,
                   last_at, count)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 1)
                 ON CONFLICT (subject, step) DO UPDATE SET error = excluded.error,
                   last_at = excluded.last_at, count = deacon_faults.count + 1",
                &[
                    &f.subject, &f.step, &f.scope, &f.rig, &f.polecat, &f.error, &now,
                ],
            )
            .db()?;
            let appended = rules::fault_event(before.as_deref(), f, &event);
            if let Some(ev) = appended {
                insert_event(tx, &now, actor, ev)?;
            }
            let row = tx
                .query_one(
                    &format!(
                        "SELECT {FAULT_COLS} FROM deacon_faults WHERE subject = $1 AND step = $2"
                    ),
                    &[&f.subject, &f.step],
                )
                .db()?;
            Ok((fault_from_row(&row)?, appended.is_some()))
        })
    }

    fn clear_fault(&self, subject: &str, step: &str, event: NewEvent, actor: &str) -> Result<bool> {
        let now = self.now();
        self.write(|tx| {
            let n = tx
                .execute(
                    "DELETE FROM deacon_faults WHERE subject = $1 AND step = $2",
                    &[&subject, &step],
                )
                .db()?;
            if let Some(ev) = rules::fault_cleared_event(n > 0, &event) {
                insert_event(tx, &now, actor, ev)?;
            }
            Ok(n > 0)
        })
    }

    fn faults(&self) -> Result<Vec<Fault>> {
        let rows = self
            .client()
            .query(
                &format!("SELECT {FAULT_COLS} FROM deacon_faults ORDER BY first_at, subject, step"),
                &[],
            )
            .db()?;
        rows.iter().map(fault_from_row).collect()
    }

    fn gate_started(&self, g: &GateRun) -> Result<()> {
        let ticks = g.start_ticks.map(|t| t as i64);
        self.write(|tx| {
            tx.execute(
                "INSERT INTO gate_runs (rig, pgid, start_ticks, gate, command, started_at)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (rig) DO UPDATE SET pgid = excluded.pgid,
                   start_ticks = excluded.start_ticks, gate = excluded.gate,
                   command = excluded.command, started_at = excluded.started_at",
                &[
                    &g.rig,
                    &i64::from(g.pgid),
                    &ticks,
                    &g.gate,
                    &g.command,
                    &g.started_at,
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
                "DELETE FROM gate_runs WHERE rig = $1 AND pgid = $2",
                &[&rig, &i64::from(pgid)],
            )
            .db()?;
            if let Some(ev) = &event {
                insert_event(tx, &now, actor, ev)?;
            }
            Ok(())
        })
    }

    fn gate_runs(&self) -> Result<Vec<GateRun>> {
        let rows = self
            .client()
            .query(
                "SELECT rig, pgid, start_ticks, gate, command, started_at FROM gate_runs
                 ORDER BY rig",
                &[],
            )
            .db()?;
        rows.iter()
            .map(|r| {
                Ok(GateRun {
                    rig: r.try_get(0).db()?,
                    pgid: r.try_get::<_, i64>(1).db()? as u32,
                    start_ticks: r.try_get::<_, Option<i64>>(2).db()?.map(|t| t as u64),
                    gate: r.try_get(3).db()?,
                    command: r.try_get(4).db()?,
                    started_at: r.try_get(5).db()?,
                })
            })
            .collect()
    }
}
