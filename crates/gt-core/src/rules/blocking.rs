//! Derived blocking, the rule both backends answer `ready`, `blocked` and
//! `show` with. A bead is blocked when one of its `blocks` targets is not
//! closed, or when its parent is deferred or itself blocked (recursively).
//! The backend supplies the two reads ([`BlockingReads`]); the walk, the
//! memo and the guards against parent cycles and very deep chains (possible
//! only in imported data) are here.

use std::collections::HashMap;

use crate::bead::Status;
use crate::error::Result;

/// What the rule reads, one bead at a time (the backend's SQL).
pub trait BlockingReads {
    /// Whether `id` has a `blocks` target that is not closed.
    fn has_open_blocker(&mut self, id: &str) -> Result<bool>;
    /// `id`'s parent (its `parent-child` target) and the parent's status.
    fn parent(&mut self, id: &str) -> Result<Option<(String, Status)>>;
}

/// Answers "is this bead blocked?" with memoisation over one read.
pub struct Blocking<R> {
    reads: R,
    /// `None` while a bead's answer is being computed (cycle guard).
    memo: HashMap<String, Option<bool>>,
}

/// Guards against pathological parent chains in imported data.
const MAX_DEPTH: usize = 256;

impl<R: BlockingReads> Blocking<R> {
    pub fn new(reads: R) -> Self {
        Blocking {
            reads,
            memo: HashMap::new(),
        }
    }

    /// The backend's reads (for its other queries on the same connection).
    pub fn reads(&mut self) -> &mut R {
        &mut self.reads
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
        let blocked = if self.reads.has_open_blocker(id)? {
            true
        } else {
            match self.reads.parent(id)? {
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
            match self.reads.parent(&cur)? {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Beads in memory: `(id, open blocker?, parent)`, statuses by id.
    struct Rows(
        Vec<(&'static str, bool, Option<&'static str>)>,
        Vec<(&'static str, Status)>,
    );

    impl BlockingReads for Rows {
        fn has_open_blocker(&mut self, id: &str) -> Result<bool> {
            Ok(self.0.iter().any(|(b, blocked, _)| *b == id && *blocked))
        }
        fn parent(&mut self, id: &str) -> Result<Option<(String, Status)>> {
            let p = self.0.iter().find(|(b, _, _)| *b == id).and_then(|r| r.2);
            Ok(p.map(|p| {
                let s = self
                    .1
                    .iter()
                    .find(|(b, _)| *b == p)
                    .map_or(Status::Open, |r| r.1);
                (p.to_string(), s)
            }))
        }
    }

    #[test]
    fn blocks_are_inherited_from_blocked_or_deferred_ancestors_and_cycles_end() {
        let rows = Rows(
            vec![
                ("epic", true, None),
                ("task", false, Some("epic")),
                ("sub", false, Some("task")),
                ("later", false, None),
                ("child", false, Some("later")),
                ("free", false, None),
                ("a", false, Some("b")),
                ("b", false, Some("a")),
            ],
            vec![("later", Status::Deferred)],
        );
        let mut b = Blocking::new(rows);
        assert!(b.is_blocked("epic").unwrap());
        assert!(b.is_blocked("sub").unwrap());
        assert_eq!(b.blocked_parent("sub").unwrap().as_deref(), Some("task"));
        assert_eq!(b.blocked_parent("child").unwrap().as_deref(), Some("later"));
        assert!(!b.is_blocked("free").unwrap());
        assert_eq!(b.blocked_parent("free").unwrap(), None);
        // A parent cycle (imported data) blocks nothing and ends.
        assert!(!b.is_blocked("a").unwrap());
        assert_eq!(b.blocked_parent("a").unwrap(), None);
    }
}
