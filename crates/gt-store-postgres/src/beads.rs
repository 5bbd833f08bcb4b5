//! [`BeadStore`] for PostgreSQL.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use postgres::types::ToSql;
use postgres::{GenericClient, Row, Transaction};

use crate::blocking::checker;
use crate::{insert_event, parsed, DbResult, PgStore};
use gt_core::bead::{
    validate_comment, Bead, BeadDetails, BeadFilter, BeadPatch, BlockedBead, Comment, DepType,
    Dependency, NewBead, Status,
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

fn dep_from_row(r: &Row) -> Result<Dependency> {
    Ok(Dependency {
        bead: r.try_get(0).db()?,
        depends_on: r.try_get(1).db()?,
        dep_type: parsed(r, 2, "dependency type")?,
        created_at: r.try_get(3).db()?,
        created_by: r.try_get(4).db()?,
    })
}

fn comment_from_row(r: &Row) -> Result<Comment> {
    Ok(Comment {
        id: r.try_get(0).db()?,
        author: r.try_get(1).db()?,
        text: r.try_get(2).db()?,
        created_at: r.try_get(3).db()?,
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

impl PgStore {
    /// Reads a bead inside the transaction, applies `change`, writes it back
    /// and appends the event `change` returns.
    fn mutate(
        &self,
        id: &str,
        actor: &str,
        mut change: impl FnMut(&mut Transaction<'_>, &mut Bead, &str) -> Result<NewEvent>,
    ) -> Result<Bead> {
        let now = self.now();
        self.write(|tx| {
            let id = resolve_id(tx, self.default_prefix(), id)?;
            let mut bead = fetch_bead(tx, &id)?;
            let event = change(tx, &mut bead, &now)?;
            bead.updated_at = now.clone();
            write_bead_row(tx, &bead)?;
            insert_event(tx, &now, actor, &event.bead(&id))?;
            fetch_bead(tx, &id)
        })
    }
}

impl BeadStore for PgStore {
    fn create_bead(&self, new: &NewBead, actor: &str) -> Result<Bead> {
        new.validate()?;
        self.write(|tx| self.create_in(tx, new, actor))
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
        let mut c = self.client();
        let id = resolve_id(&mut *c, self.default_prefix(), id)?;
        let bead = fetch_bead(&mut *c, &id)?;
        let mut query_deps = |sql: &str| -> Result<Vec<Dependency>> {
            let rows = c.query(sql, &[&bead.id]).db()?;
            rows.iter().map(dep_from_row).collect()
        };
        let dependencies = query_deps(
            "SELECT bead_id, depends_on, type, created_at, created_by FROM deps
             WHERE bead_id = $1 ORDER BY type, depends_on",
        )?;
        let dependents = query_deps(
            "SELECT bead_id, depends_on, type, created_at, created_by FROM deps
             WHERE depends_on = $1 ORDER BY type, bead_id",
        )?;
        let comments = c
            .query(
                "SELECT id, author, text, created_at FROM comments WHERE bead_id = $1 ORDER BY id",
                &[&bead.id],
            )
            .db()?
            .iter()
            .map(comment_from_row)
            .collect::<Result<_>>()?;
        let mut checker = checker(&mut *c);
        let blocked = checker.is_blocked(&bead.id)?;
        let blocked_by = checker.reads().direct_blockers(&bead.id)?;
        Ok(BeadDetails {
            bead,
            dependencies,
            dependents,
            comments,
            blocked,
            blocked_by,
        })
    }

    fn list_beads(&self, f: &BeadFilter) -> Result<Vec<Bead>> {
        let mut out = Vec::new();
        self.each_bead(f, &mut |b| {
            out.push(b);
            Ok(())
        })?;
        Ok(out)
    }

    fn each_bead(&self, f: &BeadFilter, sink: &mut dyn FnMut(Bead) -> Result<()>) -> Result<()> {
        let mut sql = format!("SELECT {BEAD_COLS} FROM beads b WHERE TRUE");
        let mut args: Vec<Box<dyn ToSql + Sync>> = Vec::new();
        let mut arg = |sql: &mut String, text: &str, v: Box<dyn ToSql + Sync>| {
            args.push(v);
            sql.push_str(&text.replace('?', &format!("${}", args.len())));
        };
        if let [one] = f.statuses.as_slice() {
            // `=` lets the planner walk the (status, priority, created_at,
            // id) index in order; `= ANY` does not.
            arg(
                &mut sql,
                " AND b.status = ?",
                Box::new(one.as_str().to_string()),
            );
        } else if !f.statuses.is_empty() {
            let statuses: Vec<String> = f.statuses.iter().map(|s| s.as_str().to_string()).collect();
            arg(&mut sql, " AND b.status = ANY(?)", Box::new(statuses));
        } else if !f.include_closed {
            sql.push_str(" AND b.status <> 'closed'");
        }
        if let Some(t) = f.bead_type {
            arg(
                &mut sql,
                " AND b.type = ?",
                Box::new(t.as_str().to_string()),
            );
        }
        if let Some(a) = &f.assignee {
            arg(&mut sql, " AND b.assignee = ?", Box::new(a.clone()));
        }
        if let Some(p) = f.priority {
            arg(&mut sql, " AND b.priority = ?", Box::new(i64::from(p)));
        }
        if let Some(l) = &f.label {
            arg(
                &mut sql,
                " AND b.id IN (SELECT bead_id FROM labels WHERE label = ?)",
                Box::new(l.clone()),
            );
        }
        sql.push_str(" ORDER BY b.priority, b.created_at, b.id");
        if let Some(n) = f.limit {
            arg(&mut sql, " LIMIT ?", Box::new(n as i64));
        }
        let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a.as_ref()).collect();
        let mut c = self.client();
        // Rows as the server sends them, not all of them first.
        let mut rows = c.query_raw(sql.as_str(), params.iter().copied()).db()?;
        while let Some(row) = postgres::fallible_iterator::FallibleIterator::next(&mut rows).db()? {
            sink(bead_from_row(&row)?)?;
        }
        Ok(())
    }

    fn update_bead(&self, id: &str, patch: &BeadPatch, actor: &str) -> Result<Bead> {
        rules::check_patch(patch)?;
        self.mutate(id, actor, |tx, b, now| {
            for l in &patch.add_labels {
                insert_label(tx, &b.id, l)?;
            }
            for l in &patch.remove_labels {
                tx.execute(
                    "DELETE FROM labels WHERE bead_id = $1 AND label = $2",
                    &[&b.id, l],
                )
                .db()?;
            }
            Ok(rules::update(b, patch, now))
        })
    }

    fn claim_bead(&self, id: &str, assignee: &str, actor: &str) -> Result<Bead> {
        gt_core::bead::validate_assignee(assignee)?;
        self.mutate(id, actor, |_, b, now| rules::claim(b, assignee, now))
    }

    fn close_bead(&self, id: &str, reason: Option<&str>, actor: &str) -> Result<Bead> {
        rules::check_close_reason(reason)?;
        self.mutate(id, actor, |_, b, now| rules::close(b, reason, now))
    }

    fn reopen_bead(&self, id: &str, actor: &str) -> Result<Bead> {
        self.mutate(id, actor, |_, b, now| rules::reopen(b, now))
    }

    fn add_comment(&self, id: &str, author: &str, text: &str, actor: &str) -> Result<Comment> {
        validate_comment(text)?;
        gt_core::event::validate_actor(author)?;
        let now = self.now();
        self.write(|tx| {
            let id = resolve_id(tx, self.default_prefix(), id)?;
            let cid: i64 = tx
                .query_one(
                    "INSERT INTO comments (bead_id, author, text, created_at)
                     VALUES ($1, $2, $3, $4) RETURNING id",
                    &[&id, &author, &text, &now],
                )
                .db()?
                .try_get(0)
                .db()?;
            tx.execute(
                "UPDATE beads SET updated_at = $2 WHERE id = $1",
                &[&id, &now],
            )
            .db()?;
            insert_event(
                tx,
                &now,
                actor,
                &rules::commented_event(&id, cid, author, text),
            )?;
            Ok(Comment {
                id: cid,
                author: author.to_string(),
                text: text.to_string(),
                created_at: now.clone(),
            })
        })
    }

    fn add_dependency(
        &self,
        bead: &str,
        depends_on: &str,
        dep_type: DepType,
        actor: &str,
    ) -> Result<Dependency> {
        let now = self.now();
        self.write(|tx| {
            let from = resolve_id(tx, self.default_prefix(), bead)?;
            let to = resolve_id(tx, self.default_prefix(), depends_on)?;
            let dep = Dependency {
                bead: from,
                depends_on: to,
                dep_type,
                created_at: now.clone(),
                created_by: Some(actor.to_string()),
            };
            checked_add_dep(tx, &dep)?;
            insert_event(tx, &now, actor, &rules::dep_added_event(&dep))?;
            Ok(dep)
        })
    }

    fn remove_dependency(
        &self,
        bead: &str,
        depends_on: &str,
        dep_type: Option<DepType>,
        actor: &str,
    ) -> Result<usize> {
        let now = self.now();
        self.write(|tx| {
            let from = resolve_id(tx, self.default_prefix(), bead)?;
            let to = resolve_id(tx, self.default_prefix(), depends_on)?;
            let n = match dep_type {
                Some(t) => tx
                    .execute(
                        "DELETE FROM deps WHERE bead_id = $1 AND depends_on = $2 AND type = $3",
                        &[&from, &to, &t.as_str()],
                    )
                    .db()?,
                None => tx
                    .execute(
                        "DELETE FROM deps WHERE bead_id = $1 AND depends_on = $2",
                        &[&from, &to],
                    )
                    .db()?,
            };
            if n == 0 {
                return Err(Error::not_found("dependency", format!("{from} -> {to}")));
            }
            insert_event(
                tx,
                &now,
                actor,
                &rules::dep_removed_event(&from, &to, dep_type),
            )?;
            Ok(n as usize)
        })
    }

    fn dep_tree(&self, id: &str, up: bool, max_depth: usize) -> Result<DepTreeNode> {
        let mut c = self.client();
        let id = resolve_id(&mut *c, self.default_prefix(), id)?;
        let root = fetch_bead(&mut *c, &id)?;
        let sql = if up {
            "SELECT d.depends_on, d.type, b.title, b.status FROM deps d
             JOIN beads b ON b.id = d.depends_on
             WHERE d.bead_id = $1 ORDER BY d.type, d.depends_on"
        } else {
            "SELECT d.bead_id, d.type, b.title, b.status FROM deps d
             JOIN beads b ON b.id = d.bead_id
             WHERE d.depends_on = $1 ORDER BY d.type, d.bead_id"
        };
        let mut seen = HashSet::new();
        fn build(
            c: &mut impl GenericClient,
            sql: &str,
            node: &mut DepTreeNode,
            depth: usize,
            max_depth: usize,
            seen: &mut HashSet<String>,
        ) -> Result<()> {
            if !seen.insert(node.id.clone()) {
                node.repeated = true;
                return Ok(());
            }
            if depth >= max_depth {
                return Ok(());
            }
            let rows = c.query(sql, &[&node.id]).db()?;
            for r in rows {
                let id: String = r.try_get(0).db()?;
                let t: String = r.try_get(1).db()?;
                let title: String = r.try_get(2).db()?;
                let status: String = r.try_get(3).db()?;
                let mut child = DepTreeNode {
                    id,
                    title,
                    status: status.parse().unwrap_or(Status::Open),
                    dep_type: t.parse().ok(),
                    repeated: false,
                    children: vec![],
                };
                build(c, sql, &mut child, depth + 1, max_depth, seen)?;
                node.children.push(child);
            }
            Ok(())
        }
        let mut node = DepTreeNode {
            id: root.id,
            title: root.title,
            status: root.status,
            dep_type: None,
            repeated: false,
            children: vec![],
        };
        build(&mut *c, sql, &mut node, 0, max_depth, &mut seen)?;
        Ok(node)
    }

    fn ready_beads(&self, limit: usize) -> Result<Vec<Bead>> {
        // Pages of open beads in SQLite's order (the status index, read in
        // order and stopped early), then one query per page for those with
        // an open blocker, until `limit` survive that and the inherited-block
        // check: the server never sorts the whole ready set for a few beads.
        let mut c = self.client();
        let page = (limit.saturating_mul(2)).clamp(64, 10_000) as i64;
        let mut out = Vec::new();
        let mut offset: i64 = 0;
        while out.len() < limit {
            let rows = c
                .query(
                    &format!(
                        "SELECT {BEAD_COLS} FROM beads b WHERE b.status = 'open'
                         ORDER BY b.priority, b.created_at, b.id
                         LIMIT $1 OFFSET $2"
                    ),
                    &[&page, &offset],
                )
                .db()?;
            let beads = rows.iter().map(bead_from_row).collect::<Result<Vec<_>>>()?;
            let ids: Vec<&str> = beads.iter().map(|b| b.id.as_str()).collect();
            let blocked: std::collections::HashSet<String> = c
                .query(
                    "SELECT DISTINCT d.bead_id FROM deps d JOIN beads t ON t.id = d.depends_on
                     WHERE d.bead_id = ANY($1) AND d.type = 'blocks' AND t.status <> 'closed'",
                    &[&ids],
                )
                .db()?
                .iter()
                .map(|r| r.try_get::<_, String>(0).db())
                .collect::<Result<_>>()?;
            let mut checker = checker(&mut *c);
            for bead in beads {
                if out.len() >= limit {
                    break;
                }
                if blocked.contains(&bead.id) {
                    continue;
                }
                let inherited = match &bead.parent {
                    None => false,
                    Some(_) => checker.blocked_parent(&bead.id)?.is_some(),
                };
                if !inherited {
                    out.push(bead);
                }
            }
            if (rows.len() as i64) < page {
                break;
            }
            offset += page;
        }
        Ok(out)
    }

    fn is_blocked(&self, id: &str) -> Result<bool> {
        let mut c = self.client();
        checker(&mut *c).is_blocked(id)
    }

    fn blocked_beads(&self, limit: Option<usize>) -> Result<Vec<BlockedBead>> {
        let mut c = self.client();
        let rows = c
            .query(
                &format!(
                    "SELECT {BEAD_COLS} FROM beads b WHERE b.status NOT IN ('closed', 'deferred')
                       AND EXISTS (SELECT 1 FROM deps d WHERE d.bead_id = b.id
                                   AND d.type IN ('blocks', 'parent-child'))
                     ORDER BY b.priority, b.created_at, b.id"
                ),
                &[],
            )
            .db()?;
        let mut checker = checker(&mut *c);
        let mut out = Vec::new();
        for row in &rows {
            if limit.is_some_and(|l| out.len() >= l) {
                break;
            }
            let bead = bead_from_row(row)?;
            if !checker.is_blocked(&bead.id)? {
                continue;
            }
            let blocked_by = checker.reads().direct_blockers(&bead.id)?;
            let blocked_parent = checker.blocked_parent(&bead.id)?;
            out.push(BlockedBead {
                bead,
                blocked_by,
                blocked_parent,
            });
        }
        Ok(out)
    }

    fn count_by_status(&self) -> Result<Vec<(Status, u64)>> {
        let rows = self
            .client()
            .query("SELECT status, n FROM bead_counts WHERE n > 0", &[])
            .db()?;
        let mut counts: BTreeMap<Status, u64> = Status::ALL.iter().map(|s| (*s, 0)).collect();
        for r in &rows {
            let s: String = r.try_get(0).db()?;
            let n: i64 = r.try_get(1).db()?;
            let s: Status = s
                .parse()
                .map_err(|_| Error::Internal(format!("stored status '{s}' is not valid")))?;
            counts.insert(s, n as u64);
        }
        Ok(counts.into_iter().collect())
    }

    fn import_records(
        &self,
        records: &dyn gt_core::bead::RecordSource,
        summary: NewEvent,
        actor: &str,
    ) -> Result<ImportCounts> {
        let now = self.now();
        self.write(|tx| {
            let mut counts = ImportCounts::default();
            records.each(&mut |rec| {
                let b = &rec.bead;
                if bead_exists(tx, &b.id)? {
                    counts.updated += 1;
                    tx.execute("DELETE FROM labels WHERE bead_id = $1", &[&b.id])
                        .db()?;
                } else {
                    counts.created += 1;
                }
                write_bead_row(tx, b)?;
                for l in &b.labels {
                    insert_label(tx, &b.id, l)?;
                }
                for cm in &rec.comments {
                    let exists = tx
                        .query_opt(
                            "SELECT 1 FROM comments WHERE bead_id = $1 AND author = $2
                             AND created_at = $3 AND text = $4",
                            &[&b.id, &cm.author, &cm.created_at, &cm.text],
                        )
                        .db()?
                        .is_some();
                    if !exists {
                        tx.execute(
                            "INSERT INTO comments (bead_id, author, text, created_at)
                             VALUES ($1, $2, $3, $4)",
                            &[&b.id, &cm.author, &cm.text, &cm.created_at],
                        )
                        .db()?;
                        counts.comments += 1;
                    }
                }
                Ok(())
            })?;
            // Edges after every bead exists, so forward references resolve.
            records.each(&mut |rec| {
                for d in &rec.dependencies {
                    if rules::import_edge_dangles(d, bead_exists(tx, &d.depends_on)?) {
                        counts.dangling_dependencies += 1;
                        continue;
                    }
                    // The same rule as `dep add`: no structural cycle, with
                    // the ledger's edges and the ones imported so far.
                    if d.dep_type.is_structural() {
                        rules::check_cycle(d, structural_path(tx, &d.depends_on, &d.bead)?)?;
                    }
                    if insert_dep(tx, d)? {
                        counts.dependencies += 1;
                    }
                }
                Ok(())
            })?;
            insert_event(tx, &now, actor, &rules::imported_event(&summary, &counts))?;
            Ok(counts)
        })
    }

    /// Reads the ledger with the connection held, then hands the records to
    /// `sink` with it released (a sink may use the store).
    fn export_records(&self, sink: &mut dyn FnMut(BeadRecord) -> Result<()>) -> Result<()> {
        let (dep_rows, comment_rows, bead_rows) = {
            let mut c = self.client();
            let deps = c
                .query(
                    "SELECT bead_id, depends_on, type, created_at, created_by FROM deps
                     ORDER BY bead_id, type, depends_on",
                    &[],
                )
                .db()?;
            let comments = c
                .query(
                    "SELECT bead_id, id, author, text, created_at FROM comments
                     ORDER BY bead_id, id",
                    &[],
                )
                .db()?;
            let beads = c
                .query(
                    &format!("SELECT {BEAD_COLS} FROM beads b ORDER BY b.id"),
                    &[],
                )
                .db()?;
            (deps, comments, beads)
        };
        let mut deps: HashMap<String, Vec<Dependency>> = HashMap::new();
        for r in &dep_rows {
            let d = dep_from_row(r)?;
            deps.entry(d.bead.clone()).or_default().push(d);
        }
        let mut comments: HashMap<String, Vec<Comment>> = HashMap::new();
        for r in &comment_rows {
            let bead: String = r.try_get(0).db()?;
            let c = Comment {
                id: r.try_get(1).db()?,
                author: r.try_get(2).db()?,
                text: r.try_get(3).db()?,
                created_at: r.try_get(4).db()?,
            };
            comments.entry(bead).or_default().push(c);
        }
        for r in &bead_rows {
            let bead = bead_from_row(r)?;
            let dependencies = deps.remove(&bead.id).unwrap_or_default();
            let comments = comments.remove(&bead.id).unwrap_or_default();
            sink(BeadRecord {
                bead,
                dependencies,
                comments,
            })?;
        }
        Ok(())
    }
}

impl PgStore {
    /// [`BeadStore::create_bead`]'s writes inside an open transaction (also
    /// the beads of a molecule, `create_molecule`).
    pub(crate) fn create_in(
        &self,
        tx: &mut Transaction<'_>,
        new: &NewBead,
        actor: &str,
    ) -> Result<Bead> {
        new.validate()?;
        let prefix = new.prefix.as_deref().unwrap_or(self.default_prefix());
        id::validate_prefix(prefix)?;
        let now_t = self.clock.now();
        let now = self.now();
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
    }
}
