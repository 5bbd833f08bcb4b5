//! A backend-neutral copy of a table's rows, for moving a town from one
//! store to another (`gt store migrate --to`) and checking the copy: the
//! same rows give the same [`TableRows::checksum`] whatever the backend
//! and whatever order they were read in.

use sha2::{Digest, Sha256};

/// One value of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// Every row of one table, with its column names.
#[derive(Debug, Clone, PartialEq)]
pub struct TableRows {
    pub table: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

impl TableRows {
    /// SHA-256 (hex) of the rows, each encoded with its column names and
    /// sorted: independent of the order rows were read in. A boolean and
    /// an integer 0/1 count the same (SQLite has no booleans).
    pub fn checksum(&self) -> String {
        let mut cols: Vec<usize> = (0..self.columns.len()).collect();
        cols.sort_by(|a, b| self.columns[*a].cmp(&self.columns[*b]));
        let mut encoded: Vec<Vec<u8>> = self
            .rows
            .iter()
            .map(|r| {
                let mut out = Vec::new();
                for &i in &cols {
                    out.extend_from_slice(self.columns[i].as_bytes());
                    out.push(0);
                    match r.get(i).unwrap_or(&Cell::Null) {
                        Cell::Null => out.push(b'n'),
                        Cell::Int(n) => {
                            out.push(b'i');
                            out.extend_from_slice(n.to_string().as_bytes());
                        }
                        Cell::Real(f) => {
                            out.push(b'r');
                            out.extend_from_slice(f.to_string().as_bytes());
                        }
                        Cell::Text(t) => {
                            out.push(b't');
                            out.extend_from_slice(&(t.len() as u64).to_be_bytes());
                            out.extend_from_slice(t.as_bytes());
                        }
                        Cell::Blob(b) => {
                            out.push(b'b');
                            out.extend_from_slice(&(b.len() as u64).to_be_bytes());
                            out.extend_from_slice(b);
                        }
                    }
                    out.push(0);
                }
                out
            })
            .collect();
        encoded.sort();
        let mut h = Sha256::new();
        for e in &encoded {
            h.update((e.len() as u64).to_be_bytes());
            h.update(e);
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checksum_ignores_row_and_column_order_but_not_values() {
        let a = TableRows {
            table: "t".into(),
            columns: vec!["id".into(), "name".into()],
            rows: vec![
                vec![Cell::Int(1), Cell::Text("a".into())],
                vec![Cell::Int(2), Cell::Null],
            ],
        };
        let b = TableRows {
            table: "t".into(),
            columns: vec!["name".into(), "id".into()],
            rows: vec![
                vec![Cell::Null, Cell::Int(2)],
                vec![Cell::Text("a".into()), Cell::Int(1)],
            ],
        };
        assert_eq!(a.checksum(), b.checksum());
        let mut c = a.clone();
        c.rows[1][1] = Cell::Text(String::new());
        assert_ne!(a.checksum(), c.checksum(), "NULL is not empty text");
        let mut d = a.clone();
        d.rows[0][1] = Cell::Text("b".into());
        assert_ne!(a.checksum(), d.checksum());
    }
}
