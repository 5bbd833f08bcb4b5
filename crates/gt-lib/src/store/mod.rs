//! The store seam, re-exported from `gt-store` at its old paths
//! (`gt_lib::store::BeadStore`, `gt_lib::store::merge`, …), and the SQLite
//! backend.

pub use gt_store::*;
pub use gt_store::{deacon, mail, merge, observe};

pub mod sqlite;

pub use sqlite::SqliteStore;
