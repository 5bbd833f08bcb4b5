//! Every table's rows, backend-neutral, for `gt store migrate --to`.

use rusqlite::types::ValueRef;

use super::{DbResult, SqliteStore};
use gt_core::error::Result;
use gt_store::dump::{Cell, TableRows};

impl SqliteStore {
    /// The rows of every gt table, read in one transaction (a consistent
    /// snapshot), tables by name.
    pub fn dump_tables(&self) -> Result<Vec<TableRows>> {
        let tx = rusqlite::Transaction::new_unchecked(
            self.conn(),
            rusqlite::TransactionBehavior::Deferred,
        )
        .db()?;
        let names: Vec<String> = tx
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'table'
                 AND name NOT LIKE 'sqlite_%' AND name <> 'bead_counts' ORDER BY name",
            )
            .db()?
            .query_map([], |r| r.get(0))
            .db()?
            .collect::<rusqlite::Result<_>>()
            .db()?;
        let mut out = Vec::new();
        for table in names {
            // Names come from sqlite_master: quoted as identifiers anyway.
            let mut stmt = tx
                .prepare(&format!("SELECT * FROM \"{}\"", table.replace('"', "\"\"")))
                .db()?;
            let columns: Vec<String> = stmt.column_names().map(str::to_string).collect();
            let n = columns.len();
            let rows = stmt
                .query_map([], |r| {
                    (0..n)
                        .map(|i| {
                            Ok(match r.get_ref(i)? {
                                ValueRef::Null => Cell::Null,
                                ValueRef::Integer(v) => Cell::Int(v),
                                ValueRef::Real(v) => Cell::Real(v),
                                ValueRef::Text(t) => {
                                    Cell::Text(String::from_utf8_lossy(t).into_owned())
                                }
                                ValueRef::Blob(b) => Cell::Blob(b.to_vec()),
                            })
                        })
                        .collect::<rusqlite::Result<Vec<Cell>>>()
                })
                .db()?
                .collect::<rusqlite::Result<Vec<_>>>()
                .db()?;
            out.push(TableRows {
                table,
                columns,
                rows,
            });
        }
        tx.commit().db()?;
        Ok(out)
    }
}
