//! The crate graph of `docs/architecture.md`, checked from the manifests:
//! which workspace crate may depend on which, that the SQLite driver stays in
//! the one crate that holds the SQLite backend, and that the stand-in agent
//! is outside the domain library and reaches no store backend. Also checked
//! from the sources: names that used to collide stay apart.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every workspace crate with the dependencies it declares (normal, dev and
/// build), read from `crates/*/Cargo.toml`.
fn manifests() -> BTreeMap<String, BTreeSet<String>> {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut graph = BTreeMap::new();
    for entry in std::fs::read_dir(&crates).unwrap() {
        let manifest = entry.unwrap().path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        let doc: toml::Table = text.parse().unwrap();
        let name = doc["package"]["name"].as_str().unwrap().to_string();
        let mut deps = BTreeSet::new();
        for section in ["dependencies", "dev-dependencies", "build-dependencies"] {
            if let Some(t) = doc.get(section).and_then(|v| v.as_table()) {
                deps.extend(t.keys().cloned());
            }
        }
        graph.insert(name, deps);
    }
    graph
}

fn workspace_deps(graph: &BTreeMap<String, BTreeSet<String>>, name: &str) -> BTreeSet<String> {
    graph[name]
        .iter()
        .filter(|d| graph.contains_key(*d))
        .cloned()
        .collect()
}

#[test]
fn crate_graph_follows_the_architecture() {
    let graph = manifests();
    for name in [
        "gt-core",
        "gt-store",
        "gt-store-sqlite",
        "gt-store-postgres",
        "gt-host",
        "gt-agents",
        "gt-lib",
        "gt-standin",
        "gt-cli",
        "gt-web",
    ] {
        assert!(graph.contains_key(name), "{name} is missing: {graph:?}");
    }
    let set = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(workspace_deps(&graph, "gt-core"), set(&[]));
    assert_eq!(workspace_deps(&graph, "gt-host"), set(&["gt-core"]));
    // The store seam: traits over domain types, no backend.
    assert_eq!(workspace_deps(&graph, "gt-store"), set(&["gt-core"]));
    // The SQLite backend: the traits, the domain types and the clock.
    assert_eq!(
        workspace_deps(&graph, "gt-store-sqlite"),
        set(&["gt-core", "gt-host", "gt-store"])
    );
    // The PostgreSQL backend: the same, and no other backend (its tests
    // take their database from the test kit).
    assert_eq!(
        workspace_deps(&graph, "gt-store-postgres"),
        set(&["gt-core", "gt-host", "gt-store", "gt-testkit"])
    );
    assert_eq!(
        workspace_deps(&graph, "gt-lib"),
        set(&[
            "gt-core",
            "gt-agents",
            "gt-host",
            "gt-store",
            "gt-store-postgres",
            "gt-store-sqlite"
        ])
    );
    assert!(!workspace_deps(&graph, "gt-lib").contains("gt-cli"));
    // The runtimes and the screen classifier: domain types and text only.
    assert_eq!(workspace_deps(&graph, "gt-agents"), set(&["gt-core"]));
    // The stand-in drives gt through its CLI: it needs the error type only.
    assert_eq!(workspace_deps(&graph, "gt-standin"), set(&["gt-core"]));
    // The CLI's integration tests drive the real agent CLIs against the
    // scripted model server: gt-testkit, as a dev-dependency only
    // (`gt-testkit/tests/not_shipped.rs` refuses it anywhere else).
    assert_eq!(
        workspace_deps(&graph, "gt-cli"),
        set(&["gt-lib", "gt-standin", "gt-testkit", "gt-web"])
    );
    // The web dashboard is a thin layer over the services, like the CLI:
    // no store backend, host effect or runtime of its own.
    assert_eq!(workspace_deps(&graph, "gt-web"), set(&["gt-lib"]));
}

/// The crates `name` reaches through workspace dependencies, itself included.
fn reach(graph: &BTreeMap<String, BTreeSet<String>>, name: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![name.to_string()];
    while let Some(n) = todo.pop() {
        if seen.insert(n.clone()) {
            todo.extend(workspace_deps(graph, &n));
        }
    }
    seen
}

#[test]
fn crate_graph_standin_depends_on_no_store_backend() {
    let graph = manifests();
    // A store backend is a crate that names a database driver.
    let drivers = ["rusqlite", "postgres", "tokio-postgres", "sqlx", "diesel"];
    let backends: BTreeSet<&String> = graph
        .iter()
        .filter(|(_, deps)| drivers.iter().any(|d| deps.contains(*d)))
        .map(|(name, _)| name)
        .collect();
    assert!(!backends.is_empty(), "no store backend found: {graph:?}");
    for top in ["gt-standin", "gt-agents", "gt-store"] {
        for n in reach(&graph, top) {
            assert!(
                !backends.contains(&n),
                "{top} reaches the store backend {n}"
            );
            for d in drivers {
                assert!(!graph[&n].contains(d), "{top} reaches {d} through {n}");
            }
        }
    }
    // And the domain library does not carry the stand-in or the demo.
    assert!(!reach(&graph, "gt-lib").contains("gt-standin"));
    assert!(!reach(&graph, "gt-agents").contains("gt-lib"));
    assert!(
        !Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/runtime.rs")
            .exists(),
        "runtime.rs lives in gt-agents"
    );
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for moved in ["standin.rs", "demo.rs"] {
        assert!(
            !src.join(moved).exists(),
            "{moved} belongs outside the domain library"
        );
    }
}

#[test]
fn crate_graph_rusqlite_only_in_the_sqlite_backend() {
    let graph = manifests();
    let users: Vec<&String> = graph
        .iter()
        .filter(|(_, deps)| deps.contains("rusqlite"))
        .map(|(name, _)| name)
        .collect();
    assert_eq!(
        users,
        ["gt-store-sqlite"],
        "rusqlite belongs to the SQLite backend only"
    );
    // Nor does any other crate's source name it.
    let named: Vec<String> = sources()
        .into_iter()
        .filter(|(p, _)| !p.components().any(|c| c.as_os_str() == "gt-store-sqlite"))
        .filter(|(_, t)| t.contains("rusqlite"))
        .map(|(p, _)| p.display().to_string())
        .collect();
    assert!(
        named.is_empty(),
        "rusqlite named outside its crate: {named:?}"
    );
}

#[test]
fn crate_graph_the_store_seam_has_no_backend() {
    let graph = manifests();
    // gt-store is traits over domain types: no driver, no backend crate.
    for n in reach(&graph, "gt-store") {
        for d in ["rusqlite", "postgres", "tokio-postgres", "sqlx", "diesel"] {
            assert!(!graph[&n].contains(d), "gt-store reaches {d} through {n}");
        }
        assert_ne!(n, "gt-store-sqlite", "gt-store depends on a backend");
    }
    let migrations = Path::new(env!("CARGO_MANIFEST_DIR")).join("../gt-store-sqlite/migrations");
    assert!(migrations.join("0001_beads_events.sql").exists());
    assert!(
        !Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/store/sqlite")
            .exists(),
        "the SQLite backend lives in gt-store-sqlite"
    );
}

/// Every `.rs` file under `crates/*/src`, with its text.
fn sources() -> Vec<(std::path::PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<(std::path::PathBuf, String)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).unwrap();
                out.push((p, text));
            }
        }
    }
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&crates).unwrap() {
        walk(&entry.unwrap().path().join("src"), &mut out);
    }
    out
}

/// Where a type named `name` is defined (`struct` or `enum`).
fn definitions(name: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (path, text) in sources() {
        for (i, line) in text.lines().enumerate() {
            let l = line.trim_start();
            let l = l.strip_prefix("pub ").unwrap_or(l);
            for kw in ["struct ", "enum "] {
                if let Some(rest) = l.strip_prefix(kw) {
                    let ident: String = rest
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if ident == name {
                        found.push(format!("{}:{}", path.display(), i + 1));
                    }
                }
            }
        }
    }
    found
}

#[test]
fn names_do_not_collide() {
    // "hook" is a bead hooked to a polecat; the runtime's lifecycle hooks
    // live in `agent_hooks`.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    assert!(!src.join("hooks.rs").exists(), "hooks.rs is agent_hooks.rs");
    assert!(src.join("agent_hooks.rs").exists());
    for name in ["AgentState", "DeaconStatus"] {
        let defs = definitions(name);
        assert_eq!(defs.len(), 1, "{name} must be one type: {defs:?}");
    }
    // `gt attach` and the dashboard's attach share one implementation: the
    // tmux attach command is built in one place of the CLI.
    let calls: Vec<String> = sources()
        .into_iter()
        .filter(|(p, _)| p.components().any(|c| c.as_os_str() == "gt-cli"))
        .filter(|(_, t)| t.contains(".attach_command("))
        .map(|(p, _)| p.display().to_string())
        .collect();
    assert_eq!(
        calls.len(),
        1,
        "attach is written more than once: {calls:?}"
    );
}

/// The part of a source file before its unit tests.
fn non_test(text: &str) -> &str {
    text.split("#[cfg(test)]").next().unwrap_or(text)
}

#[test]
fn crate_graph_callers_hold_the_store_traits() {
    let sources = sources();
    let in_crate = |p: &Path, name: &str| p.components().any(|c| c.as_os_str() == name);
    // Outside the backend, SqliteStore is named by one function only:
    // `Town::store`'s `open_store` (the `use` line aside).
    let naming: Vec<String> = sources
        .iter()
        .filter(|(p, _)| !in_crate(p, "gt-store-sqlite"))
        // A module's unit tests in their own `tests.rs` are test code too.
        .filter(|(p, _)| p.file_name().is_none_or(|n| n != "tests.rs"))
        .filter(|(_, t)| non_test(t).contains("SqliteStore"))
        .map(|(p, _)| p.display().to_string())
        .collect();
    assert_eq!(
        naming.len(),
        1,
        "SqliteStore named outside Town::store: {naming:?}"
    );
    assert!(naming[0].ends_with("gt-lib/src/town.rs"), "{naming:?}");
    let town = non_test(
        &sources
            .iter()
            .find(|(p, _)| p.ends_with("gt-lib/src/town.rs"))
            .unwrap()
            .1,
    )
    .to_string();
    // `open_store`, and `open_sqlite_for_migration` for `gt store migrate`
    // (which reads the SQLite tables themselves).
    let span = |f: &str| {
        let start = town.find(f).expect("town.rs has the function");
        start..start + town[start..].find("\n}\n").unwrap()
    };
    let allowed = [
        span("fn open_store("),
        span("fn open_sqlite_for_migration("),
    ];
    for (i, _) in town.match_indices("SqliteStore") {
        let line = town[..i].rsplit('\n').next().unwrap_or("");
        assert!(
            allowed.iter().any(|r| r.contains(&i)) || line.starts_with("use "),
            "town.rs names SqliteStore outside open_store: {line}"
        );
    }
    // The CLI never names SqliteStore nor the backend crate (`gt version`
    // asks `gt_lib::town::latest_schema_version`).
    let cli: Vec<&(std::path::PathBuf, String)> = sources
        .iter()
        .filter(|(p, _)| in_crate(p, "gt-cli"))
        .collect();
    assert!(cli.iter().all(|(_, t)| !t.contains("SqliteStore")));
    let backend: Vec<String> = cli
        .iter()
        .filter(|(_, t)| t.contains("store::sqlite") || t.contains("gt_store_sqlite"))
        .map(|(p, _)| p.display().to_string())
        .collect();
    assert!(backend.is_empty(), "the CLI names the backend: {backend:?}");
    // The workspace holds the trait object.
    let ws = &sources
        .iter()
        .find(|(p, _)| p.ends_with("gt-lib/src/workspace.rs"))
        .unwrap()
        .1;
    assert!(ws.contains("pub store: Box<dyn Store + Send>"));
}

#[test]
fn crate_graph_only_the_town_names_the_backend() {
    // Above the store, a backend (SQLite, PostgreSQL) is named in one file of the
    // services (`town.rs`: open/create and the schema number) and re-exported
    // once (`store/mod.rs`); the CLI and the other services hold the traits
    // (costs.rs only for another program's database, below).
    let named: Vec<String> = sources()
        .into_iter()
        .filter(|(p, _)| {
            !p.components().any(|c| {
                c.as_os_str() == "gt-store-sqlite"
                    || c.as_os_str() == "gt-store-postgres"
                    || c.as_os_str() == "gt-testkit"
            })
        })
        .filter(|(p, _)| !p.ends_with("tests.rs"))
        // Unit tests (the `#[cfg(test)]` module at a file's end) may open the
        // backend directly.
        .filter(|(_, t)| {
            let code = t.split("#[cfg(test)]").next().unwrap_or(t);
            code.contains("gt_store_sqlite")
                || code.contains("store::sqlite")
                || code.contains("gt_store_postgres")
        })
        .map(|(p, _)| {
            let s = p.display().to_string();
            s[s.find("crates/").unwrap_or(0)..].to_string()
        })
        .collect();
    let mut named: Vec<&str> = named
        .iter()
        .map(|s| s.trim_start_matches("crates/../"))
        .collect();
    named.sort_unstable();
    assert!(
        // costs.rs reads OpenCode's own database (read-only, not the
        // town's) through the backend's `foreign` module: rusqlite lives there.
        named.iter().all(|p| p.ends_with("gt-lib/src/town.rs")
            || p.ends_with("gt-lib/src/store/mod.rs")
            || p.ends_with("gt-lib/src/costs.rs")),
        "the backend is named outside town.rs and store/mod.rs: {named:?}"
    );
}

#[test]
fn crate_graph_rules_live_above_the_store() {
    // The state machine is `gt_core::rules`: a backend reads rows, calls a
    // rule and writes what it returns. So no backend source (outside its
    // unit tests) refuses, picks a status or words an event itself —
    // neither the SQLite nor the PostgreSQL one.
    let decisions = [
        "NewEvent::new(",
        "Error::refused(",
        "Error::invalid(",
        "Error::Cycle(",
        "set_status(",
    ];
    let mut found = Vec::new();
    for (p, text) in sources() {
        if !p
            .components()
            .any(|c| c.as_os_str() == "gt-store-sqlite" || c.as_os_str() == "gt-store-postgres")
        {
            continue;
        }
        let code = text.split("#[cfg(test)]").next().unwrap_or(&text);
        for (n, line) in code.lines().enumerate() {
            // Opening a store is refused before any row is read (a database
            // file that exists, a database that already holds a town, a URL
            // that does not parse): decisions about the store, not the domain.
            let next = code.lines().nth(n + 1).unwrap_or_default();
            if p.ends_with("lib.rs")
                && [
                    "database already exists",
                    "already holds a gt town",
                    "bad store URL",
                ]
                .iter()
                .any(|m| line.contains(m) || next.contains(m))
            {
                continue;
            }
            if let Some(d) = decisions.iter().find(|d| line.contains(*d)) {
                found.push(format!("{}:{}: {d}", p.display(), n + 1));
            }
        }
    }
    assert!(
        found.is_empty(),
        "a store backend decides for itself (move it to gt_core::rules): {found:#?}"
    );
    // And the rules are there, one file per concern.
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../gt-core/src/rules");
    for concern in [
        "bead.rs",
        "comms.rs",
        "deacon.rs",
        "merge.rs",
        "work/mod.rs",
    ] {
        assert!(rules.join(concern).is_file(), "rules/{concern} is missing");
    }
}
