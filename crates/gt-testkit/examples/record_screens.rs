//! Records the screens of the real agent CLIs for gt's screen fixtures
//! (`crates/gt-agents/testdata/screens/<cli>/<state>.txt`).
//!
//! Each scenario starts one real CLI in tmux (a private socket, a 200x50
//! window, `remain-on-exit`) with a temporary HOME and a git repository as
//! its directory, pointed at the scripted model server, waits until a text
//! of the state shows, lets the screen settle, and writes
//! `tmux capture-pane -p` byte for byte.
//!
//! ```text
//! cargo run -p gt-testkit --example record_screens -- OUT_DIR [CLI...]
//! ```
//!
//! The CLIs are found from `GT_TEST_CLAUDE`, `GT_TEST_CODEX`, `GT_TEST_GEMINI`,
//! `GT_TEST_OPENCODE`, `GT_TEST_AIDER` (`.ci/install-agents.sh` prints them);
//! a CLI without its variable is left out. A scenario whose text never shows
//! writes nothing and is reported.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use gt_testkit::model_server::{when, ModelServer, Reply, Script};

/// One recording: a CLI started in a prepared HOME, a text to wait for.
struct Scenario {
    cli: &'static str,
    state: &'static str,
    /// Text whose appearance means the state is on screen.
    wait_for: &'static [&'static str],
    script: fn() -> Script,
    /// Writes config into HOME; `base` is the server's URL, `work` the repo.
    setup: fn(home: &Path, work: &Path, base: &str),
    argv: fn(cli: &Path, base: &str) -> Vec<String>,
    env: fn(base: &str) -> Vec<(String, String)>,
}

fn greet() -> Script {
    Script::new()
        .when(
            when::and(when::offers_tools(), when::user_turn()),
            Reply::text("Hello from the scripted model."),
        )
        .otherwise(Reply::text("Hello from the scripted model."))
}

fn slow_tool() -> Script {
    Script::new()
        .when(
            when::last_tool_result_contains("SLEPT"),
            Reply::text("Done sleeping."),
        )
        .when(
            when::and(when::offers_tools(), when::user_turn()),
            Reply::shell("python3 -c 'import time; time.sleep(120)' && echo SL''EPT"),
        )
        .otherwise(Reply::text("ok"))
}

fn api_500() -> Script {
    Script::new()
        .when(when::offers_tools(), Reply::error(500))
        .otherwise(Reply::error(500))
}

fn api_429() -> Script {
    Script::new()
        .when(when::offers_tools(), Reply::error(429))
        .otherwise(Reply::text("ok"))
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn kv(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(k, x)| (k.to_string(), x.to_string()))
        .collect()
}

// --- Claude Code -----------------------------------------------------------

fn claude_env(base: &str) -> Vec<(String, String)> {
    kv(&[
        ("ANTHROPIC_BASE_URL", base),
        ("ANTHROPIC_AUTH_TOKEN", "scripted-token"),
        ("DISABLE_AUTOUPDATER", "1"),
        ("DISABLE_TELEMETRY", "1"),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
        ("CLAUDE_CODE_MAX_RETRIES", "0"),
        ("IS_SANDBOX", "1"),
    ])
}

fn claude_api_key_env(base: &str) -> Vec<(String, String)> {
    let mut env: Vec<_> = claude_env(base)
        .into_iter()
        .filter(|(k, _)| k != "ANTHROPIC_AUTH_TOKEN")
        .collect();
    env.push((
        "ANTHROPIC_API_KEY".into(),
        "sk-ant-scripted-key-0123456789abcdef".into(),
    ));
    env
}

fn claude_json(home: &Path, work: Option<&Path>) {
    let mut v = serde_json::json!({ "hasCompletedOnboarding": true });
    if let Some(w) = work {
        v["projects"][w.to_string_lossy().as_ref()] =
            serde_json::json!({ "hasTrustDialogAccepted": true });
    }
    std::fs::write(home.join(".claude.json"), v.to_string()).unwrap();
}

fn claude_settings(home: &Path) {
    std::fs::create_dir_all(home.join(".claude")).unwrap();
    std::fs::write(
        home.join(".claude/settings.json"),
        r#"{"skipDangerousModePermissionPrompt": true}"#,
    )
    .unwrap();
}

fn claude_untrusted(home: &Path, _work: &Path, _base: &str) {
    claude_json(home, None);
    claude_settings(home);
}

fn claude_no_skip(home: &Path, work: &Path, _base: &str) {
    claude_json(home, Some(work));
}

fn claude_ready(home: &Path, work: &Path, _base: &str) {
    claude_json(home, Some(work));
    claude_settings(home);
}

fn claude_argv(cli: &Path, _base: &str) -> Vec<String> {
    vec![
        cli.display().to_string(),
        "--dangerously-skip-permissions".into(),
    ]
}

fn claude_prompt_argv(cli: &Path, base: &str) -> Vec<String> {
    let mut v = claude_argv(cli, base);
    v.push("Say hello.".into());
    v
}

fn claude_continue_argv(cli: &Path, base: &str) -> Vec<String> {
    let mut v = claude_argv(cli, base);
    v.push("--continue".into());
    v
}

// --- Codex -----------------------------------------------------------------

fn codex_config(home: &Path, work: Option<&Path>, base: &str) {
    let dir = home.join(".codex");
    std::fs::create_dir_all(&dir).unwrap();
    let mut text = format!(
        "model_provider = \"scripted\"\nmodel = \"scripted-model\"\n\n\
         [model_providers.scripted]\nname = \"scripted\"\nbase_url = \"{base}/v1\"\n\
         env_key = \"SCRIPTED_API_KEY\"\nwire_api = \"responses\"\n"
    );
    if let Some(w) = work {
        text.push_str(&format!(
            "\n[projects.\"{}\"]\ntrust_level = \"trusted\"\n",
            w.display()
        ));
    }
    std::fs::write(dir.join("config.toml"), text).unwrap();
}

fn codex_untrusted(home: &Path, _work: &Path, base: &str) {
    codex_config(home, None, base);
}

fn codex_ready(home: &Path, work: &Path, base: &str) {
    codex_config(home, Some(work), base);
}

fn codex_env(_base: &str) -> Vec<(String, String)> {
    kv(&[("SCRIPTED_API_KEY", "scripted-token")])
}

fn codex_argv(cli: &Path, _base: &str) -> Vec<String> {
    vec![
        cli.display().to_string(),
        "--dangerously-bypass-approvals-and-sandbox".into(),
        "--no-daemon".into(),
    ]
}

fn codex_prompt_argv(cli: &Path, base: &str) -> Vec<String> {
    let mut v = codex_argv(cli, base);
    v.push("Say hello.".into());
    v
}

// --- Gemini CLI --------------------------------------------------------------

fn gemini_settings(home: &Path, trust_checks: bool) {
    std::fs::create_dir_all(home.join(".gemini")).unwrap();
    let v = serde_json::json!({
        "security": { "auth": { "selectedType": "gemini-api-key" },
                      "folderTrust": { "enabled": trust_checks } },
        "general": { "disableAutoUpdate": true, "disableUpdateNag": true },
        "privacy": { "usageStatisticsEnabled": false },
        "telemetry": { "enabled": false },
    });
    std::fs::write(home.join(".gemini/settings.json"), v.to_string()).unwrap();
}

fn gemini_untrusted(home: &Path, _work: &Path, _base: &str) {
    gemini_settings(home, true);
}

fn gemini_ready(home: &Path, _work: &Path, _base: &str) {
    gemini_settings(home, false);
}

fn gemini_env(base: &str) -> Vec<(String, String)> {
    kv(&[
        ("GOOGLE_GEMINI_BASE_URL", base),
        ("GEMINI_API_KEY", "scripted-token"),
    ])
}

fn gemini_argv(cli: &Path, _base: &str) -> Vec<String> {
    vec![
        cli.display().to_string(),
        "--approval-mode".into(),
        "yolo".into(),
    ]
}

fn gemini_prompt_argv(cli: &Path, base: &str) -> Vec<String> {
    let mut v = gemini_argv(cli, base);
    v.extend(["--prompt-interactive".into(), "Say hello.".into()]);
    v
}

// --- OpenCode ----------------------------------------------------------------

fn opencode_ready(home: &Path, _work: &Path, base: &str) {
    let dir = home.join(".config/opencode");
    std::fs::create_dir_all(&dir).unwrap();
    let v = serde_json::json!({
        "provider": { "scripted": {
            "npm": "@ai-sdk/openai-compatible",
            "name": "Scripted",
            "options": { "baseURL": format!("{base}/v1"), "apiKey": "scripted-token" },
            "models": { "scripted-model": { "name": "Scripted model" } },
        } },
        "model": "scripted/scripted-model",
        "permission": { "bash": "allow", "edit": "allow" },
    });
    std::fs::write(dir.join("opencode.json"), v.to_string()).unwrap();
}

fn opencode_env(_base: &str) -> Vec<(String, String)> {
    kv(&[
        ("OPENCODE_DISABLE_MODELS_FETCH", "1"),
        ("OPENCODE_DISABLE_AUTOUPDATE", "1"),
        ("OPENCODE_DISABLE_LSP_DOWNLOAD", "1"),
        ("OPENCODE_DISABLE_DEFAULT_PLUGINS", "1"),
    ])
}

fn opencode_argv(cli: &Path, _base: &str) -> Vec<String> {
    vec![cli.display().to_string(), "--auto".into()]
}

fn opencode_prompt_argv(cli: &Path, base: &str) -> Vec<String> {
    let mut v = opencode_argv(cli, base);
    v.extend(["--prompt".into(), "Say hello.".into()]);
    v
}

// --- Aider -------------------------------------------------------------------

fn no_setup(_home: &Path, _work: &Path, _base: &str) {}

fn no_env(_base: &str) -> Vec<(String, String)> {
    Vec::new()
}

fn aider_argv(cli: &Path, base: &str) -> Vec<String> {
    s(&[
        &cli.display().to_string(),
        "--model",
        "openai/scripted-model",
        "--openai-api-base",
        &format!("{base}/v1"),
        "--openai-api-key",
        "scripted-token",
        "--edit-format",
        "whole",
        "--yes-always",
        "--no-check-update",
        "--analytics-disable",
        "--no-show-release-notes",
        "--no-show-model-warnings",
    ])
}

fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            cli: "claude",
            state: "waiting_for_input-folder_trust",
            wait_for: &["trust this folder", "trust the files in this folder"],
            script: greet,
            setup: claude_untrusted,
            argv: claude_argv,
            env: claude_env,
        },
        Scenario {
            cli: "claude",
            state: "waiting_for_input-bypass_permissions",
            wait_for: &["Bypass Permissions mode"],
            script: greet,
            setup: claude_no_skip,
            argv: claude_argv,
            env: claude_env,
        },
        Scenario {
            cli: "claude",
            state: "waiting_for_input-api_key_approval",
            wait_for: &["Detected a custom API key"],
            script: greet,
            setup: claude_ready,
            argv: claude_argv,
            env: claude_api_key_env,
        },
        Scenario {
            cli: "claude",
            state: "idle",
            wait_for: &["Hello from the scripted model."],
            script: greet,
            setup: claude_ready,
            argv: claude_prompt_argv,
            env: claude_env,
        },
        Scenario {
            cli: "claude",
            state: "working",
            wait_for: &["time.sleep(120)"],
            script: slow_tool,
            setup: claude_ready,
            argv: claude_prompt_argv,
            env: claude_env,
        },
        Scenario {
            cli: "claude",
            state: "error",
            wait_for: &["No conversation found"],
            script: greet,
            setup: claude_ready,
            argv: claude_continue_argv,
            env: claude_env,
        },
        Scenario {
            cli: "claude",
            state: "api_error_429",
            wait_for: &["429", "rate", "Rate"],
            script: api_429,
            setup: claude_ready,
            argv: claude_prompt_argv,
            env: claude_env,
        },
        Scenario {
            cli: "codex",
            state: "waiting_for_input-folder_trust",
            wait_for: &["trust", "Trust"],
            script: greet,
            setup: codex_untrusted,
            argv: codex_argv,
            env: codex_env,
        },
        Scenario {
            cli: "codex",
            state: "idle",
            wait_for: &["Hello from the scripted model."],
            script: greet,
            setup: codex_ready,
            argv: codex_prompt_argv,
            env: codex_env,
        },
        Scenario {
            cli: "codex",
            state: "working",
            wait_for: &["esc to interrupt"],
            script: slow_tool,
            setup: codex_ready,
            argv: codex_prompt_argv,
            env: codex_env,
        },
        Scenario {
            cli: "gemini",
            state: "waiting_for_input-folder_trust",
            wait_for: &["trust", "Trust"],
            script: greet,
            setup: gemini_untrusted,
            argv: gemini_argv,
            env: gemini_env,
        },
        Scenario {
            cli: "gemini",
            state: "idle",
            wait_for: &["Hello from the scripted model."],
            script: greet,
            setup: gemini_ready,
            argv: gemini_prompt_argv,
            env: gemini_env,
        },
        Scenario {
            cli: "gemini",
            state: "working",
            wait_for: &["time.sleep(120)"],
            script: slow_tool,
            setup: gemini_ready,
            argv: gemini_prompt_argv,
            env: gemini_env,
        },
        Scenario {
            cli: "opencode",
            state: "idle",
            wait_for: &["Hello from the scripted model."],
            script: greet,
            setup: opencode_ready,
            argv: opencode_prompt_argv,
            env: opencode_env,
        },
        Scenario {
            cli: "opencode",
            state: "working",
            wait_for: &["time.sleep(120)"],
            script: slow_tool,
            setup: opencode_ready,
            argv: opencode_prompt_argv,
            env: opencode_env,
        },
        Scenario {
            cli: "codex",
            state: "api_error_500",
            wait_for: &["500", "error", "Error"],
            script: api_500,
            setup: codex_ready,
            argv: codex_prompt_argv,
            env: codex_env,
        },
        Scenario {
            cli: "codex",
            state: "api_error_500_final",
            wait_for: &["■"],
            script: api_500,
            setup: codex_ready,
            argv: codex_prompt_argv,
            env: codex_env,
        },
        Scenario {
            cli: "gemini",
            state: "api_error_500",
            wait_for: &["500", "error", "Error"],
            script: api_500,
            setup: gemini_ready,
            argv: gemini_prompt_argv,
            env: gemini_env,
        },
        Scenario {
            cli: "opencode",
            state: "api_error_500",
            wait_for: &["500", "error", "Error"],
            script: api_500,
            setup: opencode_ready,
            argv: opencode_prompt_argv,
            env: opencode_env,
        },
        Scenario {
            cli: "aider",
            state: "idle",
            wait_for: &["Repo-map:"],
            script: greet,
            setup: no_setup,
            argv: aider_argv,
            env: no_env,
        },
    ]
}

fn cli_var(cli: &str) -> String {
    format!("GT_TEST_{}", cli.to_uppercase())
}

fn tmux(socket: &str, args: &[&str]) -> std::io::Result<std::process::Output> {
    Command::new("tmux")
        .args(["-L", socket, "-f", "/dev/null"])
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TERM", "xterm-256color")
        .output()
}

fn git_repo(dir: &Path) {
    for args in [
        &["init", "-q", "-b", "main"][..],
        &[
            "-c",
            "user.name=rec",
            "-c",
            "user.email=rec@example.com",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "init",
        ],
    ] {
        let ok = Command::new("git")
            .args(args)
            .current_dir(dir)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "git {args:?} failed in {}", dir.display());
    }
}

/// Runs one scenario; the captured screen, or why there is none.
fn record(sc: &Scenario, cli: &Path, n: usize) -> Result<String, String> {
    let root = std::env::temp_dir().join(format!("gt-rec-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let (home, work) = (root.join("home"), root.join("work"));
    std::fs::create_dir_all(&home).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    git_repo(&work);
    let server = ModelServer::start((sc.script)()).map_err(|e| format!("{e:?}"))?;
    let base = server.base_url();
    (sc.setup)(&home, &work, &base);
    let socket = format!("gt-rec-{}-{n}", std::process::id());
    let path = format!(
        "{}:{}",
        cli.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut args: Vec<String> = s(&[
        "new-session",
        "-d",
        "-s",
        "rec",
        "-x",
        "200",
        "-y",
        "50",
        "-c",
        &work.display().to_string(),
        "-e",
        &format!("HOME={}", home.display()),
        "-e",
        &format!("PATH={path}"),
    ]);
    for (k, v) in (sc.env)(&base) {
        args.extend(["-e".into(), format!("{k}={v}")]);
    }
    args.push("--".into());
    args.extend((sc.argv)(cli, &base));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    tmux(&socket, &argv).map_err(|e| e.to_string())?;
    let _ = tmux(&socket, &["set-option", "-g", "remain-on-exit", "on"]);
    let capture = || {
        tmux(&socket, &["capture-pane", "-p", "-t", "rec"])
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    let deadline = Instant::now() + Duration::from_secs(150);
    let result = loop {
        let screen = capture();
        if sc.wait_for.iter().any(|w| screen.contains(w)) {
            // Let spinners, footers and late lines settle.
            std::thread::sleep(Duration::from_millis(2500));
            break Ok(capture());
        }
        if Instant::now() > deadline {
            break Err(format!("never showed {:?}; screen:\n{screen}", sc.wait_for));
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    let _ = tmux(&socket, &["kill-server"]);
    drop(server);
    let _ = std::fs::remove_dir_all(&root);
    // Paths of this run are not part of what the CLI shows in general.
    result.map(|t| {
        t.replace(&work.display().to_string(), "/home/user/project")
            .replace(&home.display().to_string(), "/home/user")
    })
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(out) = args.next().map(PathBuf::from) else {
        eprintln!("usage: record_screens OUT_DIR [CLI...]");
        std::process::exit(2);
    };
    let only: Vec<String> = args.collect();
    let mut failed = 0;
    for (n, sc) in scenarios().iter().enumerate() {
        if !only.is_empty() && !only.iter().any(|o| o == sc.cli) {
            continue;
        }
        let Some(cli) = std::env::var_os(cli_var(sc.cli)).map(PathBuf::from) else {
            eprintln!("skipped: {} (set {})", sc.cli, cli_var(sc.cli));
            continue;
        };
        match record(sc, &cli, n) {
            Ok(screen) => {
                let dir = out.join(sc.cli);
                std::fs::create_dir_all(&dir).unwrap();
                let file = dir.join(format!("{}.txt", sc.state));
                std::fs::write(&file, screen).unwrap();
                eprintln!("recorded {}", file.display());
            }
            Err(e) => {
                failed += 1;
                eprintln!("FAILED {}/{}: {e}", sc.cli, sc.state);
            }
        }
    }
    std::process::exit(if failed > 0 { 1 } else { 0 });
}
