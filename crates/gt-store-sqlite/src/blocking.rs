//! Derived blocking. A bead is blocked when one of its `blocks` targets is not
//! closed, or when its parent is deferred or itself blocked (recursively).

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension};

use super::DbResult;
use gt_core::bead::Status;
use gt_core::error::Result;

/// Answers "is this bead blocked?" with memoisation over one read.
pub(crate) struct BlockChecker<'c> {
    conn: &'c Connection,
    /// `None` while a bead's answer is being computed (cycle guard).
    memo: HashMap<String, Option<bool>>,
}

/// Guards against pathological parent chains in imported data.
const MAX_DEPTH: usize = 256;

impl<'c> BlockChecker<'c> {
    pub fn new(conn: &'c Connection) -> Self {
        BlockChecker {
            conn,
            memo: HashMap::new(),
        }
    }

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

    fn has_direct_blocker(&self, id: &str) -> Result<bool> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT 1 FROM deps d JOIN beads t ON t.id = d.depends_on
             WHERE d.bead_id = ?1 AND d.type = 'blocks' AND t.status <> 'closed' LIMIT 1",
            )
            .db()?;
        stmt.exists([id]).db()
    }

    pub fn parent(&self, id: &str) -> Result<Option<(String, Status)>> {
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

    pub fn is_blocked(&mut self, id: &str) -> Result<bool> {
        self.is_blocked_at(id, 0)
    }

    fn is_blocked_at(&mut self, id: &str, depth: usize) -> Result<bool> {
        match self.memo.get(id) {
            Some(Some(b)) => return Ok(*b),
            // A parent cycle (only possible in imported data): not blocked by it.
            Some(None) => return Ok(false),
            None => {}
        }
        if depth > MAX_DEPTH {
            return Ok(false);
        }
        self.memo.insert(id.to_string(), None);
        let blocked = if self.has_direct_blocker(id)? {
            true
        } else {
            match self.parent(id)? {
                Some((_, Status::Deferred)) => true,
                Some((p, _)) => self.is_blocked_at(&p, depth + 1)?,
                None => false,
            }
        };
        self.memo.insert(id.to_string(), Some(blocked));
        Ok(blocked)
    }

    /// The nearest ancestor that is deferred or blocked.
    pub fn blocked_parent(&mut self, id: &str) -> Result<Option<String>> {
        let mut cur = id.to_string();
        for _ in 0..MAX_DEPTH {
            match self.parent(&cur)? {
                None => return Ok(None),
                Some((p, status)) => {
                    if p == id {
                        return Ok(None);
                    }
                    if status == Status::Deferred || self.is_blocked(&p)? {
                        return Ok(Some(p));
                    }
                    cur = p;
                }
            }
        }
        Ok(None)
    }
}
