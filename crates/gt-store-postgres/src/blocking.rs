//! The reads of derived blocking (`gt_core::rules::blocking`) in SQL.

use postgres::GenericClient;

use crate::DbResult;
use gt_core::bead::Status;
use gt_core::error::Result;
use gt_core::rules::blocking::{Blocking, BlockingReads};

/// The blocking rule over `c`.
pub(crate) fn checker<C: GenericClient>(c: &mut C) -> Blocking<Reads<'_, C>> {
    Blocking::new(Reads { c })
}

pub(crate) struct Reads<'c, C: GenericClient> {
    c: &'c mut C,
}

impl<C: GenericClient> Reads<'_, C> {
    /// Unclosed beads that `id` depends on with `blocks`.
    pub fn direct_blockers(&mut self, id: &str) -> Result<Vec<String>> {
        let rows = self
            .c
            .query(
                "SELECT d.depends_on FROM deps d JOIN beads t ON t.id = d.depends_on
                 WHERE d.bead_id = $1 AND d.type = 'blocks' AND t.status <> 'closed'
                 ORDER BY d.depends_on",
                &[&id],
            )
            .db()?;
        rows.iter().map(|r| r.try_get(0).db()).collect()
    }
}

impl<C: GenericClient> BlockingReads for Reads<'_, C> {
    fn has_open_blocker(&mut self, id: &str) -> Result<bool> {
        Ok(self
            .c
            .query_opt(
                "SELECT 1 FROM deps d JOIN beads t ON t.id = d.depends_on
                 WHERE d.bead_id = $1 AND d.type = 'blocks' AND t.status <> 'closed' LIMIT 1",
                &[&id],
            )
            .db()?
            .is_some())
    }

    fn parent(&mut self, id: &str) -> Result<Option<(String, Status)>> {
        let row = self
            .c
            .query_opt(
                "SELECT d.depends_on, t.status FROM deps d JOIN beads t ON t.id = d.depends_on
                 WHERE d.bead_id = $1 AND d.type = 'parent-child' ORDER BY d.depends_on LIMIT 1",
                &[&id],
            )
            .db()?;
        let Some(r) = row else { return Ok(None) };
        let p: String = r.try_get(0).db()?;
        let s: String = r.try_get(1).db()?;
        Ok(Some((p, s.parse().unwrap_or(Status::Open))))
    }
}
