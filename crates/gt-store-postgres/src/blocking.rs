//! Derived blocking. A bead is blocked when one of its `blocks` targets is not
//! closed, or when its parent is deferred or itself blocked (recursively).

use std::collections::HashMap;

use postgres::GenericClient;

use crate::DbResult;
use gt_core::bead::Status;
use gt_core::error::Result;

/// Answers "is this bead blocked?" with memoisation over one read.
pub(crate) struct BlockChecker<'c, C: GenericClient> {
    c: &'c mut C,
    /// `None` while a bead's answer is being computed (cycle guard).
    memo: HashMap<String, Option<bool>>,
}

/// Guards against pathological parent chains in imported data.
const MAX_DEPTH: usize = 256;

impl<'c, C: GenericClient> BlockChecker<'c, C> {
    pub fn new(c: &'c mut C) -> Self {
        BlockChecker {
            c,
            memo: HashMap::new(),
        }
    }

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

    fn has_direct_blocker(&mut self, id: &str) -> Result<bool> {
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

    pub fn parent(&mut self, id: &str) -> Result<Option<(String, Status)>> {
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
