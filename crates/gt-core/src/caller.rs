//! What gt knows of the process that called it. Only the CLI reads the
//! process environment (once, at start); the services get this value and
//! never call `std::env` themselves, so a unit test states exactly what the
//! caller had, and nothing leaks in from the machine running the tests.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;

/// The caller's environment, as far as gt uses it.
#[derive(Debug, Clone, Default)]
pub struct CallerEnv {
    /// Every variable whose name and value are UTF-8 (runtimes pass some of
    /// them on to their agents: `ANTHROPIC_*`, `OPENAI_*`, proxies, …).
    vars: BTreeMap<String, String>,
    /// `PATH` as given (it may hold non-UTF-8 directories).
    path: Option<OsString>,
}

impl CallerEnv {
    /// From `(name, value)` pairs (the CLI passes `std::env::vars_os()`).
    pub fn from_vars(vars: impl IntoIterator<Item = (OsString, OsString)>) -> Self {
        let mut env = CallerEnv::default();
        for (k, v) in vars {
            if k == "PATH" {
                env.path = Some(v.clone());
            }
            if let (Ok(k), Ok(v)) = (k.into_string(), v.into_string()) {
                env.vars.insert(k, v);
            }
        }
        env
    }

    /// A variable's value; an empty or blank value counts as unset.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    /// Sets one variable (tests; a caller that adds to what it was given).
    pub fn with_var(mut self, name: &str, value: &str) -> Self {
        if name == "PATH" {
            self.path = Some(value.into());
        }
        self.vars.insert(name.to_string(), value.to_string());
        self
    }

    /// `PATH`, when set and not empty.
    pub fn path(&self) -> Option<&std::ffi::OsStr> {
        self.path.as_deref().filter(|p| !p.is_empty())
    }

    /// `GT_AGENT`: the agent this process runs for (`rig/polecat`, `mayor`…).
    pub fn agent(&self) -> Option<&str> {
        self.var("GT_AGENT")
    }

    /// `GT_ACTOR`, else `GT_AGENT`: who is recorded on events (validated
    /// by the caller; `human` when neither is set).
    pub fn actor(&self) -> Option<&str> {
        self.var("GT_ACTOR").or_else(|| self.agent())
    }

    /// `GT_TOWN`: the town to use when `--town` is not given.
    pub fn town(&self) -> Option<PathBuf> {
        self.var("GT_TOWN").map(PathBuf::from)
    }

    /// `HOME`.
    pub fn home(&self) -> Option<PathBuf> {
        self.var("HOME").map(PathBuf::from)
    }

    /// The variables whose names match one of `patterns` (`NAME` exactly,
    /// or `PREFIX*`), in name order.
    pub fn matching<'a>(
        &'a self,
        patterns: &'a [&str],
    ) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.vars
            .iter()
            .filter(move |(k, _)| patterns.iter().any(|p| name_matches(p, k)))
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// `NAME` matches itself; `PREFIX*` matches every name starting with PREFIX.
pub fn name_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_only_what_it_was_given() {
        let env = CallerEnv::from_vars([
            (OsString::from("GT_AGENT"), OsString::from("app/nux")),
            (OsString::from("GT_ACTOR"), OsString::from("  ")),
            (OsString::from("PATH"), OsString::from("/bin")),
            (
                OsString::from("ANTHROPIC_BASE_URL"),
                OsString::from("http://x"),
            ),
            (OsString::from("ANTHROPIC_AUTH_TOKEN"), OsString::from("t")),
            (OsString::from("OTHER"), OsString::from("o")),
        ]);
        assert_eq!(env.agent(), Some("app/nux"));
        assert_eq!(env.actor(), Some("app/nux"), "a blank GT_ACTOR is unset");
        assert_eq!(env.path(), Some(std::ffi::OsStr::new("/bin")));
        let names: Vec<_> = env.matching(&["ANTHROPIC_*"]).map(|(k, _)| k).collect();
        assert_eq!(names, ["ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL"]);
        assert!(CallerEnv::default().town().is_none());
    }
}
