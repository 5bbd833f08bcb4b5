//! The reads of derived blocking (`gt_core::rules::blocking`) in SQL.

use rusqlite::{Connection, OptionalExtension};

use super::DbResult;
use gt_core::bead::Status;
use gt_core::error::Result;
use gt_core::rules::blocking::{Blocking, BlockingReads};

/// The blocking rule over `conn`.
pub(crate) fn checker(conn: &Connection) -> Blocking<Reads<'_>> {
    Blocking::new(Reads { conn })
}

pub(crate) struct Reads<'c> {
    conn: &'c Connection,
}

impl Reads<'_> {
    /// Unclosed beads that `id` depends on with `blocks`.
    pub fn direct_blockers(&self, id: &str) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT d.depends_on FROM deps d JOIN beads t ON t.id = d.depends_on
             WHERE d.bead_id = ?1 AND d.type = 'blocks' AND t.status <> 'closed'
             ORDER BY d.depends_on",
            )
            .db()?;
        let rows = stmt.query_map([id], |r| r.get(0)).db()?;
        rows.collect::<rusqlite::Result<_>>().db()
    }
}

impl BlockingReads for Reads<'_> {
    fn has_open_blocker(&mut self, id: &str) -> Result<bool> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT 1 FROM deps d JOIN beads t ON t.id = d.depends_on
             WHERE d.bead_id = ?1 AND d.type = 'blocks' AND t.status <> 'closed' LIMIT 1",
            )
            .db()?;
        stmt.exists([id]).db()
    }

    fn parent(&mut self, id: &str) -> Result<Option<(String, Status)>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT d.depends_on, t.status FROM deps d JOIN beads t ON t.id = d.depends_on
             WHERE d.bead_id = ?1 AND d.type = 'parent-child' ORDER BY d.depends_on LIMIT 1",
            )
            .db()?;
        let row: Option<(String, String)> = stmt
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .db()?;
        Ok(row.map(|(p, s)| (p, s.parse().unwrap_or(Status::Open))))
    }
}
