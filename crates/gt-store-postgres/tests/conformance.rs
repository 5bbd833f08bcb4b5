//! The PostgreSQL backend passes the store conformance suite: a fresh
//! database per case on the server `GT_TEST_POSTGRES` names (a URL whose
//! user may create databases; `scripts/pg-test-server.sh start DIR` runs a
//! private one), its clock fixed at the suite's `NOW`. Without that variable
//! each case prints one "skipped:" line, except in CI (`CI` set), where it
//! fails: CI always has a server.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use gt_host::clock::FixedClock;
use gt_store::conformance::{Subject, NOW, PREFIX};
use gt_store_postgres::PgStore;

/// Drops the case's database when the case ends (even on failure).
struct Database {
    admin: String,
    name: String,
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.admin, postgres::NoTls) {
            let _ = c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// `url` with its database name replaced by `db`.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

fn server() -> Option<String> {
    match std::env::var("GT_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!("GT_TEST_POSTGRES is not set: CI must run the PostgreSQL tests")
        }
        _ => None,
    }
}

fn postgres() -> Option<Subject> {
    static N: AtomicU32 = AtomicU32::new(0);
    let Some(admin) = server() else {
        println!("skipped: no PostgreSQL server (set GT_TEST_POSTGRES, see README)");
        return None;
    };
    let name = format!(
        "gt_conf_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let mut c = postgres::Client::connect(&admin, postgres::NoTls)
        .unwrap_or_else(|e| panic!("cannot reach GT_TEST_POSTGRES: {e}"));
    c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
    let guard = Database {
        admin: admin.clone(),
        name: name.clone(),
    };
    let now =
        time::OffsetDateTime::parse(NOW, &time::format_description::well_known::Rfc3339).unwrap();
    let store = PgStore::create(
        &with_database(&admin, &name),
        PREFIX,
        Arc::new(FixedClock(now)),
    )
    .unwrap();
    Some(Subject {
        store: Box::new(store),
        guard: Box::new(guard),
    })
}

gt_store::store_conformance!(postgres);
