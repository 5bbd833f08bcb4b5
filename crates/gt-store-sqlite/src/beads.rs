//! [`BeadStore`] for SQLite.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};

use super::blocking::checker;
use super::DbResult;
use super::{insert_event, SqliteStore};
use gt_core::bead::{
    validate_comment, Bead, BeadDetails, BeadFilter, BeadPatch, BlockedBead, Comment, DepType,
    Dependency, NewBead, Status,
};
use gt_core::error::{Error, Result};
use gt_core::event::NewEvent;
use gt_core::id;
use gt_core::rules::bead as rules;
use gt_store::{BeadRecord, BeadStore, DepTreeNode, ImportCounts};

/// Columns of a bead row, in the order [`bead_from_row`] reads them. Labels
/// and the parent come from correlated subqueries so one query fills a bead.
const BEAD_COLS: &str = "b.id, b.title, b.description, b.status, b.priority, b.type, b.assignee,
    b.created_at, b.updated_at, b.closed_at, b.close_reason, b.created_by, b.metadata,
    (SELECT group_concat(label, char(31)) FROM labels l WHERE l.bead_id = b.id),
    (SELECT depends_on FROM deps p WHERE p.bead_id = b.id AND p.type = 'parent-child'
        ORDER BY depends_on LIMIT 1)";

fn corrupt(what: &str, value: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("stored {what} '{value}' is not valid").into(),
    )
}

fn bead_from_row(r: &Row<'_>) -> rusqlite::Result<Bead> {
    let status: String = r.get(3)?;
    let bead_type: String = r.get(5)?;
    let metadata: String = r.get(12)?;
    let labels: Option<String> = r.get(13)?;
    let mut labels: Vec<String> = labels
        .map(|s| s.split('\u{1f}').map(str::to_string).collect())
        .unwrap_or_default();
    labels.sort();
    Ok(Bead {
        id: r.get(0)?,
        title: r.get(1)?,
        description: r.get(2)?,
        status: status.parse().map_err(|_| corrupt("status", &status))?,
        priority: r.get(4)?,
        bead_type: bead_type.parse().map_err(|_| corrupt("type", &bead_type))?,
        assignee: r.get(6)?,
        labels,
        parent: r.get(14)?,
        created_at: r.get(7)?,
        updated_at: r.get(8)?,
        closed_at: r.get(9)?,
        close_reason: r.get(10)?,
        created_by: r.get(11)?,
        metadata: serde_json::from_str(&metadata).unwrap_or_default(),
    })
}

fn dep_from_row(r: &Row<'_>) -> rusqlite::Result<Dependency> {
    let t: String = r.get(2)?;
    Ok(Dependency {
        bead: r.get(0)?,
        depends_on: r.get(1)?,
        dep_type: t.parse().map_err(|_| corrupt("dependency type", &t))?,
        created_at: r.get(3)?,
        created_by: r.get(4)?,
    })
}

fn comment_from_row(r: &Row<'_>) -> rusqlite::Result<Comment> {
    Ok(Comment {
        id: r.get(0)?,
        author: r.get(1)?,
        text: r.get(2)?,
        created_at: r.get(3)?,
    })
}

pub(super) fn fetch_bead(conn: &Connection, id: &str) -> Result<Bead> {
    let mut stmt = conn
        .prepare_cached(&format!("SELECT {BEAD_COLS} FROM beads b WHERE b.id = ?1"))
        .db()?;
    stmt.query_row([id], bead_from_row)
        .optional()
        .db()?
        .ok_or_else(|| Error::not_found("bead", id))
}

fn bead_exists(conn: &Connection, id: &str) -> Result<bool> {
    let mut stmt = conn
        .prepare_cached("SELECT 1 FROM beads WHERE id = ?1")
        .db()?;
    stmt.exists([id]).db()
}

/// Resolves a full or partial id against the ledger.
pub(crate) fn resolve_id(conn: &Connection, default_prefix: &str, query: &str) -> Result<String> {
    id::validate_id_query(query)?;
    if bead_exists(conn, query)? {
        return Ok(query.to_string());
    }
    let by_prefix = |p: &str| -> Result<Vec<String>> {
        // Range scan on the primary key: ids starting with `p`.
        let mut stmt = conn.prepare_cached(
            "SELECT id FROM beads WHERE id >= ?1 AND id < ?1 || char(1114111) ORDER BY id LIMIT 11",
        ).db()?;
        let rows = stmt.query_map([p], |r| r.get(0)).db()?;
        rows.collect::<rusqlite::Result<_>>().db()
    };
    let mut found = by_prefix(query)?;
    if found.is_empty() && !query.contains('-') {
        found = by_prefix(&format!("{default_prefix}-{query}"))?;
        if found.is_empty() {
            // Hash part under any prefix (imported ledgers), used last.
            // A range on the indexed hash part (migration 7).
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id FROM beads
                 WHERE substr(id, instr(id, '-') + 1) >= ?1
                   AND substr(id, instr(id, '-') + 1) < ?1 || char(1114111)
                   AND instr(id, '-') > 0
                 ORDER BY id LIMIT 11",
                )
                .db()?;
            let rows = stmt.query_map([query], |r| r.get(0)).db()?;
            found = rows.collect::<rusqlite::Result<_>>().db()?;
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

fn insert_label(tx: &Transaction<'_>, id: &str, label: &str) -> Result<()> {
    let mut stmt = tx
        .prepare_cached("INSERT OR IGNORE INTO labels (bead_id, label) VALUES (?1, ?2)")
        .db()?;
    stmt.execute(params![id, label]).db()?;
    Ok(())
}

fn insert_dep(tx: &Transaction<'_>, d: &Dependency) -> Result<bool> {
    let mut stmt = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO deps (bead_id, depends_on, type, created_at, created_by)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .db()?;
    Ok(stmt
        .execute(params![
            d.bead,
            d.depends_on,
            d.dep_type.as_str(),
            d.created_at,
            d.created_by
        ])
        .db()?
        > 0)
}

/// Edges `from -> to` that take part in cycles (blocks, parent-child).
fn structural_targets(conn: &Connection, from: &str) -> Result<Vec<String>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT depends_on FROM deps WHERE bead_id = ?1 AND type IN ('blocks', 'parent-child')",
        )
        .db()?;
    let rows = stmt.query_map([from], |r| r.get(0)).db()?;
    rows.collect::<rusqlite::Result<_>>().db()
}

/// The path `from -> ... -> to` over structural edges, if there is one.
fn structural_path(conn: &Connection, from: &str, to: &str) -> Result<Option<Vec<String>>> {
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
        for next in structural_targets(conn, &cur)? {
            if seen.insert(next.clone()) {
                prev.insert(next.clone(), cur.clone());
                queue.push_back(next);
            }
        }
    }
    Ok(None)
}

pub(super) fn write_bead_row(tx: &Transaction<'_>, b: &Bead) -> Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO beads (id, title, description, status, priority, type, assignee, created_at,
                            updated_at, closed_at, close_reason, created_by, metadata)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
         ON CONFLICT (id) DO UPDATE SET title = excluded.title, description = excluded.description,
            status = excluded.status, priority = excluded.priority, type = excluded.type,
            assignee = excluded.assignee, created_at = excluded.created_at,
            updated_at = excluded.updated_at, closed_at = excluded.closed_at,
            close_reason = excluded.close_reason, created_by = excluded.created_by,
            metadata = excluded.metadata",
    ).db()?;
    stmt.execute(params![
        b.id,
        b.title,
        b.description,
        b.status.as_str(),
        b.priority,
        b.bead_type.as_str(),
        b.assignee,
        b.created_at,
        b.updated_at,
        b.closed_at,
        b.close_reason,
        b.created_by,
        serde_json::to_string(&b.metadata).map_err(|e| Error::Internal(e.to_string()))?,
    ])
    .db()?;
    Ok(())
}

impl SqliteStore {
    /// Adds `dep` inside `tx` under the edge rules: no self-edge, one
    /// parent, no structural cycle, no duplicate.
    fn checked_add_dep(&self, tx: &Transaction<'_>, dep: &Dependency) -> Result<()> {
        rules::check_dep_ends(dep)?;
        if dep.dep_type == DepType::ParentChild {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT depends_on FROM deps WHERE bead_id = ?1 AND type = 'parent-child'",
                )
                .db()?;
            let existing: Option<String> =
                stmt.query_row([&dep.bead], |r| r.get(0)).optional().db()?;
            rules::check_parent(dep, existing.as_deref())?;
        }
        if dep.dep_type.is_structural() {
            rules::check_cycle(dep, structural_path(tx, &dep.depends_on, &dep.bead)?)?;
        }
        rules::check_inserted(dep, insert_dep(tx, dep)?)
    }

    /// Reads a bead inside `tx`, applies `change`, writes it back and appends `event`.
    fn mutate(
        &self,
        id: &str,
        actor: &str,
        mut change: impl FnMut(&Transaction<'_>, &mut Bead, &str) -> Result<NewEvent>,
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

impl BeadStore for SqliteStore {
    fn create_bead(&self, new: &NewBead, actor: &str) -> Result<Bead> {
        new.validate()?;
        self.write(|tx| self.create_in(tx, new, actor))
    }

    fn resolve_bead_id(&self, query: &str) -> Result<String> {
        resolve_id(self.conn(), self.default_prefix(), query)
    }

    fn get_bead(&self, id: &str) -> Result<Bead> {
        fetch_bead(self.conn(), &self.resolve_bead_id(id)?)
    }

    fn bead_details(&self, id: &str) -> Result<BeadDetails> {
        let bead = self.get_bead(id)?;
        let conn = self.conn();
        let query_deps = |sql: &str| -> Result<Vec<Dependency>> {
            let mut stmt = conn.prepare_cached(sql).db()?;
            let rows = stmt.query_map([&bead.id], dep_from_row).db()?;
            rows.collect::<rusqlite::Result<_>>().db()
        };
        let dependencies = query_deps(
            "SELECT bead_id, depends_on, type, created_at, created_by FROM deps
             WHERE bead_id = ?1 ORDER BY type, depends_on",
        )?;
        let dependents = query_deps(
            "SELECT bead_id, depends_on, type, created_at, created_by FROM deps
             WHERE depends_on = ?1 ORDER BY type, bead_id",
        )?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, author, text, created_at FROM comments WHERE bead_id = ?1 ORDER BY id",
            )
            .db()?;
        let comments = stmt
            .query_map([&bead.id], comment_from_row)
            .db()?
            .collect::<rusqlite::Result<_>>()
            .db()?;
        let mut checker = checker(conn);
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
        let mut sql = format!("SELECT {BEAD_COLS} FROM beads b WHERE 1=1");
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        if !f.statuses.is_empty() {
            sql.push_str(" AND b.status IN (");
            for (i, s) in f.statuses.iter().enumerate() {
                sql.push_str(if i == 0 { "?" } else { ", ?" });
                args.push(s.as_str().to_string().into());
            }
            sql.push(')');
        } else if !f.include_closed {
            sql.push_str(" AND b.status <> 'closed'");
        }
        if let Some(t) = f.bead_type {
            sql.push_str(" AND b.type = ?");
            args.push(t.as_str().to_string().into());
        }
        if let Some(a) = &f.assignee {
            sql.push_str(" AND b.assignee = ?");
            args.push(a.clone().into());
        }
        if let Some(p) = f.priority {
            sql.push_str(" AND b.priority = ?");
            args.push(i64::from(p).into());
        }
        if let Some(l) = &f.label {
            sql.push_str(" AND b.id IN (SELECT bead_id FROM labels WHERE label = ?)");
            args.push(l.clone().into());
        }
        sql.push_str(" ORDER BY b.priority, b.created_at, b.id");
        if let Some(n) = f.limit {
            sql.push_str(" LIMIT ?");
            args.push((n as i64).into());
        }
        let mut stmt = self.conn().prepare_cached(&sql).db()?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args), bead_from_row)
            .db()?;
        for r in rows {
            sink(r.db()?)?;
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
                    "DELETE FROM labels WHERE bead_id = ?1 AND label = ?2",
                    params![b.id, l],
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
            tx.execute(
                "INSERT INTO comments (bead_id, author, text, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![id, author, text, now],
            )
            .db()?;
            let cid = tx.last_insert_rowid();
            tx.execute(
                "UPDATE beads SET updated_at = ?2 WHERE id = ?1",
                params![id, now],
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
                bead: from.clone(),
                depends_on: to.clone(),
                dep_type,
                created_at: now.clone(),
                created_by: Some(actor.to_string()),
            };
            self.checked_add_dep(tx, &dep)?;
            insert_event(tx, &now, actor, &rules::dep_added_event(&dep))?;
            Ok(dep.clone())
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
                        "DELETE FROM deps WHERE bead_id = ?1 AND depends_on = ?2 AND type = ?3",
                        params![from, to, t.as_str()],
                    )
                    .db()?,
                None => tx
                    .execute(
                        "DELETE FROM deps WHERE bead_id = ?1 AND depends_on = ?2",
                        params![from, to],
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
            Ok(n)
        })
    }

    fn dep_tree(&self, id: &str, up: bool, max_depth: usize) -> Result<DepTreeNode> {
        let root = self.get_bead(id)?;
        let conn = self.conn();
        let sql = if up {
            "SELECT d.depends_on, d.type, b.title, b.status FROM deps d JOIN beads b ON b.id = d.depends_on
             WHERE d.bead_id = ?1 ORDER BY d.type, d.depends_on"
        } else {
            "SELECT d.bead_id, d.type, b.title, b.status FROM deps d JOIN beads b ON b.id = d.bead_id
             WHERE d.depends_on = ?1 ORDER BY d.type, d.bead_id"
        };
        let mut seen = HashSet::new();
        fn build(
            conn: &Connection,
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
            let mut stmt = conn.prepare_cached(sql).db()?;
            let rows: Vec<(String, String, String, String)> = stmt
                .query_map([&node.id], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .db()?
                .collect::<rusqlite::Result<_>>()
                .db()?;
            drop(stmt);
            for (id, t, title, status) in rows {
                let mut child = DepTreeNode {
                    id,
                    title,
                    status: status.parse().unwrap_or(Status::Open),
                    dep_type: t.parse().ok(),
                    repeated: false,
                    children: vec![],
                };
                build(conn, sql, &mut child, depth + 1, max_depth, seen)?;
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
        build(conn, sql, &mut node, 0, max_depth, &mut seen)?;
        Ok(node)
    }

    fn ready_beads(&self, limit: usize) -> Result<Vec<Bead>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {BEAD_COLS} FROM beads b WHERE b.status = 'open'
               AND NOT EXISTS (SELECT 1 FROM deps d JOIN beads t ON t.id = d.depends_on
                               WHERE d.bead_id = b.id AND d.type = 'blocks' AND t.status <> 'closed')
             ORDER BY b.priority, b.created_at, b.id"
        )).db()?;
        let mut rows = stmt.query([]).db()?;
        let mut checker = checker(conn);
        let mut out = Vec::new();
        while out.len() < limit {
            let Some(row) = rows.next().db()? else { break };
            let bead = bead_from_row(row).db()?;
            let inherited = match &bead.parent {
                None => false,
                Some(_) => checker.blocked_parent(&bead.id)?.is_some(),
            };
            if !inherited {
                out.push(bead);
            }
        }
        Ok(out)
    }

    fn is_blocked(&self, id: &str) -> Result<bool> {
        checker(self.conn()).is_blocked(id)
    }

    fn blocked_beads(&self, limit: Option<usize>) -> Result<Vec<BlockedBead>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {BEAD_COLS} FROM beads b WHERE b.status NOT IN ('closed', 'deferred')
               AND EXISTS (SELECT 1 FROM deps d WHERE d.bead_id = b.id
                           AND d.type IN ('blocks', 'parent-child'))
             ORDER BY b.priority, b.created_at, b.id"
            ))
            .db()?;
        let mut rows = stmt.query([]).db()?;
        let mut checker = checker(conn);
        let mut out = Vec::new();
        while limit.is_none_or(|l| out.len() < l) {
            let Some(row) = rows.next().db()? else { break };
            let bead = bead_from_row(row).db()?;
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
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT status, n FROM bead_counts WHERE n > 0")
            .db()?;
        let rows: Vec<(String, i64)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .db()?
            .collect::<rusqlite::Result<_>>()
            .db()?;
        let mut counts: BTreeMap<Status, u64> = Status::ALL.iter().map(|s| (*s, 0)).collect();
        for (s, n) in rows {
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
        // A large import counts the beads once at its end instead of a
        // trigger per bead (the triggers go and come back inside the same
        // transaction: no other writer ever sees the table without them).
        let bulk = records.len_hint() >= crate::schema::BULK_IMPORT;
        self.write(|tx| {
            if bulk {
                tx.execute_batch(
                    "DROP TRIGGER bead_counts_insert; DROP TRIGGER bead_counts_update;",
                )
                .db()?;
            }
            let mut counts = ImportCounts::default();
            records.each(&mut |rec| {
                let b = &rec.bead;
                if bead_exists(tx, &b.id)? {
                    counts.updated += 1;
                    tx.execute("DELETE FROM labels WHERE bead_id = ?1", [&b.id])
                        .db()?;
                } else {
                    counts.created += 1;
                }
                write_bead_row(tx, b)?;
                for l in &b.labels {
                    insert_label(tx, &b.id, l)?;
                }
                for c in &rec.comments {
                    let mut exists = tx
                        .prepare_cached(
                            "SELECT 1 FROM comments WHERE bead_id = ?1 AND author = ?2
                         AND created_at = ?3 AND text = ?4",
                        )
                        .db()?;
                    if !exists
                        .exists(params![b.id, c.author, c.created_at, c.text])
                        .db()?
                    {
                        tx.prepare_cached(
                            "INSERT INTO comments (bead_id, author, text, created_at)
                             VALUES (?1, ?2, ?3, ?4)",
                        )
                        .db()?
                        .execute(params![b.id, c.author, c.text, c.created_at])
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
            if bulk {
                tx.execute_batch(&crate::schema::recount_beads()).db()?;
            }
            insert_event(tx, &now, actor, &rules::imported_event(&summary, &counts))?;
            Ok(counts)
        })
    }

    fn export_records(&self, sink: &mut dyn FnMut(BeadRecord) -> Result<()>) -> Result<()> {
        let conn = self.conn();
        let mut deps: HashMap<String, Vec<Dependency>> = HashMap::new();
        let mut stmt = conn
            .prepare(
                "SELECT bead_id, depends_on, type, created_at, created_by FROM deps
             ORDER BY bead_id, type, depends_on",
            )
            .db()?;
        for d in stmt.query_map([], dep_from_row).db()? {
            let d = d.db()?;
            deps.entry(d.bead.clone()).or_default().push(d);
        }
        let mut comments: HashMap<String, Vec<Comment>> = HashMap::new();
        let mut stmt = conn
            .prepare(
                "SELECT bead_id, id, author, text, created_at FROM comments ORDER BY bead_id, id",
            )
            .db()?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    Comment {
                        id: r.get(1)?,
                        author: r.get(2)?,
                        text: r.get(3)?,
                        created_at: r.get(4)?,
                    },
                ))
            })
            .db()?;
        for row in rows {
            let (bead, c) = row.db()?;
            comments.entry(bead).or_default().push(c);
        }
        let mut stmt = conn
            .prepare(&format!("SELECT {BEAD_COLS} FROM beads b ORDER BY b.id"))
            .db()?;
        let mut rows = stmt.query([]).db()?;
        while let Some(row) = rows.next().db()? {
            let bead = bead_from_row(row).db()?;
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

impl SqliteStore {
    /// [`BeadStore::create_bead`]'s writes inside an open transaction (also
    /// the beads of a molecule, `create_molecule`).
    pub(crate) fn create_in(
        &self,
        tx: &Transaction<'_>,
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
            .query_row(
                "SELECT count(*) FROM beads WHERE id >= ?1 || '-' AND id < ?1 || '.'",
                [prefix],
                |r| r.get(0),
            )
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
            self.checked_add_dep(
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
