//! A database of its own for each PostgreSQL test, on the server that
//! `GT_TEST_POSTGRES` names (a URL whose user may create databases;
//! `scripts/pg-test-server.sh start DIR` runs a private one, `.ci/run` does).
//! Without that variable a test prints one "skipped:" line and returns;
//! with `CI` set it fails instead, so CI never skips.

use std::sync::atomic::{AtomicU32, Ordering};

/// The variable naming the test server.
pub const VAR: &str = "GT_TEST_POSTGRES";

/// The test server's URL; `None` (after one "skipped:" line) without one.
///
/// # Panics
/// Under `CI` when the variable is not set.
pub fn server() -> Option<String> {
    match std::env::var(VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!("{VAR} is not set: CI must run the PostgreSQL tests")
        }
        _ => {
            println!("skipped: no PostgreSQL server (set {VAR}, see README)");
            None
        }
    }
}

/// A fresh, empty database, dropped (with any connection to it) when this
/// value is, even when the test fails.
pub struct TestDatabase {
    admin: String,
    name: String,
}

impl TestDatabase {
    /// Makes `gt_<tag>_<pid>_<n>` on the test server; `None` as
    /// [`server`] says.
    pub fn create(tag: &str) -> Option<TestDatabase> {
        static N: AtomicU32 = AtomicU32::new(0);
        let admin = server()?;
        let name = format!(
            "gt_{tag}_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let mut c = postgres::Client::connect(&admin, postgres::NoTls)
            .unwrap_or_else(|e| panic!("cannot reach {VAR}: {e}"));
        c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .unwrap();
        c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        Some(TestDatabase { admin, name })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// This database's URL: the server's, with its database replaced.
    pub fn url(&self) -> String {
        with_database(&self.admin, &self.name)
    }

    /// [`TestDatabase::url`] with `password` in it (the server of the tests
    /// trusts local connections, so any password is accepted).
    pub fn url_with_password(&self, password: &str) -> String {
        let url = self.url();
        let (scheme, rest) = url.split_once("://").expect("a URL");
        let (user, host) = rest.split_once('@').expect("a URL with a user");
        let user = user.split(':').next().unwrap_or(user);
        format!("{scheme}://{user}:{password}@{host}")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.admin, postgres::NoTls) {
            let _ = c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// `url` with its database name replaced by `db` (query kept).
pub fn with_database(url: &str, db: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_of_a_url_is_replaced() {
        assert_eq!(
            with_database("postgres://gt@127.0.0.1:5/postgres", "x"),
            "postgres://gt@127.0.0.1:5/x"
        );
        assert_eq!(
            with_database("postgres://gt@h/postgres?sslmode=disable", "x"),
            "postgres://gt@h/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://gt@h", "x"), "postgres://gt@h/x");
    }
}
