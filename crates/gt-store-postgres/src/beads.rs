//! [`BeadStore`] for PostgreSQL.
#![allow(unused_variables, unused_imports)]

use std::collections::{HashMap, HashSet, VecDeque};

use postgres::{GenericClient, Row, Transaction};

use crate::{insert_event, parsed, unported, DbResult, PgStore};
use gt_core::bead::{
    Bead, BeadDetails, BeadFilter, BeadPatch, BlockedBead, Comment, DepType, Dependency, NewBead,
    Status,
};
use gt_core::error::{Error, Result, StoreError, StoreErrorKind};
use gt_core::event::NewEvent;
use gt_core::id;
use gt_core::rules::bead as rules;
use gt_store::{BeadRecord, BeadStore, DepTreeNode, ImportCounts};

/// Columns of a bead row, in the order [`bead_from_row`] reads them. Labels
/// and the parent come from correlated subqueries so one query fills a bead.
pub(crate) const BEAD_COLS: &str = "b.id, b.title, b.description, b.status, b.priority, b.type,
    b.assignee, b.created_at, b.updated_at, b.closed_at, b.close_reason, b.created_by, b.metadata,
    (SELECT string_agg(label, chr(31) ORDER BY label) FROM labels l WHERE l.bead_id = b.id),
    (SELECT depends_on FROM deps p WHERE p.bead_id = b.id AND p.type = 'parent-child'
        ORDER BY depends_on LIMIT 1)";

fn corrupt(what: &str, value: &str) -> Error {
    Error::Store(StoreError::new(
        StoreErrorKind::Corrupt,
        format!("stored {what} '{}' is not valid", value.escape_debug()),
    ))
}

pub(crate) fn bead_from_row(r: &Row) -> Result<Bead> {
    let priority: i64 = r.try_get(4).db()?;
    let metadata: String = r.try_get(12).db()?;
    let labels: Option<String> = r.try_get(13).db()?;
    let mut labels: Vec<String> = labels
        .map(|s| s.split('\u{1f}').map(str::to_string).collect())
        .unwrap_or_default();
    labels.sort();
    Ok(Bead {
        id: r.try_get(0).db()?,
        title: r.try_get(1).db()?,
        description: r.try_get(2).db()?,
        status: parsed(r, 3, "status")?,
        priority: u8::try_from(priority).map_err(|_| corrupt("priority", &priority.to_string()))?,
        bead_type: parsed(r, 5, "type")?,
        assignee: r.try_get(6).db()?,
        labels,
        parent: r.try_get(14).db()?,
        created_at: r.try_get(7).db()?,
        updated_at: r.try_get(8).db()?,
        closed_at: r.try_get(9).db()?,
        close_reason: r.try_get(10).db()?,
        created_by: r.try_get(11).db()?,
        metadata: serde_json::from_str(&metadata).unwrap_or_default(),
    })
}

pub(crate) fn fetch_bead(c: &mut impl GenericClient, id: &str) -> Result<Bead> {
    let sql = format!("SELECT {BEAD_COLS} FROM beads b WHERE b.id = $1");
    match c.query_opt(sql.as_str(), &[&id]).db()? {
        Some(r) => bead_from_row(&r),
        None => Err(Error::not_found("bead", id)),
    }
}

pub(crate) fn bead_exists(c: &mut impl GenericClient, id: &str) -> Result<bool> {
    Ok(c.query_opt("SELECT 1 FROM beads WHERE id = $1", &[&id])
        .db()?
        .is_some())
}

fn ids(rows: &[Row]) -> Result<Vec<String>> {
    rows.iter().map(|r| r.try_get(0).db()).collect()
}

/// Resolves a full or partial id against the ledger.
pub(crate) fn resolve_id(
    c: &mut impl GenericClient,
    default_prefix: &str,
    query: &str,
) -> Result<String> {
    id::validate_id_query(query)?;
    if bead_exists(c, query)? {
        return Ok(query.to_string());
    }
    fn by_prefix(c: &mut impl GenericClient, p: &str) -> Result<Vec<String>> {
        // Range scan on the primary key: ids starting with `p`.
        let rows = c
            .query(
                "SELECT id FROM beads WHERE id >= $1 AND id < $1::text || chr(1114111)
                 ORDER BY id LIMIT 11",
                &[&p],
            )
            .db()?;
        ids(&rows)
    }
    let mut found = by_prefix(c, query)?;
    if found.is_empty() && !query.contains('-') {
        found = by_prefix(c, &format!("{default_prefix}-{query}"))?;
        if found.is_empty() {
            // Hash part under any prefix (imported ledgers), used last.
            let rows = c
                .query(
                    "SELECT id FROM beads
                     WHERE substr(id, strpos(id, '-') + 1) >= $1
                       AND substr(id, strpos(id, '-') + 1) < $1::text || chr(1114111)
                       AND strpos(id, '-') > 0
                     ORDER BY id LIMIT 11",
                    &[&query],
                )
                .db()?;
            found = ids(&rows)?;
        }
    }
    match found.len() {
        0 => Err(Error::not_found("bead", query)),
        1 => Ok(found.remove(0)),
        _ => {
            if found.len() > 10 {
                found.truncate(10);
                found.push("…".into());
            }
            Err(Error::Ambiguous {
                id: query.to_string(),
                candidates: found,
            })
        }
    }
}

pub(crate) fn insert_label(c: &mut impl GenericClient, id: &str, label: &str) -> Result<()> {
    c.execute(
        "INSERT INTO labels (bead_id, label) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        &[&id, &label],
    )
    .db()?;
    Ok(())
}

/// Inserts `d` unless the same edge is there; true when it inserted.
pub(crate) fn insert_dep(c: &mut impl GenericClient, d: &Dependency) -> Result<bool> {
    Ok(c.execute(
        "INSERT INTO deps (bead_id, depends_on, type, created_at, created_by)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        &[
            &d.bead,
            &d.depends_on,
            &d.dep_type.as_str(),
            &d.created_at,
            &d.created_by,
        ],
    )
    .db()?
        > 0)
}

/// Edges `from -> to` that take part in cycles (blocks, parent-child).
fn structural_targets(c: &mut impl GenericClient, from: &str) -> Result<Vec<String>> {
    let rows = c
        .query(
            "SELECT depends_on FROM deps WHERE bead_id = $1 AND type IN ('blocks', 'parent-child')",
            &[&from],
        )
        .db()?;
    ids(&rows)
}

/// The path `from -> ... -> to` over structural edges, if there is one.
pub(crate) fn structural_path(
    c: &mut impl GenericClient,
    from: &str,
    to: &str,
) -> Result<Option<Vec<String>>> {
    let mut prev: HashMap<String, String> = HashMap::new();
    let mut queue = VecDeque::from([from.to_string()]);
    let mut seen = HashSet::from([from.to_string()]);
    while let Some(cur) = queue.pop_front() {
        if cur == to {
            let mut path = vec![cur.clone()];
            let mut at = cur;
            while let Some(p) = prev.get(&at) {
                path.push(p.clone());
                at = p.clone();
            }
            path.reverse();
            return Ok(Some(path));
        }
        for next in structural_targets(c, &cur)? {
            if seen.insert(next.clone()) {
                prev.insert(next.clone(), cur.clone());
                queue.push_back(next);
            }
        }
    }
    Ok(None)
}

/// Inserts or replaces the bead row of `b` (labels and edges apart).
pub(crate) fn write_bead_row(c: &mut impl GenericClient, b: &Bead) -> Result<()> {
    let metadata =
        serde_json::to_string(&b.metadata).map_err(|e| Error::Internal(e.to_string()))?;
    c.execute(
        "INSERT INTO beads (id, title, description, status, priority, type, assignee, created_at,
                            updated_at, closed_at, close_reason, created_by, metadata)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT (id) DO UPDATE SET title = excluded.title,
            description = excluded.description, status = excluded.status,
            priority = excluded.priority, type = excluded.type, assignee = excluded.assignee,
            created_at = excluded.created_at, updated_at = excluded.updated_at,
            closed_at = excluded.closed_at, close_reason = excluded.close_reason,
            created_by = excluded.created_by, metadata = excluded.metadata",
        &[
            &b.id,
            &b.title,
            &b.description,
            &b.status.as_str(),
            &i64::from(b.priority),
            &b.bead_type.as_str(),
            &b.assignee,
            &b.created_at,
            &b.updated_at,
            &b.closed_at,
            &b.close_reason,
            &b.created_by,
            &metadata,
        ],
    )
    .db()?;
    Ok(())
}

/// Adds `dep` under the edge rules: no self-edge, one parent, no
/// structural cycle, no duplicate.
pub(crate) fn checked_add_dep(c: &mut impl GenericClient, dep: &Dependency) -> Result<()> {
    rules::check_dep_ends(dep)?;
    if dep.dep_type == DepType::ParentChild {
        let existing: Option<String> = match c
            .query_opt(
                "SELECT depends_on FROM deps WHERE bead_id = $1 AND type = 'parent-child'",
                &[&dep.bead],
            )
            .db()?
        {
            Some(r) => Some(r.try_get(0).db()?),
            None => None,
        };
        rules::check_parent(dep, existing.as_deref())?;
    }
    if dep.dep_type.is_structural() {
        rules::check_cycle(dep, structural_path(c, &dep.depends_on, &dep.bead)?)?;
    }
    let inserted = insert_dep(c, dep)?;
    rules::check_inserted(dep, inserted)
}

impl BeadStore for PgStore {
    fn create_bead(&self, new: &NewBead, actor: &str) -> Result<Bead> {
        new.validate()?;
        let prefix = new.prefix.as_deref().unwrap_or(self.default_prefix());
        id::validate_prefix(prefix)?;
        let now_t = self.clock.now();
        let now = self.now();
        self.write(|tx| {
            let parent = match &new.parent {
                Some(p) => Some(resolve_id(tx, self.default_prefix(), p)?),
                None => None,
            };
            let mut deps = Vec::new();
            for (t, target) in &new.deps {
                deps.push((*t, resolve_id(tx, self.default_prefix(), target)?));
            }
            let count: i64 = tx
                .query_one(
                    "SELECT count(*) FROM beads WHERE id >= $1::text || '-' AND id < $1::text || '.'",
                    &[&prefix],
                )
                .db()?
                .try_get(0)
                .db()?;
            let mut len = id::hash_len_for(count as u64);
            let mut attempt = 0u32;
            let id = loop {
                let cand = id::candidate(
                    prefix,
                    &new.title,
                    now_t.unix_timestamp_nanos(),
                    attempt,
                    len,
                );
                if !bead_exists(tx, &cand)? {
                    break cand;
                }
                attempt += 1;
                if attempt.is_multiple_of(8) {
                    len += 1;
                }
            };
            let bead = rules::create(new, &id, actor, &now);
            write_bead_row(tx, &bead)?;
            for l in &new.labels {
                insert_label(tx, &id, l)?;
            }
            let edges = parent
                .iter()
                .map(|p| (DepType::ParentChild, p.clone()))
                .chain(deps.iter().cloned());
            for (t, target) in edges {
                checked_add_dep(
                    tx,
                    &Dependency {
                        bead: id.clone(),
                        depends_on: target,
                        dep_type: t,
                        created_at: now.clone(),
                        created_by: Some(actor.to_string()),
                    },
                )?;
            }
            insert_event(
                tx,
                &now,
                actor,
                &rules::created_event(&bead, parent.as_deref()),
            )?;
            fetch_bead(tx, &id)
        })
    }

    fn resolve_bead_id(&self, query: &str) -> Result<String> {
        resolve_id(&mut *self.client(), self.default_prefix(), query)
    }

    fn get_bead(&self, id: &str) -> Result<Bead> {
        let mut c = self.client();
        let id = resolve_id(&mut *c, self.default_prefix(), id)?;
        fetch_bead(&mut *c, &id)
    }

    fn bead_details(&self, id: &str) -> Result<BeadDetails> {
        Err(unported("bead_details"))
    }

    fn list_beads(&self, filter: &BeadFilter) -> Result<Vec<Bead>> {
        Err(unported("list_beads"))
    }

    fn update_bead(&self, id: &str, patch: &BeadPatch, actor: &str) -> Result<Bead> {
        Err(unported("update_bead"))
    }

    fn claim_bead(&self, id: &str, assignee: &str, actor: &str) -> Result<Bead> {
        Err(unported("claim_bead"))
    }

    fn close_bead(&self, id: &str, reason: Option<&str>, actor: &str) -> Result<Bead> {
        Err(unported("close_bead"))
    }

    fn reopen_bead(&self, id: &str, actor: &str) -> Result<Bead> {
        Err(unported("reopen_bead"))
    }

    fn add_comment(&self, id: &str, author: &str, text: &str, actor: &str) -> Result<Comment> {
        Err(unported("add_comment"))
    }

    fn add_dependency(
        &self,
        bead: &str,
        depends_on: &str,
        dep_type: DepType,
        actor: &str,
    ) -> Result<Dependency> {
        Err(unported("add_dependency"))
    }

    fn remove_dependency(
        &self,
        bead: &str,
        depends_on: &str,
        dep_type: Option<DepType>,
        actor: &str,
    ) -> Result<usize> {
        Err(unported("remove_dependency"))
    }

    fn dep_tree(&self, id: &str, up: bool, max_depth: usize) -> Result<DepTreeNode> {
        Err(unported("dep_tree"))
    }

    fn ready_beads(&self, limit: usize) -> Result<Vec<Bead>> {
        Err(unported("ready_beads"))
    }

    fn blocked_beads(&self, limit: Option<usize>) -> Result<Vec<BlockedBead>> {
        Err(unported("blocked_beads"))
    }

    fn count_by_status(&self) -> Result<Vec<(Status, u64)>> {
        Err(unported("count_by_status"))
    }

    fn import_records(
        &self,
        records: &[BeadRecord],
        summary: NewEvent,
        actor: &str,
    ) -> Result<ImportCounts> {
        Err(unported("import_records"))
    }

    fn export_records(&self, sink: &mut dyn FnMut(BeadRecord) -> Result<()>) -> Result<()> {
        Err(unported("export_records"))
    }
}
