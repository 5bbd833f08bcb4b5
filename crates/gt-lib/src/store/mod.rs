//! The store seam, re-exported from `gt-store` at its old paths
//! (`gt_lib::store::BeadStore`, `gt_lib::store::merge`, …), and the SQLite
//! backend crate `gt-store-sqlite` as `gt_lib::store::sqlite` (for `gt
//! version`'s schema number and tests that poke the database file). Callers
//! hold the traits: the store is opened by [`crate::town::Town::store`], the
//! one place that names the backend type.

pub use gt_store::*;
pub use gt_store::{costs, deacon, mail, merge, observe};

pub use gt_store_sqlite as sqlite;
