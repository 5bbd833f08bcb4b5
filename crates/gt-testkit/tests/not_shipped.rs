//! gt-testkit is test support: no workspace crate may depend on it outside `[dev-dependencies]`.

use std::path::Path;

#[test]
fn no_crate_ships_the_testkit() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut checked = 0;
    for entry in std::fs::read_dir(&crates).unwrap() {
        let manifest = entry.unwrap().path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        let doc: toml::Table = text.parse().unwrap();
        for section in ["dependencies", "build-dependencies"] {
            let deps = doc.get(section).and_then(|v| v.as_table());
            assert!(
                !deps.is_some_and(|t| t.contains_key("gt-testkit")),
                "{} lists gt-testkit under [{section}]",
                manifest.display()
            );
        }
        checked += 1;
    }
    assert!(
        checked >= 6,
        "only {checked} manifests found under {}",
        crates.display()
    );
}
