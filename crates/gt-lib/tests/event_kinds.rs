//! One list of event kinds: `gt_core::event::EventKind`. Every kind is
//! documented in docs/cli.md, parses back from its name, and the `kind`
//! modules beside the services only name the enum's kinds (no string of
//! their own), so a new kind cannot be added without the enum.

use std::path::{Path, PathBuf};

use gt_lib::event::EventKind;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_kind_is_documented_and_parses_back() {
    let doc = std::fs::read_to_string(root().join("docs/cli.md")).unwrap();
    for k in EventKind::ALL {
        assert!(
            doc.contains(&format!("`{}`", k.as_str())),
            "{k} is not in docs/cli.md"
        );
        assert_eq!(k.as_str().parse::<EventKind>().unwrap(), *k);
    }
    assert!("no.such_kind".parse::<EventKind>().is_err());
    let mut names: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
    names.dedup();
    assert_eq!(names.len(), EventKind::ALL.len(), "a kind is listed twice");
}

#[test]
fn kind_modules_only_name_the_enum() {
    let mut files = Vec::new();
    sources(&root().join("crates"), &mut files);
    let mut checked = 0;
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let mut in_kind = false;
        for line in text.lines() {
            let t = line.trim();
            if t.starts_with("pub mod kind {") {
                in_kind = true;
                continue;
            }
            if in_kind && t == "}" {
                in_kind = false;
            }
            if in_kind && t.starts_with("pub const") {
                checked += 1;
                assert!(
                    t.contains("EventKind::"),
                    "{}: an event kind that is not in EventKind: {t}",
                    f.display()
                );
            }
        }
    }
    assert!(
        checked >= 60,
        "only {checked} kind constants found: the scan is broken"
    );
}

#[test]
fn no_source_spells_a_kind_as_a_string_constant() {
    let mut files = Vec::new();
    sources(&root().join("crates"), &mut files);
    let kinds: Vec<String> = EventKind::ALL
        .iter()
        .map(|k| format!("\"{}\";", k.as_str()))
        .collect();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        // Session end reasons share some words with kinds (`done`).
        let mut in_end_reason = false;
        for line in text.lines() {
            let t = line.trim();
            if t.starts_with("pub mod end_reason") {
                in_end_reason = true;
            } else if in_end_reason && t == "}" {
                in_end_reason = false;
            }
            if !in_end_reason && t.contains("const ") && t.contains(": &str = ") {
                assert!(
                    !kinds.iter().any(|k| t.ends_with(k.as_str())),
                    "{}: an event kind spelled as a string: {t}",
                    f.display()
                );
            }
        }
    }
}
