use super::*;
use crate::runtime::{preset, Runtime};

/// The state a fixture's file name says (`idle`, `waiting_for_input-login`,
/// ...; after another state, `-note` only tells fixtures apart, e.g.
/// `idle-after_api_error`).
fn expected(stem: &str) -> (String, Option<DialogReason>) {
    match stem.split_once('-') {
        Some(("waiting_for_input", reason)) => (
            "waiting_for_input".to_string(),
            Some(DialogReason::parse(reason).unwrap_or_else(|| panic!("unknown reason {reason}"))),
        ),
        Some((state, _note)) => (state.to_string(), None),
        None => (stem.to_string(), None),
    }
}

fn name(s: &ScreenState) -> (&'static str, Option<DialogReason>) {
    match s {
        ScreenState::Working => ("working", None),
        ScreenState::Idle => ("idle", None),
        ScreenState::WaitingForInput { reason, .. } => ("waiting_for_input", Some(*reason)),
        ScreenState::RateLimited => ("rate_limited", None),
        ScreenState::Error => ("error", None),
        ScreenState::Unknown => ("unknown", None),
    }
}

#[test]
fn every_fixture_classifies_as_its_file_name_says() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/screens");
    let mut checked = 0;
    let mut wrong = Vec::new();
    for cli in std::fs::read_dir(&root).unwrap() {
        let cli = cli.unwrap().path();
        if !cli.is_dir() {
            continue;
        }
        let cli_name = cli.file_name().unwrap().to_str().unwrap().to_string();
        let runtime: Runtime = preset(&cli_name).unwrap_or_else(|| panic!("no preset {cli_name}"));
        let patterns = Patterns::for_runtime(&runtime);
        for f in std::fs::read_dir(&cli).unwrap() {
            let f = f.unwrap().path();
            let stem = f.file_stem().unwrap().to_str().unwrap().to_string();
            let text = std::fs::read_to_string(&f).unwrap();
            let (state, reason) = expected(&stem);
            let got = classify(&text, &patterns);
            if name(&got) != (state.as_str(), reason) {
                wrong.push(format!("{cli_name}/{stem}: {got:?}"));
            }
            checked += 1;
        }
    }
    assert!(wrong.is_empty(), "misread fixtures:\n{}", wrong.join("\n"));
    assert!(checked >= 20, "only {checked} fixtures");
}

#[test]
fn generic_dialogs_without_a_preset() {
    let g = Patterns::default();
    let waiting = |s: &str| match classify(s, &g) {
        ScreenState::WaitingForInput { reason, .. } => Some(reason),
        _ => None,
    };
    assert_eq!(
        waiting("Trust this folder?\n> 1. Yes"),
        Some(DialogReason::FolderTrust)
    );
    assert_eq!(
        waiting("Do you trust the files in this folder?\n"),
        Some(DialogReason::FolderTrust)
    );
    assert_eq!(waiting("Overwrite? (y/n)"), Some(DialogReason::Confirm));
    assert_eq!(
        waiting("Continue? [(y)es, (n)o]:"),
        Some(DialogReason::Confirm)
    );
    assert_eq!(
        waiting(" ❯ 1. Yes, I accept\n   2. No"),
        Some(DialogReason::Confirm)
    );
    assert_eq!(waiting("│ ❯ 1. Keep going"), Some(DialogReason::Confirm));
    assert_eq!(
        waiting("Enter to confirm · Esc to exit"),
        Some(DialogReason::Confirm)
    );
    assert_eq!(
        waiting("Do you want to run cargo?"),
        Some(DialogReason::Permission)
    );
    // Not menus, not questions.
    assert_eq!(
        classify("1. first step\n2. second", &g),
        ScreenState::Unknown
    );
    assert_eq!(classify("> 12 files changed", &g), ScreenState::Unknown);
    assert_eq!(classify("", &g), ScreenState::Unknown);
}

#[test]
fn a_dialog_beats_a_busy_marker_and_old_dialogs_are_history() {
    let g = Patterns::default();
    assert!(matches!(
        classify("esc to interrupt\nDo you want to proceed? (y/n)", &g),
        ScreenState::WaitingForInput { .. }
    ));
    let mut s = String::from("Trust this folder?\n");
    for i in 0..20 {
        s.push_str(&format!("line {i}\n"));
    }
    assert_eq!(classify(&s, &g), ScreenState::Unknown);
}

#[test]
fn claude_in_bypass_mode_is_ready_without_shortcuts_footer() {
    let claude = Patterns::for_runtime(&preset("claude").unwrap());
    assert_eq!(
        classify(
            "done.\n  ⏵⏵ bypass permissions on (shift+tab to cycle)",
            &claude
        ),
        ScreenState::Idle
    );
    // A custom agent gets no preset texts.
    let mut custom = preset("claude").unwrap();
    custom.builtin = false;
    assert_eq!(
        classify(
            "done.\n  bypass permissions on",
            &Patterns::for_runtime(&custom)
        ),
        ScreenState::Unknown
    );
}

#[test]
fn a_pair_is_idle_only_when_still_at_the_prompt() {
    let p = Patterns::ready_only(Some("? for shortcuts"));
    let at = "out\n? for shortcuts";
    assert_eq!(classify_pair(at, at, &p), ScreenState::Idle);
    assert_eq!(classify_pair("out", at, &p), ScreenState::Working);
    assert_eq!(classify_pair("x", "compiling", &p), ScreenState::Working);
    // A bare prompt character is idle for one capture, not for a pair.
    assert_eq!(
        classify_pair("standin>", "standin>", &p),
        ScreenState::Working
    );
    assert!(matches!(
        classify_pair("x", "Allow this command? (y/n)", &p),
        ScreenState::WaitingForInput { .. }
    ));
}

#[test]
fn reasons_round_trip_their_names() {
    for r in ALL_REASONS {
        assert_eq!(DialogReason::parse(r.as_str()), Some(*r));
        assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
    }
}

#[test]
fn aider_back_at_its_prompt_after_a_commit_is_idle_on_two_observations() {
    // Its banner's `Repo-map:` is far above the bottom lines now; its own
    // `>` prompt line is what says it waits.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/screens");
    let text = std::fs::read_to_string(root.join("aider/idle-after_commit.txt")).unwrap();
    let aider = Patterns::for_runtime(&preset("aider").unwrap());
    assert_eq!(classify_pair(&text, &text, &aider), ScreenState::Idle);
    // Without the prompt line it would read as working (as it did).
    let mut no_prompt_line = aider.clone();
    no_prompt_line.preset.prompt_lines = &[];
    assert_eq!(
        classify_pair(&text, &text, &no_prompt_line),
        ScreenState::Working
    );
}

#[test]
fn aider_retries_are_an_error_until_its_next_prompt_line() {
    let aider = Patterns::for_runtime(&preset("aider").unwrap());
    let retrying = "> add a proof file\n\
        litellm.InternalServerError: OpenAIException - scripted error 500\n\
        The API provider's servers are down or overloaded.\n\
        Retrying in 0.2 seconds...\n";
    assert_eq!(classify(retrying, &aider), ScreenState::Error);
    let limited = "> add a proof file\n\
        litellm.RateLimitError: OpenAIException - scripted error 429\n\
        Retrying in 0.5 seconds...\n";
    assert_eq!(classify(limited, &aider), ScreenState::RateLimited);
    // Recovered: the reply, its commit, and the prompt again.
    let recovered = format!(
        "{retrying}proof.txt\n```\nrecovered\n```\nApplied edit to proof.txt\n\
         Commit 1a2b3c4 add proof.txt\n>\n"
    );
    assert_eq!(classify(&recovered, &aider), ScreenState::Idle);
    assert_eq!(
        classify_pair(&recovered, &recovered, &aider),
        ScreenState::Idle
    );
    // `>` only counts as the prompt alone or before typed text.
    let quoted = format!("{retrying}>>> not a prompt\n");
    assert_eq!(classify(&quoted, &aider), ScreenState::Error);
}
