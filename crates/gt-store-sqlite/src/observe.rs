//! SQLite backend for issue 5: agent screen observations and the cheap reads
//! that following the event log needs.

use rusqlite::{params, OptionalExtension};

use super::DbResult;
use super::{event_from_row, SqliteStore, EVENT_COLS};
use gt_core::error::Result;
use gt_core::event::Event;
use gt_store::observe::{
    HookState, ObserveStore, ScreenObservation, ScreenSample, StoredScreen, TownExtras,
};

const COLS: &str =
    "agent, session_id, screen_hash, first_observed_at, screen_changed_at, observed_at, screen_kind";

fn obs_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ScreenObservation> {
    Ok(ScreenObservation {
        agent: r.get(0)?,
        session_id: r.get(1)?,
        screen_hash: r.get(2)?,
        first_observed_at: r.get(3)?,
        screen_changed_at: r.get(4)?,
        observed_at: r.get(5)?,
        screen_kind: r.get(6)?,
    })
}

impl SqliteStore {
    fn table_exists(&self, name: &str) -> Result<bool> {
        self.conn()
            .prepare_cached("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1")
            .db()?
            .exists([name])
            .db()
    }

    fn columns_of(&self, table: &str) -> Result<Vec<String>> {
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT name FROM pragma_table_info(?1)")
            .db()?;
        let cols = stmt
            .query_map([table], |r| r.get(0))
            .db()?
            .collect::<rusqlite::Result<Vec<String>>>()
            .db()?;
        Ok(cols)
    }

    fn count_if(&self, sql: &str) -> Result<u64> {
        let n: i64 = self.conn().query_row(sql, [], |r| r.get(0)).db()?;
        Ok(n.max(0) as u64)
    }
}

/// Each database file's modification time and length, when it exists.
pub(crate) type ChangeStamp = Vec<Option<(std::time::SystemTime, u64)>>;

impl SqliteStore {
    /// What changes when any connection commits: the database file's and
    /// its write-ahead log's modification time and length.
    fn change_stamp(&self) -> ChangeStamp {
        let wal = {
            let mut p = self.path().as_os_str().to_owned();
            p.push("-wal");
            std::path::PathBuf::from(p)
        };
        [self.path().to_path_buf(), wal]
            .iter()
            .map(|p| {
                std::fs::metadata(p)
                    .ok()
                    .and_then(|m| Some((m.modified().ok()?, m.len())))
            })
            .collect()
    }
}

impl ObserveStore for SqliteStore {
    /// Sleeps `timeout`, then says whether the database files changed since
    /// the last call (the first call: `true`) — a `stat` of two files instead
    /// of a query, so a quiet town costs no reads. Two commits inside one
    /// tick of the file system's clock that leave the log the same length
    /// can go unseen: callers read anyway every few seconds.
    fn wait_for_events(&self, timeout: std::time::Duration) -> Result<bool> {
        std::thread::sleep(timeout);
        let now = self.change_stamp();
        let mut last = self.last_change.lock().unwrap_or_else(|p| p.into_inner());
        let changed = last.as_ref() != Some(&now);
        *last = Some(now);
        Ok(changed)
    }

    fn record_screens(&self, samples: &[ScreenSample<'_>]) -> Result<Vec<ScreenObservation>> {
        if samples.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.now();
        self.write(|tx| {
            let mut out = Vec::with_capacity(samples.len());
            for s in samples {
                let prev = tx
                    .prepare_cached(&format!(
                        "SELECT {COLS} FROM agent_activity WHERE agent = ?1"
                    )).db()?
                    .query_row([s.agent], obs_from_row)
                    .optional().db()?;
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
                tx.prepare_cached(&format!(
                    "INSERT OR REPLACE INTO agent_activity ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                )).db()?
                .execute(params![
                    obs.agent,
                    obs.session_id,
                    obs.screen_hash,
                    obs.first_observed_at,
                    obs.screen_changed_at,
                    obs.observed_at,
                    obs.screen_kind
                ]).db()?;
                if let (Some(text), Some(session)) = (s.screen_text, s.session_id) {
                    tx.prepare_cached(
                        "INSERT OR REPLACE INTO agent_screens (agent, session_id, screen, captured_at) \
                         VALUES (?1, ?2, ?3, ?4)",
                    )
                    .db()?
                    .execute(params![s.agent, session, text, now])
                    .db()?;
                }
                out.push(obs);
            }
            Ok(out)
        })
    }

    fn stored_screen(&self, agent: &str) -> Result<Option<StoredScreen>> {
        self.conn()
            .prepare_cached(
                "SELECT agent, session_id, screen, captured_at FROM agent_screens WHERE agent = ?1",
            )
            .db()?
            .query_row([agent], |r| {
                Ok(StoredScreen {
                    agent: r.get(0)?,
                    session_id: r.get(1)?,
                    screen: r.get(2)?,
                    captured_at: r.get(3)?,
                })
            })
            .optional()
            .db()
    }

    fn screen_observations(&self) -> Result<Vec<ScreenObservation>> {
        let mut stmt = self
            .conn()
            .prepare_cached(&format!("SELECT {COLS} FROM agent_activity ORDER BY agent"))
            .db()?;
        let rows = stmt
            .query_map([], obs_from_row)
            .db()?
            .collect::<rusqlite::Result<Vec<_>>>()
            .db()?;
        Ok(rows)
    }

    fn last_event_time_by(&self, actor: &str) -> Result<Option<String>> {
        self.conn()
            .prepare_cached("SELECT time FROM events WHERE actor = ?1 ORDER BY id DESC LIMIT 1")
            .db()?
            .query_row([actor], |r| r.get(0))
            .optional()
            .db()
    }

    fn events_after(&self, after_id: i64, limit: usize) -> Result<Vec<Event>> {
        let mut stmt = self
            .conn()
            .prepare_cached(&format!(
                "SELECT {EVENT_COLS} FROM events WHERE id > ?1 ORDER BY id LIMIT ?2"
            ))
            .db()?;
        let rows = stmt
            .query_map(
                params![after_id, i64::try_from(limit).unwrap_or(i64::MAX)],
                event_from_row,
            )
            .db()?
            .collect::<rusqlite::Result<Vec<_>>>()
            .db()?;
        Ok(rows)
    }

    fn event_cursor(&self) -> Result<i64> {
        self.conn()
            .prepare_cached("SELECT coalesce(max(id), 0) FROM events")
            .db()?
            .query_row([], |r| r.get(0))
            .db()
    }

    fn first_event_id_since(&self, time: &str) -> Result<Option<i64>> {
        self.conn()
            .prepare_cached("SELECT min(id) FROM events WHERE time >= ?1")
            .db()?
            .query_row([time], |r| r.get(0))
            .db()
    }

    fn hook_states(&self) -> Result<Vec<HookState>> {
        if !self.table_exists("agent_state")? {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT agent, state, updated_at FROM agent_state")
            .db()?;
        let rows = stmt
            .query_map([], |r| {
                Ok(HookState {
                    agent: r.get(0)?,
                    state: r.get(1)?,
                    updated_at: r.get(2)?,
                })
            })
            .db()?
            .collect::<rusqlite::Result<Vec<_>>>()
            .db()?;
        Ok(rows)
    }

    fn merge_queue_lengths(&self) -> Result<Vec<(String, u64)>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT rig, count(*) FROM merge_requests WHERE status IN ('queued', 'landing') GROUP BY rig ORDER BY rig",
        ).db()?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .db()?
            .map(|r| r.map(|(rig, n)| (rig, n.max(0) as u64)))
            .collect::<rusqlite::Result<Vec<_>>>()
            .db()?;
        Ok(rows)
    }

    fn town_extras(&self) -> Result<TownExtras> {
        // Other features own these tables; read them only when they exist
        // with the columns this query needs, never guess a value.
        let mut extras = TownExtras::default();
        let has = |t: &str, cols: &[&str]| -> Result<bool> {
            if !self.table_exists(t)? {
                return Ok(false);
            }
            let have = self.columns_of(t)?;
            Ok(cols.iter().all(|c| have.iter().any(|h| h == c)))
        };
        if has("mailbox", &["owner", "state"])? {
            extras.unread_mail_for_human = Some(self.count_if(
                "SELECT count(*) FROM mailbox WHERE owner = 'human' AND state = 'unread'",
            )?);
        }
        if has("escalations", &["acked_at"])? {
            extras.open_escalations =
                Some(self.count_if("SELECT count(*) FROM escalations WHERE acked_at IS NULL")?);
        }
        if has("convoys", &["status"])? {
            extras.open_convoys =
                Some(self.count_if("SELECT count(*) FROM convoys WHERE status = 'open'")?);
        }
        Ok(extras)
    }
}
