//! Agent runtimes: how `gt` starts one kind of agent CLI (Claude Code, Codex,
//! Gemini CLI, OpenCode, Aider, Amp, or any configured command) and how the
//! first instruction reaches it.
//!
//! A runtime only describes argv and screen texts; it never runs anything.
//! Every argv element is passed to the program as it is (no shell ever reads
//! it), so an instruction such as `$(touch x); rm -rf /` stays inert text.
//! The preset values, and what was checked for each, are in
//! `docs/runtimes.md`.

use serde::{Deserialize, Serialize};

use gt_core::error::{Error, Result};

/// How the first instruction reaches the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromptDelivery {
    /// On the command line: positional, or behind [`Runtime::prompt_flag`].
    /// The agent starts an interactive session with it as the first message.
    Argument,
    /// Typed into the agent's input once [`Runtime::ready_pattern`] shows on
    /// screen, then Enter.
    TypeWhenReady,
    /// Never given: the agent learns its work from the environment
    /// (`GT_BEAD`, ...) and from `gt hook` / `gt prime`.
    None,
}

/// How an agent says its work is finished.
///
/// Stored and configured runtimes written before this existed have no such
/// field: they read as [`Completion::GtDone`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Completion {
    /// The agent runs `gt done` itself with its shell tool (every CLI that
    /// has one).
    #[default]
    GtDone,
    /// The CLI has no shell tool (Aider): the agent's work is finished when
    /// it is back at its prompt, idle on two consecutive patrols with no
    /// dialog, with at least one commit beyond the session's base and a
    /// clean worktree. The deacon then runs `gt done` on its behalf.
    CommitsAtPrompt,
}

impl Completion {
    /// The stable name (as in JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            Completion::GtDone => "gt_done",
            Completion::CommitsAtPrompt => "commits_at_prompt",
        }
    }
}

/// How `gt` starts and talks to one kind of agent CLI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Runtime {
    /// `claude`, `codex`, ... or a custom name.
    pub name: String,
    /// The program, looked up on `PATH` (e.g. `claude`).
    pub command: String,
    /// Arguments for autonomous work (e.g. skip-permissions flags).
    pub args: Vec<String>,
    /// How the first instruction reaches the agent.
    pub prompt: PromptDelivery,
    /// With [`PromptDelivery::Argument`]: the flag the instruction follows
    /// (`--prompt`, ...); `None` makes it the last, positional argument.
    pub prompt_flag: Option<String>,
    /// A plain substring (no regex) seen on screen when the agent waits for
    /// input. Screen lines are compared without trailing spaces.
    pub ready_pattern: Option<String>,
    /// Arguments, after [`Runtime::args`], that resume the previous
    /// conversation in the same directory. Empty: a resume starts afresh.
    pub resume_args: Vec<String>,
    /// The file the agent reads its standing instructions from, if any
    /// (`CLAUDE.md`, `AGENTS.md`, `GEMINI.md`).
    pub instructions_file: Option<String>,
    /// A plain substring seen on screen when the agent is rate limited.
    pub rate_limit_pattern: Option<String>,
    /// The caller's variables passed on to each session (`NAME` or
    /// `PREFIX*`; the preset's, e.g. `ANTHROPIC_*` for claude). Passed with
    /// `tmux new-session -e`, never written to the database or logs.
    #[serde(default)]
    pub env: Vec<String>,
    /// How the agent says it is finished (`gt done` unless its CLI has no
    /// shell tool).
    #[serde(default)]
    pub completion: Completion,
    /// What gt does differently for this CLI (none for custom agents).
    #[serde(default)]
    pub traits: Traits,
    /// A preset shipped with `gt` (false for custom agents).
    pub builtin: bool,
}

/// What gt does differently for one CLI beyond its argv and screen texts.
/// Each is a field of the CLI's preset (`presets/`), so no code asks for a
/// runtime by name; a custom agent has none of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Traits {
    /// gt gives each session its lifecycle hooks in the CLI's settings
    /// (Claude Code's `--settings` file): start, stop, questions, errors
    /// and the CLI's own session id are reported by the CLI itself.
    pub lifecycle_hooks: bool,
    /// The CLI runs a hook before each model request, from a system
    /// settings file gt writes per session (Gemini CLI's `BeforeModel`,
    /// through `GEMINI_CLI_SYSTEM_SETTINGS_PATH`): the same request sent
    /// twice is the CLI retrying a failed API, reported as `error`.
    pub model_request_hook: bool,
    /// The CLI's shell tool hides the user's git configuration (Gemini CLI
    /// runs commands with `GIT_CONFIG_GLOBAL=/dev/null`): its sessions get
    /// the caller's git identity in the environment.
    pub hides_git_config: bool,
    /// The CLI refuses its skip-permissions flag as root unless
    /// `IS_SANDBOX` is set (Claude Code): sling says so before it starts.
    pub root_needs_sandbox: bool,
    /// Where the CLI writes the token usage gt reads.
    pub usage: crate::usage::UsageSource,
}

/// The preset runtimes, in the order they are listed (one file each in
/// `presets/`).
pub fn presets() -> Vec<Runtime> {
    crate::presets::all().iter().map(|p| p.runtime()).collect()
}

/// The preset called `name`, if there is one.
pub fn preset(name: &str) -> Option<Runtime> {
    presets().into_iter().find(|r| r.name == name)
}

/// A custom agent from a configured command line `COMMAND [ARGS...]`, split
/// like a POSIX shell splits words (quotes and backslashes) but never run by
/// a shell: `$(...)`, `;`, `|`, `*` and `~` stay literal text.
///
/// A custom agent gets [`PromptDelivery::None`]: no instruction argument, no
/// typing. It learns its work from the environment (`GT_BEAD`, ...) and from
/// `gt hook` / `gt prime`.
///
/// Refused: a bad name (see [`validate_agent_name`]), a preset's name, an empty
/// command line, control characters, unbalanced quotes.
pub fn custom(name: &str, command_line: &str) -> Result<Runtime> {
    validate_agent_name(name)?;
    if preset(name).is_some() {
        return Err(Error::invalid(format!(
            "'{name}' is a built-in agent: give the custom agent another name"
        )));
    }
    if command_line.trim().is_empty() {
        return Err(Error::invalid(format!(
            "the command line of agent '{name}' is empty"
        )));
    }
    if let Some(c) = command_line.chars().find(|c| c.is_control()) {
        return Err(Error::invalid(format!(
            "the command line of agent '{name}' contains the control character {}",
            c.escape_unicode()
        )));
    }
    let mut words = shell_words::split(command_line).map_err(|_| {
        Error::invalid(format!(
            "the command line of agent '{name}' has an unclosed quote"
        ))
    })?;
    if words.is_empty() || words[0].is_empty() {
        return Err(Error::invalid(format!(
            "the command line of agent '{name}' names no program"
        )));
    }
    let command = words.remove(0);
    let rt = Runtime {
        name: name.to_string(),
        command,
        args: words,
        prompt: PromptDelivery::None,
        prompt_flag: None,
        ready_pattern: None,
        resume_args: Vec::new(),
        instructions_file: None,
        rate_limit_pattern: None,
        env: Vec::new(),
        completion: Completion::GtDone,
        traits: Traits::default(),
        builtin: false,
    };
    rt.validate()?;
    Ok(rt)
}

/// An agent name is 1 to 31 characters `[a-z0-9][a-z0-9_-]*`: the rule of
/// rig and polecat names.
pub fn validate_agent_name(name: &str) -> Result<()> {
    gt_core::polecat::validate_name("agent", name)
}

impl Runtime {
    /// argv for a fresh session. `instruction` (the first prompt) is included
    /// only when [`Runtime::prompt`] is [`PromptDelivery::Argument`] and it is
    /// not empty: as one element, verbatim, last. One that starts with `-`
    /// follows a `--` end-of-options marker (positional) or is joined to a
    /// long flag as `--flag=TEXT`, so it is never read as an option. The
    /// caller keeps NUL out of it (no program can receive one).
    pub fn start_argv(&self, instruction: Option<&str>) -> Vec<String> {
        let mut argv = Vec::with_capacity(self.args.len() + 3);
        argv.push(self.command.clone());
        argv.extend(self.args.iter().cloned());
        self.push_instruction(&mut argv, instruction);
        argv
    }

    /// argv to resume the previous conversation: the arguments, then
    /// [`Runtime::resume_args`], then the instruction as in
    /// [`Runtime::start_argv`]. With no resume arguments this is a fresh
    /// session.
    pub fn resume_argv(&self, instruction: Option<&str>) -> Vec<String> {
        let mut argv = Vec::with_capacity(self.args.len() + self.resume_args.len() + 3);
        argv.push(self.command.clone());
        argv.extend(self.args.iter().cloned());
        argv.extend(self.resume_args.iter().cloned());
        self.push_instruction(&mut argv, instruction);
        argv
    }

    /// argv with `extra` arguments (e.g. hook settings from
    /// `agent_hooks::prepare`) after [`Runtime::args`] and, when resuming,
    /// [`Runtime::resume_args`], before the instruction.
    pub fn argv_with(
        &self,
        extra: &[String],
        resume: bool,
        instruction: Option<&str>,
    ) -> Vec<String> {
        let mut argv = vec![self.command.clone()];
        argv.extend(self.args.iter().cloned());
        if resume {
            argv.extend(self.resume_args.iter().cloned());
        }
        argv.extend(extra.iter().cloned());
        self.push_instruction(&mut argv, instruction);
        argv
    }

    /// Checks the runtime's own consistency: a valid name, a program, no
    /// control characters anywhere (they cannot be passed to a program or
    /// matched on screen), a prompt flag only with argument delivery, and a
    /// ready pattern wherever the instruction is typed.
    pub fn validate(&self) -> Result<()> {
        validate_agent_name(&self.name)?;
        let bad = |what: &str| {
            Err(Error::invalid(format!(
                "agent '{}': {what}",
                self.name.escape_debug()
            )))
        };
        if self.command.is_empty() {
            return bad("no program");
        }
        let texts = std::iter::once(&self.command)
            .chain(&self.args)
            .chain(&self.resume_args)
            .chain(&self.prompt_flag)
            .chain(&self.ready_pattern)
            .chain(&self.instructions_file)
            .chain(&self.rate_limit_pattern);
        for t in texts {
            if t.chars().any(char::is_control) {
                return bad("a control character in its command or settings");
            }
        }
        if let Some(flag) = &self.prompt_flag {
            if self.prompt != PromptDelivery::Argument {
                return bad("a prompt flag without argument delivery");
            }
            if !flag.starts_with('-') || flag.contains(char::is_whitespace) {
                return bad("a prompt flag that is not a single option");
            }
        }
        for pattern in [&self.ready_pattern, &self.rate_limit_pattern]
            .into_iter()
            .flatten()
        {
            if pattern.trim().is_empty() || pattern.trim_end() != pattern {
                return bad("a screen pattern that is empty or ends in whitespace");
            }
        }
        if self.prompt == PromptDelivery::TypeWhenReady && self.ready_pattern.is_none() {
            return bad("the instruction is typed but no ready pattern says when");
        }
        if self.completion == Completion::CommitsAtPrompt
            && self.ready_pattern.is_none()
            && (!self.builtin || crate::presets::screen_patterns(&self.name).ready.is_empty())
        {
            return bad("it completes at its prompt but no ready pattern says when it is there");
        }
        if let Some(file) = &self.instructions_file {
            if file.is_empty() || file.contains(['/', '\\']) || file.starts_with('.') {
                return bad("an instructions file that is not a plain file name");
            }
        }
        Ok(())
    }

    fn push_instruction(&self, argv: &mut Vec<String>, instruction: Option<&str>) {
        if self.prompt != PromptDelivery::Argument {
            return;
        }
        let Some(text) = instruction.filter(|t| !t.is_empty()) else {
            return;
        };
        // An instruction that starts with '-' must not be read as an option.
        let dash = text.starts_with('-');
        match self.prompt_flag.as_deref() {
            Some(flag) if dash && flag.starts_with("--") => argv.push(format!("{flag}={text}")),
            Some(flag) => {
                argv.push(flag.to_string());
                argv.push(text.to_string());
            }
            None => {
                if dash {
                    argv.push("--".to_string());
                }
                argv.push(text.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "$(touch x); rm -rf /";

    fn rt(name: &str) -> Runtime {
        preset(name).expect("preset exists")
    }

    #[test]
    fn what_gt_does_differently_per_cli_is_a_preset_field() {
        let claude = rt("claude").traits;
        assert!(claude.lifecycle_hooks && claude.root_needs_sandbox && !claude.hides_git_config);
        assert_eq!(claude.usage, crate::usage::UsageSource::ClaudeTranscript);
        let gemini = rt("gemini").traits;
        assert!(gemini.hides_git_config && !gemini.lifecycle_hooks && !gemini.root_needs_sandbox);
        assert!(gemini.model_request_hook && !claude.model_request_hook);
        assert_eq!(rt("aider").completion, Completion::CommitsAtPrompt);
        assert_eq!(crate::presets::own_files("aider"), ["/.aider*"]);
        for name in ["claude", "codex", "gemini", "opencode", "amp"] {
            assert_eq!(rt(name).completion, Completion::GtDone, "{name}");
            assert!(crate::presets::own_files(name).is_empty(), "{name}");
        }
        assert_eq!(rt("amp").traits, Traits::default());
        for name in ["codex", "gemini", "opencode", "aider"] {
            assert!(
                rt(name).traits.usage.name().is_some(),
                "{name} usage is read"
            );
        }
        // A custom agent has none, and an old stored runtime without the
        // field reads as none.
        let custom = custom("mine", "my-agent --go").unwrap();
        assert_eq!(custom.traits, Traits::default());
        let mut old = serde_json::to_value(rt("codex")).unwrap();
        old.as_object_mut().unwrap().remove("traits");
        let old: Runtime = serde_json::from_value(old).unwrap();
        assert_eq!(old.traits, Traits::default());
    }

    #[test]
    fn every_preset_is_valid_builtin_and_uniquely_named() {
        let all = presets();
        assert_eq!(
            all.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            ["claude", "codex", "gemini", "opencode", "aider", "amp"]
        );
        let mut names: Vec<&str> = all.iter().map(|r| r.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len(), "duplicate preset name");
        for r in &all {
            r.validate()
                .unwrap_or_else(|e| panic!("preset {} invalid: {e}", r.name));
            assert!(r.builtin, "{}", r.name);
            assert!(!r.command.is_empty());
            assert_eq!(preset(&r.name).as_ref(), Some(r));
        }
        assert!(preset("nope").is_none());
        assert!(preset("").is_none());
    }

    #[test]
    fn argument_positional_instruction_comes_last() {
        let c = rt("claude");
        assert_eq!(
            c.start_argv(Some("do the bead")),
            ["claude", "--dangerously-skip-permissions", "do the bead"]
        );
        assert_eq!(
            c.start_argv(None),
            ["claude", "--dangerously-skip-permissions"]
        );
        assert_eq!(c.start_argv(Some("")), c.start_argv(None));
    }

    #[test]
    fn argument_behind_a_flag() {
        assert_eq!(
            rt("gemini").start_argv(Some("go")),
            [
                "gemini",
                "--approval-mode",
                "yolo",
                "--prompt-interactive",
                "go"
            ]
        );
        assert_eq!(
            rt("opencode").start_argv(Some("go")),
            ["opencode", "--auto", "--prompt", "go"]
        );
    }

    #[test]
    fn type_when_ready_and_none_never_put_the_instruction_in_argv() {
        let aider = rt("aider");
        assert_eq!(aider.prompt, PromptDelivery::TypeWhenReady);
        assert_eq!(
            aider.start_argv(Some("go")),
            [
                "aider",
                "--yes-always",
                "--no-check-update",
                "--analytics-disable",
                "--no-gitignore"
            ]
        );
        assert_eq!(aider.start_argv(Some("go")), aider.start_argv(None));
        assert_eq!(
            rt("amp").start_argv(Some("go")),
            ["amp", "--dangerously-allow-all"]
        );

        let mine = custom("mine", "my-agent --fast").unwrap();
        assert_eq!(mine.prompt, PromptDelivery::None);
        assert_eq!(mine.start_argv(Some("go")), ["my-agent", "--fast"]);
        assert_eq!(mine.resume_argv(Some("go")), ["my-agent", "--fast"]);
    }

    #[test]
    fn hostile_instruction_is_one_verbatim_element() {
        for r in presets() {
            for argv in [r.start_argv(Some(HOSTILE)), r.resume_argv(Some(HOSTILE))] {
                let hits = argv.iter().filter(|a| a.contains("touch")).count();
                match r.prompt {
                    PromptDelivery::Argument => {
                        assert_eq!(hits, 1, "{}: {argv:?}", r.name);
                        assert_eq!(argv.last().map(String::as_str), Some(HOSTILE), "{}", r.name);
                    }
                    _ => assert_eq!(hits, 0, "{}: {argv:?}", r.name),
                }
            }
        }
        let with_newline = "line one\nline two; `id`";
        assert_eq!(
            rt("claude").start_argv(Some(with_newline)).last().unwrap(),
            with_newline
        );
    }

    #[test]
    fn an_instruction_starting_with_a_dash_is_not_an_option() {
        assert_eq!(
            rt("claude").start_argv(Some("--help me")),
            [
                "claude",
                "--dangerously-skip-permissions",
                "--",
                "--help me"
            ]
        );
        assert_eq!(
            rt("gemini").start_argv(Some("-x")).last().unwrap(),
            "--prompt-interactive=-x"
        );
        let mut short = rt("opencode");
        short.prompt_flag = Some("-p".into());
        assert_eq!(
            short.start_argv(Some("-x")),
            ["opencode", "--auto", "-p", "-x"]
        );
    }

    #[test]
    fn resume_adds_resume_args_before_the_instruction() {
        assert_eq!(
            rt("claude").resume_argv(Some("go on")),
            // Never `--continue` (it exits 1 when there is no conversation):
            // without a recorded session id a resume starts afresh.
            ["claude", "--dangerously-skip-permissions", "go on"]
        );
        assert_eq!(
            rt("codex").resume_argv(Some("go on")),
            [
                "codex",
                "--dangerously-bypass-approvals-and-sandbox",
                "--no-daemon",
                "resume",
                "--last",
                "go on"
            ]
        );
        assert_eq!(
            rt("gemini").resume_argv(None),
            ["gemini", "--approval-mode", "yolo", "--resume", "latest"]
        );
        assert_eq!(
            rt("aider").resume_argv(Some("go on")),
            [
                "aider",
                "--yes-always",
                "--no-check-update",
                "--analytics-disable",
                "--no-gitignore",
                "--restore-chat-history"
            ]
        );
        // No resume arguments: a resume is a fresh start.
        for name in ["opencode", "amp"] {
            let r = rt(name);
            assert_eq!(r.resume_argv(Some("x")), r.start_argv(Some("x")), "{name}");
        }
    }

    #[test]
    fn custom_splits_quoted_words_without_a_shell() {
        let r = custom("mine", r#""my agent" --flag 'a b'"#).unwrap();
        assert_eq!(r.command, "my agent");
        assert_eq!(r.args, ["--flag", "a b"]);
        assert_eq!(r.name, "mine");
        assert!(!r.builtin);
        assert_eq!(r.prompt, PromptDelivery::None);
        assert!(r.resume_args.is_empty());

        let r = custom("x1", r"bin/agent $(rm -rf ~) ; *  a\ b").unwrap();
        assert_eq!(r.command, "bin/agent");
        assert_eq!(r.args, ["$(rm", "-rf", "~)", ";", "*", "a b"]);
        assert_eq!(
            r.start_argv(Some(HOSTILE)),
            ["bin/agent", "$(rm", "-rf", "~)", ";", "*", "a b"]
        );
    }

    #[test]
    fn custom_refuses_bad_command_lines() {
        for line in ["", "   ", "''", "\"\" --x", "a 'unclosed", "a \"unclosed"] {
            let e = custom("mine", line).unwrap_err();
            assert_eq!(e.kind(), "invalid", "{line:?}");
        }
        // A trailing backslash is kept as a literal backslash.
        assert_eq!(custom("mine", "a \\").unwrap().args, ["\\"]);
        for line in [
            "a\0b",
            "a\nb",
            "a\tb",
            "agent \u{1b}[31m",
            "a\rb",
            "a \u{7f}",
            "a\u{85}",
        ] {
            let e = custom("mine", line).unwrap_err();
            assert!(e.to_string().contains("control character"), "{line:?}: {e}");
        }
    }

    #[test]
    fn custom_refuses_bad_and_builtin_names() {
        for name in [
            "",
            "Mine",
            "-x",
            "_x",
            "a b",
            "a.b",
            "a/b",
            "é",
            "a\0",
            &"a".repeat(32),
        ] {
            assert!(custom(name, "agent").is_err(), "{name:?}");
            assert!(validate_agent_name(name).is_err(), "{name:?}");
        }
        for name in ["a", "0", "my-agent_2", &"a".repeat(31)] {
            validate_agent_name(name).unwrap();
            custom(name, "agent").unwrap();
        }
        for p in presets() {
            validate_agent_name(&p.name).unwrap();
            let e = custom(&p.name, "agent").unwrap_err();
            assert!(e.to_string().contains("built-in"), "{e}");
        }
    }

    #[test]
    fn validate_catches_inconsistent_runtimes() {
        let mut r = rt("aider");
        r.ready_pattern = None;
        assert!(r.validate().is_err(), "typed without a ready pattern");

        let mut r = rt("claude");
        r.prompt = PromptDelivery::None;
        r.prompt_flag = Some("--prompt".into());
        assert!(r.validate().is_err(), "flag without argument delivery");

        let mut r = rt("claude");
        r.ready_pattern = Some("> ".into());
        assert!(
            r.validate().is_err(),
            "trailing space never matches a trimmed line"
        );

        let mut r = rt("claude");
        r.args.push("a\0b".into());
        assert!(r.validate().is_err(), "NUL in an argument");

        let mut r = rt("claude");
        r.instructions_file = Some("../x.md".into());
        assert!(r.validate().is_err());
    }

    #[test]
    fn runtimes_round_trip_through_json() {
        for r in presets() {
            let json = serde_json::to_string(&r).unwrap();
            let back: Runtime = serde_json::from_str(&json).unwrap();
            assert_eq!(back, r);
        }
        let json = serde_json::to_value(rt("aider")).unwrap();
        assert_eq!(json["prompt"], "type_when_ready");
        assert_eq!(json["completion"], "commits_at_prompt");
        let json = serde_json::to_value(rt("claude")).unwrap();
        assert_eq!(json["completion"], "gt_done");
    }

    #[test]
    fn completion_is_gt_done_except_for_a_cli_without_a_shell_tool() {
        for r in presets() {
            let want = if r.name == "aider" {
                Completion::CommitsAtPrompt
            } else {
                Completion::GtDone
            };
            assert_eq!(r.completion, want, "{}", r.name);
        }
        assert_eq!(
            custom("mine", "my-agent").unwrap().completion,
            Completion::GtDone
        );
        assert_eq!(Completion::default(), Completion::GtDone);
        assert_eq!(Completion::CommitsAtPrompt.as_str(), "commits_at_prompt");
    }

    #[test]
    fn a_runtime_stored_before_completion_existed_still_parses() {
        // A custom agent as an older gt stored it: no `completion`, no `env`.
        let old = r#"{"name":"mine","command":"my-agent","args":["--fast"],
            "prompt":"none","prompt_flag":null,"ready_pattern":null,"resume_args":[],
            "instructions_file":null,"rate_limit_pattern":null,"builtin":false}"#;
        let r: Runtime = serde_json::from_str(old).unwrap();
        assert_eq!(r.completion, Completion::GtDone);
        r.validate().unwrap();
        let bad = old.replace(
            r#""builtin":false"#,
            r#""builtin":false,"completion":"telepathy""#,
        );
        assert!(serde_json::from_str::<Runtime>(&bad).is_err());
    }

    #[test]
    fn completing_at_the_prompt_needs_a_way_to_see_the_prompt() {
        let mut r = custom("mine", "my-agent").unwrap();
        r.completion = Completion::CommitsAtPrompt;
        assert!(r.validate().is_err(), "no ready pattern");
        r.ready_pattern = Some("> ready".into());
        r.validate().unwrap();
    }
}
