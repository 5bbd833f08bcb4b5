//! The store seam, re-exported from `gt-store` at its old paths
//! (`gt_lib::store::BeadStore`, `gt_lib::store::merge`, …), and the SQLite
//! backend from `gt-store-sqlite` (`gt_lib::store::sqlite`).

pub use gt_store::*;
pub use gt_store::{deacon, mail, merge, observe};

pub use gt_store_sqlite as sqlite;
pub use gt_store_sqlite::SqliteStore;
