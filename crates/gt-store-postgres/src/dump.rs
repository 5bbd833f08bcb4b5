//! Loading a town's rows from another store (`gt store migrate --to`) and
//! reading them back to check the copy.

use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{ToSql, Type};

use crate::{DbResult, PgStore};
use gt_core::error::{Error, Result};
use gt_store::dump::{Cell, TableRows};

/// gt's table name or column name (from its own schema) as an identifier.
fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// `cell` of column `col` as a parameter of PostgreSQL type `ty`.
fn param(table: &str, col: &str, ty: &Type, cell: &Cell) -> Result<Box<dyn ToSql + Sync>> {
    let bad = || {
        Error::Environment(format!(
            "{table}.{col}: {cell:?} does not fit the column ({ty})"
        ))
    };
    Ok(match (ty, cell) {
        (t, Cell::Null) if *t == Type::INT8 => Box::new(None::<i64>),
        (t, Cell::Null) if *t == Type::BOOL => Box::new(None::<bool>),
        (_, Cell::Null) => Box::new(None::<String>),
        (t, Cell::Int(v)) if *t == Type::INT8 => Box::new(*v),
        (t, Cell::Text(s)) if *t == Type::INT8 => {
            Box::new(s.trim().parse::<i64>().map_err(|_| bad())?)
        }
        (t, Cell::Int(v)) if *t == Type::BOOL => Box::new(*v != 0),
        (t, Cell::Text(s)) if *t == Type::TEXT => Box::new(s.clone()),
        (t, Cell::Int(v)) if *t == Type::TEXT => Box::new(v.to_string()),
        (t, Cell::Real(v)) if *t == Type::TEXT => Box::new(v.to_string()),
        _ => return Err(bad()),
    })
}

impl PgStore {
    /// Replaces every row of the tables in `dumps` with theirs, in one
    /// transaction (`COPY`), and moves each identity past its highest id.
    pub fn load_tables(&self, dumps: &[TableRows]) -> Result<()> {
        self.write(|tx| {
            let names: Vec<String> = dumps.iter().map(|d| ident(&d.table)).collect();
            if !names.is_empty() {
                tx.batch_execute(&format!("TRUNCATE {}", names.join(", ")))
                    .db()?;
            }
            // Referenced tables first (foreign keys are checked per row).
            let edges: Vec<(String, String)> = tx
                .query(
                    "SELECT conrelid::regclass::text, confrelid::regclass::text
                     FROM pg_constraint WHERE contype = 'f'",
                    &[],
                )
                .db()?
                .iter()
                .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
                .collect();
            let mut order: Vec<&TableRows> = Vec::new();
            let mut left: Vec<&TableRows> = dumps.iter().collect();
            while !left.is_empty() {
                let ready = left.iter().position(|d| {
                    edges.iter().all(|(from, to)| {
                        from.trim_matches('"') != d.table
                            || to.trim_matches('"') == d.table
                            || !left.iter().any(|o| o.table == to.trim_matches('"'))
                    })
                });
                // A cycle: take the rest in order (the load then fails on
                // the first row whose reference is not there yet).
                order.push(left.remove(ready.unwrap_or(0)));
            }
            for d in order {
                let cols = tx
                    .query(
                        "SELECT column_name::text, data_type::text, is_identity::text
                         FROM information_schema.columns
                         WHERE table_schema = current_schema() AND table_name = $1",
                        &[&d.table],
                    )
                    .db()?;
                if cols.is_empty() {
                    return Err(Error::Environment(format!(
                        "the PostgreSQL store has no table {}",
                        d.table
                    )));
                }
                let mut types = Vec::new();
                for c in &d.columns {
                    let row = cols
                        .iter()
                        .find(|r| r.get::<_, String>(0) == *c)
                        .ok_or_else(|| {
                            Error::Environment(format!(
                                "the PostgreSQL store's {} has no column {c}",
                                d.table
                            ))
                        })?;
                    types.push(match row.get::<_, String>(1).as_str() {
                        "bigint" | "integer" => Type::INT8,
                        "boolean" => Type::BOOL,
                        _ => Type::TEXT,
                    });
                }
                let list: Vec<String> = d.columns.iter().map(|c| ident(c)).collect();
                let sink = tx
                    .copy_in(&format!(
                        "COPY {} ({}) FROM STDIN BINARY",
                        ident(&d.table),
                        list.join(", ")
                    ))
                    .db()?;
                let mut w = BinaryCopyInWriter::new(sink, &types);
                for r in &d.rows {
                    let params = d
                        .columns
                        .iter()
                        .zip(&types)
                        .zip(r)
                        .map(|((c, t), cell)| param(&d.table, c, t, cell))
                        .collect::<Result<Vec<_>>>()?;
                    let refs: Vec<&(dyn ToSql + Sync)> =
                        params.iter().map(|p| p.as_ref()).collect();
                    w.write(&refs).db()?;
                }
                w.finish().db()?;
                for c in cols.iter().filter(|r| r.get::<_, String>(2) == "YES") {
                    let col: String = c.get(0);
                    tx.execute(
                        &format!(
                            "SELECT setval(pg_get_serial_sequence($1, $2),
                               COALESCE((SELECT max({}) FROM {}), 1),
                               (SELECT max({}) FROM {}) IS NOT NULL)",
                            ident(&col),
                            ident(&d.table),
                            ident(&col),
                            ident(&d.table)
                        ),
                        &[&d.table, &col],
                    )
                    .db()?;
                }
            }
            // Derived, not copied: counted again from the beads loaded.
            tx.batch_execute(
                "DELETE FROM bead_counts;
                 INSERT INTO bead_counts (status, n)
                     SELECT status, count(*) FROM beads GROUP BY status;",
            )
            .db()?;
            Ok(())
        })
    }

    /// The rows of each of `tables` as stored (booleans as 0/1).
    pub fn dump_tables(&self, tables: &[&str]) -> Result<Vec<TableRows>> {
        let mut c = self.client();
        let mut out = Vec::new();
        for t in tables {
            let stmt = c.prepare(&format!("SELECT * FROM {}", ident(t))).db()?;
            let columns: Vec<String> = stmt
                .columns()
                .iter()
                .map(|c| c.name().to_string())
                .collect();
            let rows = c.query(&stmt, &[]).db()?;
            let mut out_rows = Vec::with_capacity(rows.len());
            for r in &rows {
                let mut cells = Vec::with_capacity(columns.len());
                for (i, col) in stmt.columns().iter().enumerate() {
                    let ty = col.type_();
                    let cell = if *ty == Type::INT8 {
                        r.try_get::<_, Option<i64>>(i)
                            .db()?
                            .map_or(Cell::Null, Cell::Int)
                    } else if *ty == Type::INT4 {
                        r.try_get::<_, Option<i32>>(i)
                            .db()?
                            .map_or(Cell::Null, |v| Cell::Int(v.into()))
                    } else if *ty == Type::BOOL {
                        r.try_get::<_, Option<bool>>(i)
                            .db()?
                            .map_or(Cell::Null, |v| Cell::Int(v.into()))
                    } else {
                        r.try_get::<_, Option<String>>(i)
                            .db()?
                            .map_or(Cell::Null, Cell::Text)
                    };
                    cells.push(cell);
                }
                out_rows.push(cells);
            }
            out.push(TableRows {
                table: t.to_string(),
                columns,
                rows: out_rows,
            });
        }
        Ok(out)
    }
}
