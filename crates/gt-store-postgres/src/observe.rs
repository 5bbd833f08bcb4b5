//! [`ObserveStore`] for PostgreSQL: agent screen observations and the cheap
//! reads that following the event log needs.

use postgres::{GenericClient, Row};

use crate::{event_from_row, DbResult, PgStore, EVENT_COLS};
use gt_core::error::Result;
use gt_core::event::Event;
use gt_store::observe::{
    HookState, ObserveStore, ScreenObservation, ScreenSample, StoredScreen, TownExtras,
};

const COLS: &str =
    "agent, session_id, screen_hash, first_observed_at, screen_changed_at, observed_at, screen_kind";

fn obs_from_row(r: &Row) -> Result<ScreenObservation> {
    Ok(ScreenObservation {
        agent: r.try_get(0).db()?,
        session_id: r.try_get(1).db()?,
        screen_hash: r.try_get(2).db()?,
        first_observed_at: r.try_get(3).db()?,
        screen_changed_at: r.try_get(4).db()?,
        observed_at: r.try_get(5).db()?,
        screen_kind: r.try_get(6).db()?,
    })
}

fn table_exists(c: &mut impl GenericClient, name: &str) -> Result<bool> {
    c.query_one("SELECT to_regclass($1) IS NOT NULL", &[&name])
        .db()?
        .try_get(0)
        .db()
}

fn columns_of(c: &mut impl GenericClient, table: &str) -> Result<Vec<String>> {
    let rows = c
        .query(
            "SELECT attname::text FROM pg_attribute
             WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped",
            &[&table],
        )
        .db()?;
    rows.iter().map(|r| r.try_get(0).db()).collect()
}

/// Whether `table` exists with every one of `cols`.
fn has_columns(c: &mut impl GenericClient, table: &str, cols: &[&str]) -> Result<bool> {
    if !table_exists(c, table)? {
        return Ok(false);
    }
    let have = columns_of(c, table)?;
    Ok(cols.iter().all(|col| have.iter().any(|h| h == col)))
}

fn count_if(c: &mut impl GenericClient, sql: &str) -> Result<u64> {
    let n: i64 = c.query_one(sql, &[]).db()?.try_get(0).db()?;
    Ok(n.max(0) as u64)
}

impl ObserveStore for PgStore {
    fn record_screens(&self, samples: &[ScreenSample<'_>]) -> Result<Vec<ScreenObservation>> {
        if samples.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.now();
        self.write(|tx| {
            let mut out = Vec::with_capacity(samples.len());
            for s in samples {
                let prev = match tx
                    .query_opt(
                        &format!("SELECT {COLS} FROM agent_activity WHERE agent = $1"),
                        &[&s.agent],
                    )
                    .db()?
                {
                    Some(r) => Some(obs_from_row(&r)?),
                    None => None,
                };
                let obs = match prev {
                    Some(p) if p.session_id == s.session_id => {
                        let changed = p.screen_hash != s.screen_hash;
                        ScreenObservation {
                            screen_hash: s.screen_hash.to_string(),
                            screen_changed_at: if changed {
                                Some(now.clone())
                            } else {
                                p.screen_changed_at
                            },
                            observed_at: now.clone(),
                            screen_kind: Some(s.screen_kind.to_string()),
                            ..p
                        }
                    }
                    _ => ScreenObservation {
                        agent: s.agent.to_string(),
                        session_id: s.session_id,
                        screen_hash: s.screen_hash.to_string(),
                        first_observed_at: now.clone(),
                        screen_changed_at: None,
                        observed_at: now.clone(),
                        screen_kind: Some(s.screen_kind.to_string()),
                    },
                };
                tx.execute(
                    &format!(
                        "INSERT INTO agent_activity ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7)
                         ON CONFLICT (agent) DO UPDATE SET session_id = excluded.session_id,
                            screen_hash = excluded.screen_hash,
                            first_observed_at = excluded.first_observed_at,
                            screen_changed_at = excluded.screen_changed_at,
                            observed_at = excluded.observed_at,
                            screen_kind = excluded.screen_kind"
                    ),
                    &[
                        &obs.agent,
                        &obs.session_id,
                        &obs.screen_hash,
                        &obs.first_observed_at,
                        &obs.screen_changed_at,
                        &obs.observed_at,
                        &obs.screen_kind,
                    ],
                )
                .db()?;
                if let (Some(text), Some(session)) = (s.screen_text, s.session_id) {
                    tx.execute(
                        "INSERT INTO agent_screens (agent, session_id, screen, captured_at)
                         VALUES ($1, $2, $3, $4)
                         ON CONFLICT (agent) DO UPDATE SET session_id = excluded.session_id,
                            screen = excluded.screen, captured_at = excluded.captured_at",
                        &[&s.agent, &session, &text, &now],
                    )
                    .db()?;
                }
                out.push(obs);
            }
            Ok(out)
        })
    }

    fn wait_for_events(&self, timeout: std::time::Duration) -> Result<bool> {
        self.wait_on_listener(timeout)
    }

    fn stored_screen(&self, agent: &str) -> Result<Option<StoredScreen>> {
        let row = self
            .client()
            .query_opt(
                "SELECT agent, session_id, screen, captured_at FROM agent_screens WHERE agent = $1",
                &[&agent],
            )
            .db()?;
        Ok(row.map(|r| StoredScreen {
            agent: r.get(0),
            session_id: r.get(1),
            screen: r.get(2),
            captured_at: r.get(3),
        }))
    }

    fn screen_observations(&self) -> Result<Vec<ScreenObservation>> {
        let rows = self
            .client()
            .query(
                &format!("SELECT {COLS} FROM agent_activity ORDER BY agent"),
                &[],
            )
            .db()?;
        rows.iter().map(obs_from_row).collect()
    }

    fn last_event_time_by(&self, actor: &str) -> Result<Option<String>> {
        match self
            .client()
            .query_opt(
                "SELECT time FROM events WHERE actor = $1 ORDER BY id DESC LIMIT 1",
                &[&actor],
            )
            .db()?
        {
            Some(r) => Ok(Some(r.try_get(0).db()?)),
            None => Ok(None),
        }
    }

    fn events_after(&self, after_id: i64, limit: usize) -> Result<Vec<Event>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .client()
            .query(
                &format!("SELECT {EVENT_COLS} FROM events WHERE id > $1 ORDER BY id LIMIT $2"),
                &[&after_id, &limit],
            )
            .db()?;
        rows.iter().map(event_from_row).collect()
    }

    fn first_event_id_since(&self, time: &str) -> Result<Option<i64>> {
        self.client()
            .query_one("SELECT min(id) FROM events WHERE time >= $1", &[&time])
            .db()?
            .try_get(0)
            .db()
    }

    fn hook_states(&self) -> Result<Vec<HookState>> {
        let mut c = self.client();
        if !table_exists(&mut *c, "agent_state")? {
            return Ok(Vec::new());
        }
        let rows = c
            .query("SELECT agent, state, updated_at FROM agent_state", &[])
            .db()?;
        rows.iter()
            .map(|r| {
                Ok(HookState {
                    agent: r.try_get(0).db()?,
                    state: r.try_get(1).db()?,
                    updated_at: r.try_get(2).db()?,
                })
            })
            .collect()
    }

    fn event_cursor(&self) -> Result<i64> {
        self.client()
            .query_one("SELECT coalesce(max(id), 0) FROM events", &[])
            .db()?
            .try_get(0)
            .db()
    }

    fn merge_queue_lengths(&self) -> Result<Vec<(String, u64)>> {
        let rows = self
            .client()
            .query(
                "SELECT rig, count(*) FROM merge_requests WHERE status IN ('queued', 'landing')
                 GROUP BY rig ORDER BY rig",
                &[],
            )
            .db()?;
        rows.iter()
            .map(|r| {
                let rig: String = r.try_get(0).db()?;
                let n: i64 = r.try_get(1).db()?;
                Ok((rig, n.max(0) as u64))
            })
            .collect()
    }

    fn town_extras(&self) -> Result<TownExtras> {
        // Other features own these tables; read them only when they exist
        // with the columns this query needs, never guess a value.
        let mut extras = TownExtras::default();
        let mut c = self.client();
        if has_columns(&mut *c, "mailbox", &["owner", "state"])? {
            extras.unread_mail_for_human = Some(count_if(
                &mut *c,
                "SELECT count(*) FROM mailbox WHERE owner = 'human' AND state = 'unread'",
            )?);
        }
        if has_columns(&mut *c, "escalations", &["acked_at"])? {
            extras.open_escalations = Some(count_if(
                &mut *c,
                "SELECT count(*) FROM escalations WHERE acked_at IS NULL",
            )?);
        }
        if has_columns(&mut *c, "convoys", &["status"])? {
            extras.open_convoys = Some(count_if(
                &mut *c,
                "SELECT count(*) FROM convoys WHERE status = 'open'",
            )?);
        }
        Ok(extras)
    }
}
