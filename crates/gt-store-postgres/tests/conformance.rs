//! The PostgreSQL backend passes the store conformance suite: a fresh
//! database per case on the server `GT_TEST_POSTGRES` names (a URL whose
//! user may create databases; `scripts/pg-test-server.sh start DIR` runs a
//! private one), its clock fixed at the suite's `NOW`. Without that variable
//! each case prints one "skipped:" line, except in CI (`CI` set), where it
//! fails: CI always has a server.

use std::sync::Arc;

use gt_host::clock::FixedClock;
use gt_store::conformance::{Subject, NOW, PREFIX};
use gt_store_postgres::PgStore;
use gt_testkit::postgres::TestDatabase;

fn postgres() -> Option<Subject> {
    let db = TestDatabase::create("conf")?;
    let now =
        time::OffsetDateTime::parse(NOW, &time::format_description::well_known::Rfc3339).unwrap();
    let store = PgStore::create(&db.url(), PREFIX, Arc::new(FixedClock(now))).unwrap();
    Some(Subject {
        store: Box::new(store),
        guard: Box::new(db),
    })
}

gt_store::store_conformance!(postgres);
