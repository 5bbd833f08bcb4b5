//! [`CostStore`] for SQLite: `session_usage` (one row per session, replaced
//! by each newer running total) and `sessions.agent_session_id`.

use rusqlite::{params, OptionalExtension, Row};

use super::work::{session_from_row, SESSION_COLS};
use super::DbResult;
use super::{insert_event, SqliteStore};
use gt_core::costs::{
    validate_agent_session_id, validate_source, CostGroup, CostQuery, CostRow, CostTotals,
    SessionUsage, Usage,
};
use gt_core::error::{Error, Result};
use gt_core::rules::deacon::{self as rules, UsagePlan};
use gt_core::session::Session;
use gt_store::CostStore;

const USAGE_COLS: &str = "u.session_id, s.rig, s.polecat, s.bead, s.runtime, u.input_tokens,
    u.output_tokens, u.cache_read_tokens, u.cache_write_tokens, u.cost_micros, u.model,
    u.source, u.updated_at";

fn usage_from_row(r: &Row<'_>) -> rusqlite::Result<SessionUsage> {
    Ok(SessionUsage {
        session: r.get(0)?,
        rig: r.get(1)?,
        polecat: r.get(2)?,
        bead: r.get(3)?,
        runtime: r.get(4)?,
        usage: Usage {
            input_tokens: r.get(5)?,
            output_tokens: r.get(6)?,
            cache_read_tokens: r.get(7)?,
            cache_write_tokens: r.get(8)?,
            cost_micros: r.get(9)?,
            model: r.get(10)?,
        },
        source: r.get(11)?,
        updated_at: r.get(12)?,
    })
}

fn fetch_usage(c: &rusqlite::Connection, session: i64) -> Result<Option<SessionUsage>> {
    c.prepare_cached(&format!(
        "SELECT {USAGE_COLS} FROM session_usage u JOIN sessions s ON s.id = u.session_id
         WHERE u.session_id = ?1"
    ))
    .db()?
    .query_row([session], usage_from_row)
    .optional()
    .db()
}

fn fetch_session(c: &rusqlite::Connection, id: i64) -> Result<Session> {
    c.prepare_cached(&format!(
        "SELECT {SESSION_COLS} FROM sessions WHERE id = ?1"
    ))
    .db()?
    .query_row([id], session_from_row)
    .optional()
    .db()?
    .ok_or_else(|| Error::not_found("session", id.to_string()))
}

/// Sums of the usage rows of the sessions matching `since`, one row per
/// `key` expression.
const SUMS: &str = "count(*), coalesce(sum(u.input_tokens), 0), coalesce(sum(u.output_tokens), 0),
    coalesce(sum(u.cache_read_tokens), 0), coalesce(sum(u.cache_write_tokens), 0),
    sum(u.cost_micros), coalesce(sum(u.cost_micros IS NULL), 0)";

fn totals_from(r: &Row<'_>, at: usize) -> rusqlite::Result<CostTotals> {
    Ok(CostTotals {
        sessions: r.get::<_, i64>(at)?.max(0) as u64,
        input_tokens: r.get(at + 1)?,
        output_tokens: r.get(at + 2)?,
        cache_read_tokens: r.get(at + 3)?,
        cache_write_tokens: r.get(at + 4)?,
        cost_micros: r.get(at + 5)?,
        sessions_without_cost: r.get::<_, i64>(at + 6)?.max(0) as u64,
    })
}

impl CostStore for SqliteStore {
    fn record_usage(
        &self,
        session: i64,
        usage: &Usage,
        source: &str,
        actor: &str,
    ) -> Result<SessionUsage> {
        usage.validate()?;
        validate_source(source)?;
        let now = self.now();
        self.write(|tx| {
            let s = fetch_session(tx, session)?;
            let usage = match rules::record_usage(fetch_usage(tx, session)?, usage, source) {
                UsagePlan::Keep(prev) => return Ok(prev),
                UsagePlan::Write(usage) => usage,
            };
            tx.prepare_cached(
                "INSERT OR REPLACE INTO session_usage (session_id, input_tokens, output_tokens,
                 cache_read_tokens, cache_write_tokens, cost_micros, model, source, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .db()?
            .execute(params![
                session,
                usage.input_tokens,
                usage.output_tokens,
                usage.cache_read_tokens,
                usage.cache_write_tokens,
                usage.cost_micros,
                usage.model,
                source,
                now
            ])
            .db()?;
            insert_event(tx, &now, actor, &rules::usage_event(&s, &usage, source))?;
            fetch_usage(tx, session)?.ok_or_else(|| Error::Internal("usage row vanished".into()))
        })
    }

    fn session_usage(&self, session: i64) -> Result<Option<SessionUsage>> {
        fetch_usage(self.conn(), session)
    }

    fn set_agent_session_id(&self, session: i64, id: &str, actor: &str) -> Result<()> {
        validate_agent_session_id(id)?;
        let now = self.now();
        self.write(|tx| {
            let s = fetch_session(tx, session)?;
            let prev: Option<String> = tx
                .prepare_cached("SELECT agent_session_id FROM sessions WHERE id = ?1")
                .db()?
                .query_row([session], |r| r.get(0))
                .db()?;
            let Some(event) = rules::agent_session_id_event(&s, prev.as_deref(), id) else {
                return Ok(());
            };
            tx.prepare_cached("UPDATE sessions SET agent_session_id = ?2 WHERE id = ?1")
                .db()?
                .execute(params![session, id])
                .db()?;
            insert_event(tx, &now, actor, &event)?;
            Ok(())
        })
    }

    fn agent_session_id(&self, session: i64) -> Result<Option<String>> {
        Ok(self
            .conn()
            .prepare_cached("SELECT agent_session_id FROM sessions WHERE id = ?1")
            .db()?
            .query_row([session], |r| r.get::<_, Option<String>>(0))
            .optional()
            .db()?
            .flatten())
    }

    fn costs_by(&self, group: CostGroup, q: &CostQuery) -> Result<Vec<CostRow>> {
        let key = match group {
            CostGroup::Agent => "s.rig || '/' || s.polecat",
            CostGroup::Rig => "s.rig",
            CostGroup::Bead => "s.bead",
            CostGroup::Day => "substr(s.started_at, 1, 10)",
        };
        let mut stmt = self
            .conn()
            .prepare_cached(&format!(
                "SELECT {key} AS k, {SUMS} FROM session_usage u JOIN sessions s ON s.id = u.session_id
                 WHERE ?1 IS NULL OR s.started_at >= ?1 GROUP BY k ORDER BY k"
            ))
            .db()?;
        let rows = stmt
            .query_map([q.since.as_deref()], |r| {
                Ok(CostRow {
                    key: r.get(0)?,
                    totals: totals_from(r, 1)?,
                })
            })
            .db()?
            .collect::<rusqlite::Result<Vec<_>>>()
            .db()?;
        Ok(rows)
    }

    fn cost_totals(&self, q: &CostQuery) -> Result<CostTotals> {
        self.conn()
            .prepare_cached(&format!(
                "SELECT {SUMS} FROM session_usage u JOIN sessions s ON s.id = u.session_id
                 WHERE ?1 IS NULL OR s.started_at >= ?1"
            ))
            .db()?
            .query_row([q.since.as_deref()], |r| totals_from(r, 0))
            .db()
    }
}
