//! The crate graph of `docs/architecture.md`, checked from the manifests:
//! which workspace crate may depend on which, and that the SQLite driver
//! stays in the one crate that holds the SQLite backend.

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
    for name in ["gt-core", "gt-host", "gt-lib", "gt-cli"] {
        assert!(graph.contains_key(name), "{name} is missing: {graph:?}");
    }
    let set = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(workspace_deps(&graph, "gt-core"), set(&[]));
    assert_eq!(workspace_deps(&graph, "gt-host"), set(&["gt-core"]));
    assert_eq!(
        workspace_deps(&graph, "gt-lib"),
        set(&["gt-core", "gt-host"])
    );
    assert!(!workspace_deps(&graph, "gt-lib").contains("gt-cli"));
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
        ["gt-lib"],
        "rusqlite belongs to the SQLite backend only"
    );
}
