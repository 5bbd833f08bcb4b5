//! `gt rig trust` / `gt rig add --trust`: the runtimes' own folder-trust
//! settings are written in the test's HOME, everything else in them kept;
//! `--revoke` withdraws only what gt wrote; a settings file that does not
//! parse is left byte for byte alone and reported.

use serde_json::Value;

use crate::common::{source_repo, TestTown};

fn claude_json(t: &TestTown) -> Value {
    serde_json::from_str(&std::fs::read_to_string(t.home.join(".claude.json")).unwrap()).unwrap()
}

#[test]
fn trust_writes_each_present_runtime_and_revoke_takes_it_back() {
    let t = TestTown::new();
    std::fs::write(
        t.home.join(".claude.json"),
        r#"{"numStartups": 7, "projects": {"/elsewhere": {"hasTrustDialogAccepted": true}}}"#,
    )
    .unwrap();
    std::fs::create_dir(t.home.join(".codex")).unwrap();
    let codex = t.home.join(".codex/config.toml");
    std::fs::write(&codex, "# mine\nmodel = \"o3\"\n").unwrap();
    let src = source_repo(t.dir.path(), "src-app");
    t.ok(&["rig", "add", "app", src.to_str().unwrap(), "--trust"]);
    let polecats = t.root.join("app/polecats");
    let key = polecats.to_str().unwrap();
    let c = claude_json(&t);
    assert_eq!(c["numStartups"], 7);
    assert_eq!(c["projects"]["/elsewhere"]["hasTrustDialogAccepted"], true);
    assert_eq!(c["projects"][key]["hasTrustDialogAccepted"], true, "{c}");
    let toml_text = std::fs::read_to_string(&codex).unwrap();
    assert!(
        toml_text.starts_with("# mine\nmodel = \"o3\"\n"),
        "{toml_text}"
    );
    let doc: toml::Table = toml::from_str(&toml_text).unwrap();
    assert_eq!(
        doc["projects"][key]["trust_level"].as_str(),
        Some("trusted")
    );
    // Gemini is neither installed nor configured: nothing written for it.
    assert!(!t.home.join(".gemini").exists());
    // The statement is recorded, with its event.
    let cfg = t.json(&["rig", "config", "app"]);
    assert_eq!(cfg["trust"], true, "{cfg}");

    // A worktree that exists when trust is granted is written too.
    let gt = crate::common::gt_bin();
    t.set_agent(
        "standin-hang",
        &format!("{} agent-standin --behavior hang", gt.display()),
    );
    let s = t.sling("app", "hold this", "standin-hang");
    let wt = std::path::PathBuf::from(s["worktree"].as_str().unwrap());
    assert!(wt.is_dir(), "the sling made the worktree");
    let r = t.json(&["rig", "trust", "app"]);
    let c = claude_json(&t);
    assert_eq!(
        c["projects"][wt.to_str().unwrap()]["hasTrustDialogAccepted"],
        true
    );
    assert_eq!(r["trusted"], true);

    let r = t.json(&["rig", "trust", "app", "--revoke"]);
    assert_eq!(r["trusted"], false);
    let c = claude_json(&t);
    assert!(
        c["projects"][key].get("hasTrustDialogAccepted").is_none(),
        "{c}"
    );
    assert_eq!(c["projects"]["/elsewhere"]["hasTrustDialogAccepted"], true);
    let doc: toml::Table = toml::from_str(&std::fs::read_to_string(&codex).unwrap()).unwrap();
    assert!(doc.get("projects").and_then(|p| p.get(key)).is_none());
    assert!(t.json(&["rig", "config", "app"]).get("trust").is_none());
}

#[test]
fn a_settings_file_that_does_not_parse_is_left_alone() {
    let t = TestTown::new();
    let broken = b"{\"projects\": {oops";
    std::fs::write(t.home.join(".claude.json"), broken).unwrap();
    let src = source_repo(t.dir.path(), "src-app");
    t.ok(&["rig", "add", "app", src.to_str().unwrap()]);
    let r = t.json(&["rig", "trust", "app"]);
    let claude = &r["runtimes"][0];
    assert_eq!(claude["runtime"], "claude", "{r}");
    assert!(
        claude["error"].as_str().unwrap().contains("not valid JSON"),
        "{r}"
    );
    assert_eq!(std::fs::read(t.home.join(".claude.json")).unwrap(), broken);
    // Unknown rigs are refused before anything is written.
    let err = t.fails(&["rig", "trust", "nope"], 1);
    assert!(err.contains("nope"), "{err}");
}
