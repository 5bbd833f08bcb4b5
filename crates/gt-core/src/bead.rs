//! Beads: the tracked units of work. Types, parsing and validation; storage
//! lives behind gt-lib's `store::BeadStore`.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub const MAX_TITLE_CHARS: usize = 500;
pub const MAX_DESCRIPTION_BYTES: usize = 1 << 20;
pub const MAX_LABEL_CHARS: usize = 100;
pub const MAX_COMMENT_BYTES: usize = 64 * 1024;
pub const DEFAULT_PRIORITY: u8 = 2;

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident, $what:literal { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name { $(#[serde(rename = $text)] $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(Error::invalid(format!(
                        "unknown {} '{}': expected one of {}",
                        $what,
                        s.escape_debug(),
                        [$($text),+].join(", ")
                    ))),
                }
            }
        }
    };
}

string_enum!(
    /// Stored lifecycle status of a bead. "Blocked" is derived, never stored.
    Status, "status" {
        Open => "open",
        Queued => "queued",
        Hooked => "hooked",
        InProgress => "in_progress",
        Merging => "merging",
        Deferred => "deferred",
        Closed => "closed",
    }
);

string_enum!(
    BeadType, "type" {
        Task => "task",
        Bug => "bug",
        Feature => "feature",
        Epic => "epic",
        Chore => "chore",
        Convoy => "convoy",
        Decision => "decision",
    }
);

string_enum!(
    /// `A -[type]-> B` is stored as a dependency of A on B.
    DepType, "dependency type" {
        Blocks => "blocks",
        ParentChild => "parent-child",
        Related => "related",
        DiscoveredFrom => "discovered-from",
    }
);

impl DepType {
    /// Edges that take part in cycle detection.
    pub fn is_structural(self) -> bool {
        matches!(self, DepType::Blocks | DepType::ParentChild)
    }
}

/// A bead as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bead {
    pub id: String,
    pub title: String,
    pub description: String,
    pub status: Status,
    pub priority: u8,
    #[serde(rename = "type")]
    pub bead_type: BeadType,
    pub assignee: Option<String>,
    pub labels: Vec<String>,
    pub parent: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub closed_at: Option<String>,
    pub close_reason: Option<String>,
    pub created_by: Option<String>,
    pub metadata: BTreeMap<String, serde_json::Value>,
}

impl Bead {
    /// Moves the bead to `to` at `now`: `updated_at` is stamped, and
    /// `closed_at`/`close_reason` stay consistent with the status (set when
    /// it closes, cleared when it leaves `closed`). Callers set a close reason
    /// after closing.
    pub fn set_status(&mut self, to: Status, now: &str) {
        if to == Status::Closed {
            if self.status != Status::Closed {
                self.closed_at = Some(now.to_string());
            }
        } else {
            self.closed_at = None;
            self.close_reason = None;
        }
        self.status = to;
        self.updated_at = now.to_string();
    }
}

/// One edge of the dependency graph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dependency {
    /// The bead that depends.
    pub bead: String,
    /// The bead it depends on.
    pub depends_on: String,
    #[serde(rename = "type")]
    pub dep_type: DepType,
    pub created_at: String,
    pub created_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    pub id: i64,
    pub author: String,
    pub text: String,
    pub created_at: String,
}

/// A bead with its edges and comments, as `gt bead show` renders it.
#[derive(Debug, Clone, Serialize)]
pub struct BeadDetails {
    #[serde(flatten)]
    pub bead: Bead,
    /// Edges from this bead to what it depends on.
    pub dependencies: Vec<Dependency>,
    /// Edges from other beads to this one.
    pub dependents: Vec<Dependency>,
    pub comments: Vec<Comment>,
    /// Derived: unclosed `blocks` targets, and a blocked or deferred ancestor.
    pub blocked: bool,
    pub blocked_by: Vec<String>,
}

/// A blocked bead with what blocks it (`gt bead blocked`).
#[derive(Debug, Clone, Serialize)]
pub struct BlockedBead {
    #[serde(flatten)]
    pub bead: Bead,
    /// Unclosed beads it directly depends on with `blocks`.
    pub blocked_by: Vec<String>,
    /// The nearest ancestor that is blocked or deferred, when it inherits.
    pub blocked_parent: Option<String>,
}

/// What `gt bead create` asks for.
#[derive(Debug, Clone, Default)]
pub struct NewBead {
    pub title: String,
    pub description: String,
    pub priority: Option<u8>,
    pub bead_type: Option<BeadType>,
    pub assignee: Option<String>,
    pub labels: Vec<String>,
    pub parent: Option<String>,
    /// `(type, id)` edges from the new bead.
    pub deps: Vec<(DepType, String)>,
    pub metadata: BTreeMap<String, serde_json::Value>,
    /// Id prefix; the town's when `None`.
    pub prefix: Option<String>,
    /// The status it starts in: `open` (the default) or `queued` (a step of
    /// a molecule, waiting for the scheduler).
    pub status: Option<Status>,
}

impl NewBead {
    pub fn new(title: impl Into<String>) -> Self {
        NewBead {
            title: title.into(),
            ..Default::default()
        }
    }

    pub fn validate(&self) -> Result<()> {
        validate_title(&self.title)?;
        if let Some(s) = self.status {
            if !matches!(s, Status::Open | Status::Queued) {
                return Err(Error::invalid(format!(
                    "a new bead starts open or queued, not {s}"
                )));
            }
        }
        validate_description(&self.description)?;
        if let Some(p) = self.priority {
            validate_priority(p)?;
        }
        if let Some(a) = &self.assignee {
            validate_assignee(a)?;
        }
        for l in &self.labels {
            validate_label(l)?;
        }
        Ok(())
    }
}

/// A partial update (`gt bead update`). `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct BeadPatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub status: Option<Status>,
    pub priority: Option<u8>,
    /// `Some(None)` clears the assignee.
    pub assignee: Option<Option<String>>,
    pub add_labels: Vec<String>,
    pub remove_labels: Vec<String>,
    /// Keys to set (a JSON `null` removes the key).
    pub metadata: BTreeMap<String, serde_json::Value>,
}

impl BeadPatch {
    pub fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.description.is_none()
            && self.status.is_none()
            && self.priority.is_none()
            && self.assignee.is_none()
            && self.add_labels.is_empty()
            && self.remove_labels.is_empty()
            && self.metadata.is_empty()
    }

    pub fn validate(&self) -> Result<()> {
        if let Some(t) = &self.title {
            validate_title(t)?;
        }
        if let Some(d) = &self.description {
            validate_description(d)?;
        }
        if let Some(p) = self.priority {
            validate_priority(p)?;
        }
        if let Some(Some(a)) = &self.assignee {
            validate_assignee(a)?;
        }
        for l in self.add_labels.iter().chain(&self.remove_labels) {
            validate_label(l)?;
        }
        Ok(())
    }
}

/// Filters for `gt bead list`.
#[derive(Debug, Clone, Default)]
pub struct BeadFilter {
    /// Empty: every status but `closed` (unless `include_closed`).
    pub statuses: Vec<Status>,
    pub include_closed: bool,
    pub bead_type: Option<BeadType>,
    pub label: Option<String>,
    pub assignee: Option<String>,
    pub priority: Option<u8>,
    pub limit: Option<usize>,
}

pub fn validate_title(title: &str) -> Result<()> {
    let n = title.chars().count();
    if title.trim().is_empty() {
        return Err(Error::invalid("title must not be empty"));
    }
    if n > MAX_TITLE_CHARS {
        return Err(Error::invalid(format!(
            "title is {n} characters; the limit is {MAX_TITLE_CHARS}"
        )));
    }
    if title.chars().any(|c| c.is_control() && c != '\t') {
        return Err(Error::invalid(
            "title must be one line without control characters",
        ));
    }
    Ok(())
}

/// Refuses a NUL character in free text `what`: no store keeps it as text
/// (PostgreSQL refuses it), so gt refuses it up front, on every backend.
pub fn refuse_nul(what: &str, s: &str) -> Result<()> {
    if s.contains('\0') {
        return Err(Error::invalid(format!(
            "{what} contains a NUL character, which gt does not store"
        )));
    }
    Ok(())
}

/// Text gt collected itself (gate output, what an agent's hook reported)
/// with each NUL character replaced by U+FFFD, so it can be stored.
pub fn without_nul(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains('\0') {
        std::borrow::Cow::Owned(s.replace('\0', "\u{fffd}"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

pub fn validate_description(d: &str) -> Result<()> {
    refuse_nul("the description", d)?;
    if d.len() > MAX_DESCRIPTION_BYTES {
        return Err(Error::invalid(format!(
            "description is {} bytes; the limit is {MAX_DESCRIPTION_BYTES}",
            d.len()
        )));
    }
    Ok(())
}

pub fn validate_priority(p: u8) -> Result<()> {
    if p > 4 {
        return Err(Error::invalid(format!(
            "priority {p} is out of range: use 0 (critical) to 4 (backlog)"
        )));
    }
    Ok(())
}

/// Parses a priority given as `2` or `P2`.
pub fn parse_priority(s: &str) -> Result<u8> {
    let t = s.trim();
    let t = t
        .strip_prefix('P')
        .or_else(|| t.strip_prefix('p'))
        .unwrap_or(t);
    let p: u8 = t.parse().map_err(|_| {
        Error::invalid(format!(
            "priority '{}' is not a number from 0 to 4",
            s.escape_debug()
        ))
    })?;
    validate_priority(p)?;
    Ok(p)
}

pub fn validate_label(l: &str) -> Result<()> {
    if l.trim().is_empty() || l.chars().count() > MAX_LABEL_CHARS {
        return Err(Error::invalid(format!(
            "label must be 1 to {MAX_LABEL_CHARS} characters"
        )));
    }
    if l.chars().any(|c| c.is_control() || c == ',') {
        return Err(Error::invalid(
            "label must not contain commas or control characters",
        ));
    }
    Ok(())
}

pub fn validate_assignee(a: &str) -> Result<()> {
    // The same rule as an actor (gt-lib's `actor::validate`): an assignee is
    // the actor a bead is handed to.
    if a.is_empty() || a.chars().count() > 100 || a.chars().any(char::is_control) {
        return Err(Error::invalid(
            "assignee must be 1 to 100 characters without control characters",
        ));
    }
    Ok(())
}

pub fn validate_comment(text: &str) -> Result<()> {
    if text.trim().is_empty() {
        return Err(Error::invalid("comment must not be empty"));
    }
    refuse_nul("the comment", text)?;
    if text.len() > MAX_COMMENT_BYTES {
        return Err(Error::invalid(format!(
            "comment is {} bytes; the limit is {MAX_COMMENT_BYTES}",
            text.len()
        )));
    }
    Ok(())
}

/// Parses `--deps TYPE:ID,TYPE:ID` (a bare `ID` means `blocks`).
pub fn parse_dep_specs(spec: &str) -> Result<Vec<(DepType, String)>> {
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (t, id) = match part.split_once(':') {
            Some((t, id)) => (t.parse::<DepType>()?, id.trim()),
            None => (DepType::Blocks, part),
        };
        if id.is_empty() {
            return Err(Error::invalid(format!("dependency '{part}' has no id")));
        }
        out.push((t, id.to_string()));
    }
    Ok(out)
}

/// One bead as carried by an import or export (ids and times kept).
#[derive(Debug, Clone)]
pub struct BeadRecord {
    pub bead: Bead,
    pub dependencies: Vec<Dependency>,
    pub comments: Vec<Comment>,
}

/// The records of an import, read as often as the store needs them (once
/// for the beads, once more for their edges): a slice, or a file read
/// again each time, so a large import never holds every record at once.
pub trait RecordSource {
    /// Hands every record to `sink`, in order; stops at the first error.
    fn each(&self, sink: &mut dyn FnMut(&BeadRecord) -> Result<()>) -> Result<()>;
    /// How many records there are.
    fn len_hint(&self) -> usize;
}

impl RecordSource for [BeadRecord] {
    fn each(&self, sink: &mut dyn FnMut(&BeadRecord) -> Result<()>) -> Result<()> {
        self.iter().try_for_each(sink)
    }

    fn len_hint(&self) -> usize {
        self.len()
    }
}

impl<const N: usize> RecordSource for [BeadRecord; N] {
    fn each(&self, sink: &mut dyn FnMut(&BeadRecord) -> Result<()>) -> Result<()> {
        self.iter().try_for_each(sink)
    }

    fn len_hint(&self) -> usize {
        N
    }
}

impl RecordSource for Vec<BeadRecord> {
    fn each(&self, sink: &mut dyn FnMut(&BeadRecord) -> Result<()>) -> Result<()> {
        self.iter().try_for_each(sink)
    }

    fn len_hint(&self) -> usize {
        self.len()
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportCounts {
    pub created: usize,
    pub updated: usize,
    pub dependencies: usize,
    /// Dependencies whose target is neither in the file nor in the ledger.
    pub dangling_dependencies: usize,
    pub comments: usize,
}

/// A node of `gt bead dep tree`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DepTreeNode {
    pub id: String,
    pub title: String,
    pub status: Status,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub dep_type: Option<DepType>,
    /// Set when this node was already shown higher in the tree.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub repeated: bool,
    pub children: Vec<DepTreeNode>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_is_refused_in_free_text_and_scrubbed_from_collected_text() {
        for r in [
            validate_description("a\0b"),
            validate_comment("c\0"),
            validate_title("t\0"),
            refuse_nul("the body", "\0"),
        ] {
            assert_eq!(r.unwrap_err().class(), crate::error::ErrorClass::User);
        }
        assert!(validate_description("tabs\tand\nnewlines are text").is_ok());
        assert_eq!(without_nul("a\0b\0"), "a\u{fffd}b\u{fffd}");
        assert!(matches!(
            without_nul("clean"),
            std::borrow::Cow::Borrowed("clean")
        ));
    }

    #[test]
    fn enums_round_trip() {
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>().unwrap(), *s);
        }
        for t in BeadType::ALL {
            assert_eq!(t.as_str().parse::<BeadType>().unwrap(), *t);
        }
        for d in DepType::ALL {
            assert_eq!(d.as_str().parse::<DepType>().unwrap(), *d);
        }
        assert!("blocked".parse::<Status>().is_err());
    }

    #[test]
    fn set_status_keeps_closed_fields_consistent() {
        let mut b = Bead {
            id: "hq-1".into(),
            title: "t".into(),
            description: String::new(),
            status: Status::Open,
            priority: 2,
            bead_type: BeadType::Task,
            assignee: None,
            labels: vec![],
            parent: None,
            created_at: "a".into(),
            updated_at: "a".into(),
            closed_at: None,
            close_reason: None,
            created_by: None,
            metadata: Default::default(),
        };
        b.set_status(Status::Closed, "t1");
        b.close_reason = Some("done".into());
        assert_eq!(
            (b.closed_at.as_deref(), b.updated_at.as_str()),
            (Some("t1"), "t1")
        );
        // Closing again keeps the first close time.
        b.set_status(Status::Closed, "t2");
        assert_eq!(b.closed_at.as_deref(), Some("t1"));
        b.set_status(Status::Open, "t3");
        assert_eq!(
            (b.closed_at, b.close_reason, b.updated_at.as_str()),
            (None, None, "t3")
        );
    }

    #[test]
    fn title_limits() {
        assert!(validate_title("").is_err());
        assert!(validate_title("   ").is_err());
        assert!(validate_title(&"x".repeat(500)).is_ok());
        assert!(validate_title(&"x".repeat(501)).is_err());
        assert!(validate_title(&"é".repeat(500)).is_ok());
        assert!(validate_title("a\nb").is_err());
    }

    #[test]
    fn priorities() {
        assert_eq!(parse_priority("P1").unwrap(), 1);
        assert_eq!(parse_priority("4").unwrap(), 4);
        assert!(parse_priority("9").is_err());
        assert!(parse_priority("-1").is_err());
    }

    #[test]
    fn dep_specs() {
        let d = parse_dep_specs("blocks:hq-1,related:hq-2, hq-3").unwrap();
        assert_eq!(
            d,
            vec![
                (DepType::Blocks, "hq-1".into()),
                (DepType::Related, "hq-2".into()),
                (DepType::Blocks, "hq-3".into())
            ]
        );
        assert!(parse_dep_specs("nope:hq-1").is_err());
        assert!(parse_dep_specs("blocks:").is_err());
    }
}
