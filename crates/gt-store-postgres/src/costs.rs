//! [`CostStore`] for PostgreSQL: `session_usage` (one row per session,
//! replaced by each newer running total) and `sessions.agent_session_id`.

use postgres::{GenericClient, Row};

use crate::work::fetch_session;
use crate::{insert_event, DbResult, PgStore};
use gt_core::costs::{
    validate_agent_session_id, validate_source, CostGroup, CostQuery, CostRow, CostTotals,
    SessionUsage, Usage,
};
use gt_core::error::{Error, Result};
use gt_core::rules::deacon::{self as rules, UsagePlan};
use gt_store::CostStore;

const USAGE_COLS: &str = "u.session_id, s.rig, s.polecat, s.bead, s.runtime, u.input_tokens,
    u.output_tokens, u.cache_read_tokens, u.cache_write_tokens, u.cost_micros, u.model,
    u.source, u.updated_at";

fn usage_from_row(r: &Row) -> Result<SessionUsage> {
    Ok(SessionUsage {
        session: r.try_get(0).db()?,
        rig: r.try_get(1).db()?,
        polecat: r.try_get(2).db()?,
        bead: r.try_get(3).db()?,
        runtime: r.try_get(4).db()?,
        usage: Usage {
            input_tokens: r.try_get(5).db()?,
            output_tokens: r.try_get(6).db()?,
            cache_read_tokens: r.try_get(7).db()?,
            cache_write_tokens: r.try_get(8).db()?,
            cost_micros: r.try_get(9).db()?,
            model: r.try_get(10).db()?,
        },
        source: r.try_get(11).db()?,
        updated_at: r.try_get(12).db()?,
    })
}

fn fetch_usage(c: &mut impl GenericClient, session: i64) -> Result<Option<SessionUsage>> {
    c.query_opt(
        &format!(
            "SELECT {USAGE_COLS} FROM session_usage u JOIN sessions s ON s.id = u.session_id
             WHERE u.session_id = $1"
        ),
        &[&session],
    )
    .db()?
    .as_ref()
    .map(usage_from_row)
    .transpose()
}

/// Sums of the usage rows of the sessions matching `since`, one row per
/// `key` expression (PostgreSQL sums BIGINTs as NUMERIC: cast back).
const SUMS: &str = "count(*), coalesce(sum(u.input_tokens), 0)::bigint,
    coalesce(sum(u.output_tokens), 0)::bigint, coalesce(sum(u.cache_read_tokens), 0)::bigint,
    coalesce(sum(u.cache_write_tokens), 0)::bigint, sum(u.cost_micros)::bigint,
    count(*) FILTER (WHERE u.cost_micros IS NULL)";

fn totals_from(r: &Row, at: usize) -> Result<CostTotals> {
    Ok(CostTotals {
        sessions: r.try_get::<_, i64>(at).db()?.max(0) as u64,
        input_tokens: r.try_get(at + 1).db()?,
        output_tokens: r.try_get(at + 2).db()?,
        cache_read_tokens: r.try_get(at + 3).db()?,
        cache_write_tokens: r.try_get(at + 4).db()?,
        cost_micros: r.try_get(at + 5).db()?,
        sessions_without_cost: r.try_get::<_, i64>(at + 6).db()?.max(0) as u64,
    })
}

impl CostStore for PgStore {
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
            tx.execute(
                "INSERT INTO session_usage (session_id, input_tokens, output_tokens,
                 cache_read_tokens, cache_write_tokens, cost_micros, model, source, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (session_id) DO UPDATE SET input_tokens = excluded.input_tokens,
                 output_tokens = excluded.output_tokens,
                 cache_read_tokens = excluded.cache_read_tokens,
                 cache_write_tokens = excluded.cache_write_tokens,
                 cost_micros = excluded.cost_micros, model = excluded.model,
                 source = excluded.source, updated_at = excluded.updated_at",
                &[
                    &session,
                    &usage.input_tokens,
                    &usage.output_tokens,
                    &usage.cache_read_tokens,
                    &usage.cache_write_tokens,
                    &usage.cost_micros,
                    &usage.model,
                    &source,
                    &now,
                ],
            )
            .db()?;
            insert_event(tx, &now, actor, &rules::usage_event(&s, &usage, source))?;
            fetch_usage(tx, session)?.ok_or_else(|| Error::Internal("usage row vanished".into()))
        })
    }

    fn session_usage(&self, session: i64) -> Result<Option<SessionUsage>> {
        fetch_usage(&mut *self.client(), session)
    }

    fn set_agent_session_id(&self, session: i64, id: &str, actor: &str) -> Result<()> {
        validate_agent_session_id(id)?;
        let now = self.now();
        self.write(|tx| {
            let s = fetch_session(tx, session)?;
            let prev: Option<String> = tx
                .query_one(
                    "SELECT agent_session_id FROM sessions WHERE id = $1",
                    &[&session],
                )
                .db()?
                .try_get(0)
                .db()?;
            let Some(event) = rules::agent_session_id_event(&s, prev.as_deref(), id) else {
                return Ok(());
            };
            tx.execute(
                "UPDATE sessions SET agent_session_id = $2 WHERE id = $1",
                &[&session, &id],
            )
            .db()?;
            insert_event(tx, &now, actor, &event)?;
            Ok(())
        })
    }

    fn agent_session_id(&self, session: i64) -> Result<Option<String>> {
        let row = self
            .client()
            .query_opt(
                "SELECT agent_session_id FROM sessions WHERE id = $1",
                &[&session],
            )
            .db()?;
        match row {
            Some(r) => r.try_get(0).db(),
            None => Ok(None),
        }
    }

    fn costs_by(&self, group: CostGroup, q: &CostQuery) -> Result<Vec<CostRow>> {
        let key = match group {
            CostGroup::Agent => "s.rig || '/' || s.polecat",
            CostGroup::Rig => "s.rig",
            CostGroup::Bead => "s.bead",
            CostGroup::Day => "substr(s.started_at, 1, 10)",
        };
        let rows = self
            .client()
            .query(
                &format!(
                    "SELECT {key} AS k, {SUMS} FROM session_usage u
                     JOIN sessions s ON s.id = u.session_id
                     WHERE $1::text IS NULL OR s.started_at >= $1 GROUP BY k ORDER BY k"
                ),
                &[&q.since],
            )
            .db()?;
        rows.iter()
            .map(|r| {
                Ok(CostRow {
                    key: r.try_get(0).db()?,
                    totals: totals_from(r, 1)?,
                })
            })
            .collect()
    }

    fn cost_totals(&self, q: &CostQuery) -> Result<CostTotals> {
        let row = self
            .client()
            .query_one(
                &format!(
                    "SELECT {SUMS} FROM session_usage u JOIN sessions s ON s.id = u.session_id
                     WHERE $1::text IS NULL OR s.started_at >= $1"
                ),
                &[&q.since],
            )
            .db()?;
        totals_from(&row, 0)
    }
}
