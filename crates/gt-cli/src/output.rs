//! Output context: JSON or human text, quiet, colour, and error rendering.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::builder::styling::{AnsiColor, Style};
use gt_lib::caller::CallerEnv;
use gt_lib::town::Town;
use gt_lib::workspace::Workspace;
use gt_lib::Error;
use serde::Serialize;

pub struct Ctx {
    pub town_flag: Option<PathBuf>,
    /// The process environment, read once here: the library is given it.
    pub caller: CallerEnv,
    pub json: bool,
    pub quiet: bool,
    pub color: bool,
}

impl Ctx {
    pub fn new(town_flag: Option<PathBuf>, json: bool, quiet: bool, no_color: bool) -> Self {
        let caller = CallerEnv::from_vars(std::env::vars_os());
        let no_color_env = caller.var("NO_COLOR").is_some();
        Ctx {
            town_flag,
            caller,
            json,
            quiet,
            color: !no_color && !no_color_env && !json && std::io::stdout().is_terminal(),
        }
    }

    /// The town this command works on.
    pub fn town(&self) -> Result<Town, Error> {
        let cwd = std::env::current_dir()
            .map_err(|e| Error::io("cannot read the current directory", e))?;
        Town::discover(
            self.town_flag.as_deref(),
            self.caller.town().as_deref(),
            &cwd,
        )
        .map(|t| t.with_caller(&self.caller))
    }

    /// The town opened for work, with the caller's environment.
    pub fn workspace(&self) -> Result<Workspace, Error> {
        Workspace::open(self.town()?, self.caller.clone())
    }

    pub fn actor(&self) -> Result<String, Error> {
        gt_lib::actor::of(&self.caller)
    }

    /// Prints `value` as pretty JSON on stdout.
    pub fn print_json<T: Serialize + ?Sized>(&self, value: &T) -> Result<(), Error> {
        let text = serde_json::to_string_pretty(value)
            .map_err(|e| Error::Internal(format!("cannot render JSON: {e}")))?;
        self.out(&text);
        Ok(())
    }

    /// Prints one line on stdout. A closed pipe (`gt ... | head`) is not an error.
    pub fn out(&self, line: &str) {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{line}");
    }

    /// Prints a line unless `--quiet`.
    pub fn say(&self, line: &str) {
        if !self.quiet {
            self.out(line);
        }
    }

    pub fn paint(&self, style: Style, text: &str) -> String {
        if self.color {
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    }

    pub fn dim(&self, text: &str) -> String {
        self.paint(Style::new().dimmed(), text)
    }

    pub fn bold(&self, text: &str) -> String {
        self.paint(Style::new().bold(), text)
    }

    pub fn status(&self, status: gt_lib::bead::Status) -> String {
        use gt_lib::bead::Status::*;
        let color = match status {
            Open => AnsiColor::Green,
            Queued | Hooked => AnsiColor::Cyan,
            InProgress => AnsiColor::Yellow,
            Merging => AnsiColor::Magenta,
            Deferred => AnsiColor::BrightBlack,
            Closed => AnsiColor::BrightBlack,
        };
        self.paint(Style::new().fg_color(Some(color.into())), status.as_str())
    }

    /// Renders an error: `error: …` and an optional `hint: …` on stderr, or a
    /// JSON object on stdout with `--json`.
    pub fn error(&self, e: &Error) {
        let hint = e.hint().or_else(|| placeholder_hint(e));
        if self.json {
            let report = gt_lib::views::ErrorReport::new(e, hint);
            self.out(&serde_json::to_string(&report).unwrap_or_default());
            return;
        }
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "error: {}", one_line(&e.to_string()));
        if let Some(h) = hint {
            let _ = writeln!(stderr, "hint: {}", one_line(&h));
        }
    }
}

/// Bidirectional controls: they reorder what a terminal shows (an id or a
/// command can be made to read as another), so they are shown escaped.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// An id refused as malformed (`'<id>' is not a bead id`) that was copied
/// from the docs gets the same hint as a placeholder that was not found.
fn placeholder_hint(e: &Error) -> Option<String> {
    let Error::Invalid(msg) = e else {
        return None;
    };
    if !msg.contains(" id") {
        return None;
    }
    let quoted = msg.split('\'').nth(1)?;
    gt_lib::error::looks_like_placeholder(quoted).then(|| {
        format!(
            "'{}' looks like an example from the docs; use a real id (gt bead list, gt agents, \
             gt mq list show them)",
            quoted.escape_debug()
        )
    })
}

/// Refuses to go on unless stdin and stdout are a terminal (`what` needs one
/// to take over the screen, e.g. tmux attach).
pub fn require_terminal(what: &str, alternative: &str) -> Result<(), Error> {
    let (stdin, stdout) = (
        std::io::stdin().is_terminal(),
        std::io::stdout().is_terminal(),
    );
    if stdin && stdout {
        return Ok(());
    }
    let which = if stdin {
        "standard output"
    } else {
        "standard input"
    };
    Err(Error::refused(format!(
        "{what} needs a terminal, and {which} is not one; {alternative}"
    )))
}

/// Text from users or other programs, made safe for a terminal: control
/// characters (escape sequences and C1 controls included) and bidirectional
/// controls are shown escaped; newlines and tabs are kept.
pub fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if (c.is_control() && c != '\n' && c != '\t') || is_bidi_control(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A stored timestamp (RFC 3339 UTC, `2026-11-24T04:50:34.767984Z`) as
/// humans see it everywhere: `2026-11-24 04:50:34` (UTC, to the second).
/// `--json` keeps the stored form.
pub fn ts(t: &str) -> String {
    let b = t.as_bytes();
    if b.len() >= 19 && b[10] == b'T' && t.is_char_boundary(19) {
        t[..19].replace('T', " ")
    } else {
        one_line(t)
    }
}

/// Like [`clean`], on one line.
pub fn one_line(text: &str) -> String {
    clean(text).replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_are_escaped() {
        assert_eq!(clean("a\u{1b}[31mb"), "a\\u{1b}[31mb");
        assert_eq!(clean("x\u{9b}y"), "x\\u{9b}y");
        assert_eq!(clean("ok\u{202E}txt.exe"), "ok\\u{202e}txt.exe");
        assert_eq!(clean("\u{2066}\u{2069}"), "\\u{2066}\\u{2069}");
        assert_eq!(clean("line\n\ttab é"), "line\n\ttab é");
        assert_eq!(one_line("a\nb"), "a b");
        assert_eq!(ts("2026-11-24T04:50:34.767984Z"), "2026-11-24 04:50:34");
        assert_eq!(ts("never"), "never");
    }
}
