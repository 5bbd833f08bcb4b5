//! The SQLite backend passes the store conformance suite: a fresh database
//! in a temporary directory per case, its clock fixed at the suite's `NOW`.

use std::sync::Arc;

use gt_host::clock::FixedClock;
use gt_store::conformance::{Subject, NOW, PREFIX};
use gt_store_sqlite::SqliteStore;

fn sqlite() -> Subject {
    let dir = tempfile::tempdir().unwrap();
    let now =
        time::OffsetDateTime::parse(NOW, &time::format_description::well_known::Rfc3339).unwrap();
    let store =
        SqliteStore::create(&dir.path().join("t.db"), PREFIX, Arc::new(FixedClock(now))).unwrap();
    Subject {
        store: Box::new(store),
        guard: Box::new(dir),
    }
}

gt_store::store_conformance!(sqlite);
