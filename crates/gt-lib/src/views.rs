//! The shapes `--json` prints that are not a domain type of their own.
//!
//! Every `--json` output of `gt` is a type of the services (a domain record
//! such as `Bead`, a report such as `deacon::DeaconStatus`, or one of these
//! small views); the CLI only serialises what it is given and never builds
//! JSON by hand. docs/json.md documents each shape. Fields are declared in the
//! order they are printed (alphabetical, as the contract has always been).

use std::path::PathBuf;

use serde::Serialize;

use crate::sling::{NotResumed, ResumedStopped};

/// `gt prime --json`: the briefing as Markdown.
#[derive(Debug, Clone, Serialize)]
pub struct Briefing {
    pub markdown: String,
}

/// `gt mail archive --json`.
#[derive(Debug, Clone, Serialize)]
pub struct MailArchived {
    /// How many of `ids` were archived (already archived ones count 0).
    pub archived: usize,
    pub ids: Vec<i64>,
}

/// `gt man --dir D --json`: the man pages written.
#[derive(Debug, Clone, Serialize)]
pub struct ManPagesWritten {
    pub dir: PathBuf,
    pub pages: Vec<String>,
}

/// `gt version --json`.
#[derive(Debug, Clone, Serialize)]
pub struct Version {
    pub name: &'static str,
    /// The newest database schema this gt reads and writes.
    pub schema_version: i64,
    pub version: &'static str,
}

/// One line of `gt broadcast --json`.
#[derive(Debug, Clone, Serialize)]
pub struct BroadcastResult {
    pub agent: String,
    /// Why the nudge could not be given; `null` when it was.
    pub error: Option<String>,
    /// `delivered`, `queued`, `mailed` or `failed`.
    pub status: String,
}

impl BroadcastResult {
    pub fn from_outcome(
        r: &std::result::Result<crate::nudge::NudgeOutcome, (String, String)>,
    ) -> Self {
        match r {
            Ok(o) => BroadcastResult {
                agent: o.agent.clone(),
                error: None,
                status: o.status.clone(),
            },
            Err((agent, e)) => BroadcastResult {
                agent: agent.clone(),
                error: Some(e.clone()),
                status: "failed".into(),
            },
        }
    }
}

/// `gt up --json`.
#[derive(Debug, Clone, Serialize)]
pub struct DeaconUp {
    pub already_running: bool,
    pub not_resumed: Vec<NotResumed>,
    pub pid: u32,
    /// Agents `gt down --all` had stopped, started again.
    pub resumed: Vec<ResumedAgent>,
}

/// An agent `gt up` resumed.
#[derive(Debug, Clone, Serialize)]
pub struct ResumedAgent {
    pub agent: String,
    pub bead: String,
    /// The tmux session name.
    pub session: String,
}

impl DeaconUp {
    pub fn new(pid: u32, already_running: bool, r: ResumedStopped) -> Self {
        DeaconUp {
            already_running,
            not_resumed: r.not_resumed,
            pid,
            resumed: r
                .resumed
                .into_iter()
                .map(|s| ResumedAgent {
                    agent: s.agent,
                    bead: s.bead,
                    session: s.session,
                })
                .collect(),
        }
    }
}

/// `gt peek --json`: the last lines of an agent's screen.
#[derive(Debug, Clone, Serialize)]
pub struct Screen {
    pub agent: String,
    pub screen: String,
    /// The tmux session name.
    pub session: String,
    /// Set when the pane is gone and this is the screen gt kept of the
    /// agent's latest session.
    pub ended: Option<EndedScreen>,
    /// Set when the agent runs on another host of the town and this is the
    /// screen that host last stored.
    pub remote: Option<RemoteScreen>,
}

/// Where another host's stored screen came from (`gt peek --json`).
#[derive(Debug, Clone, Serialize)]
pub struct RemoteScreen {
    /// The host that runs the agent.
    pub host: String,
    pub session_id: i64,
    /// When that host captured it.
    pub captured_at: String,
}

/// Where a kept screen came from (`gt peek --json` once the pane is gone).
#[derive(Debug, Clone, Serialize)]
pub struct EndedScreen {
    pub session_id: i64,
    /// Why it was kept, e.g. `exited with code 1`.
    pub why: String,
    pub captured_at: String,
}

/// `gt config get|set --json`: one town configuration key.
#[derive(Debug, Clone, Serialize)]
pub struct ConfigValue {
    pub key: String,
    pub value: String,
}

/// `gt config list --json`: every town key with its value, by key.
pub type ConfigList = std::collections::BTreeMap<String, String>;

/// `gt rig config RIG KEY --json`: one rig setting (`null` when unset).
#[derive(Debug, Clone, Serialize)]
pub struct RigConfigValue {
    pub key: String,
    pub value: serde_json::Value,
}

/// `gt bead dep remove --json`: how many edges went.
#[derive(Debug, Clone, Serialize)]
pub struct DependenciesRemoved {
    pub removed: usize,
}

/// `gt bead export --output FILE --json`.
#[derive(Debug, Clone, Serialize)]
pub struct Exported {
    pub beads: usize,
    pub file: PathBuf,
}

/// `gt polecat remove --json`.
#[derive(Debug, Clone, Serialize)]
pub struct PolecatRemoved {
    /// Unmerged branches of the polecat that stay in the rig repository.
    pub kept_branches: Vec<String>,
    /// The polecat's address, as given.
    pub removed: String,
}

/// `gt init --json`.
#[derive(Debug, Clone, Serialize)]
pub struct TownCreated {
    pub name: String,
    pub path: PathBuf,
    pub prefix: String,
}

/// What `--json` prints on stdout when a command fails.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorReport {
    pub error: ErrorBody,
}

#[derive(Debug, Clone, Serialize)]
pub struct ErrorBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// A stable word naming the class of error (docs/json.md).
    pub kind: &'static str,
    pub message: String,
}

impl ErrorReport {
    pub fn new(e: &crate::Error, hint: Option<String>) -> Self {
        ErrorReport {
            error: ErrorBody {
                hint,
                kind: e.kind(),
                message: e.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_print_in_the_documented_order() {
        let v = Version {
            name: "gt",
            schema_version: 8,
            version: "0.1.0",
        };
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"name":"gt","schema_version":8,"version":"0.1.0"}"#
        );
        let e = ErrorReport::new(&crate::Error::invalid("bad"), None);
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"error":{"kind":"invalid","message":"bad"}}"#
        );
    }
}
