//! The conformance suite covers every store method: each `fn name(` of a
//! trait in `src/` must be called (`.name(`) by some case under
//! `src/conformance/`, and every case there must be in `store_conformance!`
//! (a case left out of the macro never runs). Adding a trait method without
//! a case fails here.

use std::collections::BTreeSet;
use std::path::Path;

fn src(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(rel)).unwrap()
}

/// The identifier after each `fn ` in `text`.
fn fn_names(text: &str) -> Vec<String> {
    text.match_indices("fn ")
        .filter(|(i, _)| *i == 0 || !text.as_bytes()[i - 1].is_ascii_alphanumeric())
        .map(|(i, _)| {
            text[i + 3..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

/// Method names of every `pub trait … { … }` in a source file.
fn trait_methods(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("\npub trait ") {
        let after = &rest[i + "\npub trait ".len()..];
        let name: String = after
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let end = after.find("\n}").expect("trait block ends");
        for m in fn_names(&after[..end]) {
            out.push((name.clone(), m));
        }
        rest = &after[end..];
    }
    out
}

#[test]
fn every_store_method_has_a_conformance_case() {
    let mut methods = Vec::new();
    for f in [
        "lib.rs",
        "deacon.rs",
        "mail.rs",
        "merge.rs",
        "observe.rs",
        "costs.rs",
        "host.rs",
    ] {
        methods.extend(trait_methods(&src(f)));
    }
    let traits: BTreeSet<&str> = methods.iter().map(|(t, _)| t.as_str()).collect();
    for t in [
        "BeadStore",
        "EventStore",
        "RigStore",
        "WorkStore",
        "MailStore",
        "MergeStore",
        "ObserveStore",
        "DeaconStore",
        "CostStore",
        "HostStore",
        "StoreMaintenance",
    ] {
        assert!(
            traits.contains(t),
            "trait {t} not found in the sources: {traits:?}"
        );
    }
    assert!(
        methods.len() > 90,
        "too few methods found: {}",
        methods.len()
    );
    let mut suite = String::new();
    for f in [
        "beads.rs",
        "work.rs",
        "comms.rs",
        "merge.rs",
        "deacon.rs",
        "costs.rs",
        "hosts.rs",
    ] {
        suite.push_str(&src(&format!("conformance/{f}")));
    }
    let missing: Vec<String> = methods
        .iter()
        .filter(|(_, m)| !suite.contains(&format!(".{m}(")))
        .map(|(t, m)| format!("{t}::{m}"))
        .collect();
    assert!(
        missing.is_empty(),
        "store methods without a conformance case: {missing:?}"
    );
}

#[test]
fn every_conformance_case_runs() {
    let macro_src = src("conformance/mod.rs");
    let mut cases = 0;
    for f in ["beads", "work", "comms", "merge", "deacon", "costs"] {
        let text = src(&format!("conformance/{f}.rs"));
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("pub fn ") {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                assert!(
                    macro_src.contains(&format!("{f}::{name},")),
                    "case {f}::{name} is not in store_conformance!"
                );
                cases += 1;
            }
        }
    }
    assert!(cases >= 30, "only {cases} cases found");
}
