//! The classic Beads (`bd`) JSONL issue format: one issue object per line, with
//! inline `labels`, `dependencies` and `comments`.
//!
//! [`parse`] maps each issue to a [`BeadRecord`]: statuses, types and dependency
//! types that Gas Town does not have are mapped to the nearest value and
//! counted in a [`MappingReport`]; fields without a place of their own
//! (`design`, `notes`, `owner`, ...) are kept in [`Bead::metadata`].
//! [`write_record`] writes a record back in the same format, so an import
//! followed by an export keeps ids, titles, statuses, priorities, types,
//! labels, dependencies, comments, timestamps and the extra fields.
//!
//! Timestamps are stored in canonical form ([`clock::format_ts`]), so digits
//! beyond microseconds are not kept.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::{BufRead, Read, Write};

use serde_json::{Map, Value};

use crate::bead::{self, Bead, BeadType, Comment, DepType, Dependency, Status};
use crate::clock;
use crate::error::{Error, Result};
use crate::id;
use crate::store::BeadRecord;

/// The longest line accepted (a description is at most 1 MiB, and JSON
/// escaping can make it several times longer).
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// Metadata key holding a `bd` status that was mapped to a Gas Town status.
pub const META_BD_STATUS: &str = "bd_status";
/// Metadata key holding a `bd` issue type that was mapped to a Gas Town type.
pub const META_BD_TYPE: &str = "bd_issue_type";

const MAX_ID_BYTES: usize = 200;
const MAX_TS_BYTES: usize = 64;
const MAX_FIELD_NAME_CHARS: usize = 100;
/// Original statuses and types longer than this are counted but not kept.
const MAX_KEPT_ORIGINAL_CHARS: usize = 64;

/// Fields that have a place of their own; metadata never shadows them.
const CORE_FIELDS: &[&str] = &[
    "id",
    "title",
    "description",
    "status",
    "priority",
    "issue_type",
    "assignee",
    "labels",
    "created_at",
    "created_by",
    "updated_at",
    "closed_at",
    "close_reason",
    "dependencies",
    "comments",
];
/// Metadata keys used by this module itself; never written as fields.
const RESERVED_META: &[&str] = &[META_BD_STATUS, META_BD_TYPE];
/// Extra fields written right after `description` (where `bd` puts them).
const AFTER_DESCRIPTION: &[&str] = &["design", "acceptance_criteria", "notes"];
/// Extra fields written right after `assignee`.
const AFTER_ASSIGNEE: &[&str] = &["owner", "estimated_minutes"];

/// What [`parse`] produced: records ready for
/// [`crate::store::BeadStore::import_records`], and how the input was mapped.
#[derive(Debug, Clone)]
pub struct ImportPlan {
    pub records: Vec<BeadRecord>,
    /// The input line of each record (of the last line, for a repeated id).
    pub lines: Vec<usize>,
    pub report: MappingReport,
}

/// How an input file was mapped to Gas Town's model. Mapping counts are per
/// line read; totals (`records`, `dependencies`, ...) are over the final records.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct MappingReport {
    /// Physical lines read, blank lines included.
    pub lines: usize,
    pub blank_lines: usize,
    /// Records in the plan, after duplicate ids were folded.
    pub records: usize,
    /// Lines whose id already appeared on an earlier line (the later line wins).
    pub duplicate_ids: usize,
    /// `"from->to"`: statuses Gas Town does not have, with how many lines had them.
    pub statuses_mapped: BTreeMap<String, usize>,
    /// `"from->to"`: issue types mapped to the nearest Gas Town type.
    pub types_mapped: BTreeMap<String, usize>,
    /// `"from->to"`: dependency types mapped to the nearest Gas Town type.
    pub dependency_types_mapped: BTreeMap<String, usize>,
    /// Priorities outside 0..=4 (or not whole numbers), clamped.
    pub priorities_clamped: usize,
    /// Missing priorities, set to the default.
    pub priorities_defaulted: usize,
    /// Top-level fields kept in metadata, by name, with how many lines had them.
    pub extra_fields: BTreeMap<String, usize>,
    /// Fields that were not kept (nested dependency and comment fields,
    /// reserved metadata names), by name.
    pub dropped_fields: BTreeMap<String, usize>,
    pub dependencies: usize,
    pub records_with_dependencies: usize,
    /// Dependencies whose target is not an id in this input (the ledger may
    /// still have it; the store counts the ones that dangle).
    pub dependencies_outside_input: usize,
    /// Repeated `(target, type)` edges of one issue, dropped.
    pub duplicate_dependencies: usize,
    /// Edges from an issue to itself, dropped.
    pub self_dependencies: usize,
    pub comments: usize,
    /// Comments without text, dropped.
    pub empty_comments: usize,
    /// Closed issues without `closed_at`, given their `updated_at`.
    pub closed_at_filled: usize,
    /// Issues that are not closed but had a `closed_at`, cleared.
    pub closed_at_dropped: usize,
}

impl MappingReport {
    /// True when something was mapped, clamped, dropped or folded.
    pub fn has_mappings(&self) -> bool {
        self.duplicate_ids > 0
            || !self.statuses_mapped.is_empty()
            || !self.types_mapped.is_empty()
            || !self.dependency_types_mapped.is_empty()
            || self.priorities_clamped > 0
            || self.priorities_defaulted > 0
            || !self.dropped_fields.is_empty()
            || self.duplicate_dependencies > 0
            || self.self_dependencies > 0
            || self.empty_comments > 0
            || self.closed_at_filled > 0
            || self.closed_at_dropped > 0
    }
}

/// Parses the whole input. A malformed line (bad JSON, missing or empty id or
/// title, invalid id characters, a title over 500 characters, a bad
/// timestamp, a field of the wrong JSON type, ...) returns
/// `Error::Invalid("line N: ...")` and nothing else happens. `now` (any RFC
/// 3339 time) stands in for missing `created_at`/`updated_at`.
pub fn parse(mut reader: impl BufRead, now: &str) -> Result<ImportPlan> {
    let now = checked_ts(now).map_err(|e| Error::invalid(format!("current time: {e}")))?;
    let mut report = MappingReport::default();
    let mut records: Vec<BeadRecord> = Vec::new();
    let mut lines: Vec<usize> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut buf = Vec::new();
    let mut line_no = 0usize;
    loop {
        buf.clear();
        let n = (&mut reader)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|e| Error::io(format!("reading line {}", line_no + 1), e))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        report.lines += 1;
        let at = |msg: String| Error::invalid(format!("line {line_no}: {msg}"));
        if buf.last() == Some(&b'\n') {
            buf.pop();
        } else if buf.len() > MAX_LINE_BYTES {
            return Err(at(format!("line is longer than {MAX_LINE_BYTES} bytes")));
        }
        let mut bytes = buf.as_slice();
        if line_no == 1 {
            bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        }
        let text = std::str::from_utf8(bytes).map_err(|_| at("not valid UTF-8".into()))?;
        if text.trim().is_empty() {
            report.blank_lines += 1;
            continue;
        }
        let value: Value =
            serde_json::from_str(text).map_err(|e| at(format!("not valid JSON: {e}")))?;
        let Value::Object(obj) = value else {
            return Err(at(format!(
                "expected a JSON object, found {}",
                json_kind(&value)
            )));
        };
        let rec = parse_issue(obj, &now, &mut report).map_err(at)?;
        match index.get(&rec.bead.id) {
            Some(&i) => {
                report.duplicate_ids += 1;
                records[i] = rec;
                lines[i] = line_no;
            }
            None => {
                index.insert(rec.bead.id.clone(), records.len());
                records.push(rec);
                lines.push(line_no);
            }
        }
    }
    report.records = records.len();
    for rec in &records {
        report.dependencies += rec.dependencies.len();
        report.comments += rec.comments.len();
        if !rec.dependencies.is_empty() {
            report.records_with_dependencies += 1;
        }
        report.dependencies_outside_input += rec
            .dependencies
            .iter()
            .filter(|d| !index.contains_key(&d.depends_on))
            .count();
    }
    Ok(ImportPlan {
        records,
        lines,
        report,
    })
}

/// Writes one issue as a JSON object on one line, fields in a stable order.
/// A status or type that was mapped on import is written back as the
/// original `bd` value while the bead still has the status or type it was
/// mapped to. Metadata keys are written as top-level fields, except ones
/// that would shadow a field of the format.
pub fn write_record(out: &mut impl Write, rec: &BeadRecord) -> Result<()> {
    let b = &rec.bead;
    let mut fields: Vec<(&str, Value)> = Vec::with_capacity(16 + b.metadata.len());
    let extra = |fields: &mut Vec<(&str, Value)>, names: &[&'static str]| {
        for &k in names {
            if let Some(v) = b.metadata.get(k) {
                fields.push((k, v.clone()));
            }
        }
    };
    fields.push(("id", Value::from(b.id.as_str())));
    fields.push(("title", Value::from(b.title.as_str())));
    if !b.description.is_empty() {
        fields.push(("description", Value::from(b.description.as_str())));
    }
    extra(&mut fields, AFTER_DESCRIPTION);
    fields.push(("status", Value::from(export_status(b))));
    fields.push(("priority", Value::from(b.priority)));
    fields.push(("issue_type", Value::from(export_type(b))));
    if let Some(a) = &b.assignee {
        fields.push(("assignee", Value::from(a.as_str())));
    }
    extra(&mut fields, AFTER_ASSIGNEE);
    fields.push(("created_at", Value::from(b.created_at.as_str())));
    if let Some(c) = &b.created_by {
        fields.push(("created_by", Value::from(c.as_str())));
    }
    fields.push(("updated_at", Value::from(b.updated_at.as_str())));
    if let Some(c) = &b.closed_at {
        fields.push(("closed_at", Value::from(c.as_str())));
    }
    if let Some(r) = &b.close_reason {
        fields.push(("close_reason", Value::from(r.as_str())));
    }
    for (k, v) in &b.metadata {
        let k = k.as_str();
        if CORE_FIELDS.contains(&k)
            || RESERVED_META.contains(&k)
            || AFTER_DESCRIPTION.contains(&k)
            || AFTER_ASSIGNEE.contains(&k)
        {
            continue;
        }
        fields.push((k, v.clone()));
    }
    if !b.labels.is_empty() {
        fields.push(("labels", Value::from(b.labels.clone())));
    }
    if !rec.dependencies.is_empty() {
        let deps = rec
            .dependencies
            .iter()
            .map(|d| {
                let mut m = Map::new();
                m.insert("issue_id".into(), Value::from(d.bead.as_str()));
                m.insert("depends_on_id".into(), Value::from(d.depends_on.as_str()));
                m.insert("type".into(), Value::from(d.dep_type.as_str()));
                m.insert("created_at".into(), Value::from(d.created_at.as_str()));
                if let Some(c) = &d.created_by {
                    m.insert("created_by".into(), Value::from(c.as_str()));
                }
                Value::Object(m)
            })
            .collect();
        fields.push(("dependencies", Value::Array(deps)));
    }
    if !rec.comments.is_empty() {
        let comments = rec
            .comments
            .iter()
            .map(|c| {
                let mut m = Map::new();
                m.insert("id".into(), Value::from(c.id));
                m.insert("issue_id".into(), Value::from(b.id.as_str()));
                m.insert("author".into(), Value::from(c.author.as_str()));
                m.insert("text".into(), Value::from(c.text.as_str()));
                m.insert("created_at".into(), Value::from(c.created_at.as_str()));
                Value::Object(m)
            })
            .collect();
        fields.push(("comments", Value::Array(comments)));
    }

    // Written by hand so that the field order does not depend on serde_json's
    // map implementation.
    let mut line = String::with_capacity(512);
    line.push('{');
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        line.push_str(&to_json(&Value::from(*k))?);
        line.push(':');
        line.push_str(&to_json(v)?);
    }
    line.push_str("}\n");
    out.write_all(line.as_bytes())
        .map_err(|e| Error::io("writing JSONL", e))
}

fn to_json(v: &Value) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Internal(format!("serializing JSON: {e}")))
}

fn export_status(b: &Bead) -> String {
    match b.metadata.get(META_BD_STATUS) {
        Some(Value::String(s)) if map_status(s) == b.status => s.clone(),
        _ => b.status.as_str().to_string(),
    }
}

fn export_type(b: &Bead) -> String {
    match b.metadata.get(META_BD_TYPE) {
        Some(Value::String(s)) if map_type(s) == b.bead_type => s.clone(),
        _ => b.bead_type.as_str().to_string(),
    }
}

/// The nearest Gas Town status for a `bd` status.
pub fn map_status(raw: &str) -> Status {
    if let Ok(s) = raw.parse() {
        return s;
    }
    let norm = raw.trim().to_ascii_lowercase().replace(['-', ' '], "_");
    if let Ok(s) = norm.parse() {
        return s;
    }
    match norm.as_str() {
        "tombstone" | "done" | "resolved" | "completed" | "cancelled" | "canceled" | "wontfix" => {
            Status::Closed
        }
        // "blocked" is derived from dependencies here; "pinned" is an open bead.
        _ => Status::Open,
    }
}

/// The nearest Gas Town type for a `bd` issue type.
pub fn map_type(raw: &str) -> BeadType {
    if let Ok(t) = raw.parse() {
        return t;
    }
    let norm = raw.trim().to_ascii_lowercase();
    if let Ok(t) = norm.parse() {
        return t;
    }
    match norm.as_str() {
        "molecule" => BeadType::Epic,
        "enhancement" | "feat" => BeadType::Feature,
        // message, merge-request, gate, agent, role, rig, event, slot, ...
        _ => BeadType::Task,
    }
}

/// The nearest Gas Town dependency type for a `bd` dependency type.
pub fn map_dep_type(raw: &str) -> DepType {
    if let Ok(t) = raw.parse() {
        return t;
    }
    let norm = raw.trim().to_ascii_lowercase().replace(['_', ' '], "-");
    // relates-to, tracks, waits-for, duplicates, supersedes, ... -> related.
    norm.parse().unwrap_or(DepType::Related)
}

type LineResult<T> = std::result::Result<T, String>;

fn parse_issue(
    mut obj: Map<String, Value>,
    now: &str,
    report: &mut MappingReport,
) -> LineResult<BeadRecord> {
    let id = match take_str(&mut obj, "id")? {
        Some(id) if !id.trim().is_empty() => id,
        _ => return Err("missing or empty id".into()),
    };
    check_id("id", &id)?;
    parse_issue_fields(&id, obj, now, report).map_err(|e| format!("{id}: {e}"))
}

fn parse_issue_fields(
    id: &str,
    mut obj: Map<String, Value>,
    now: &str,
    report: &mut MappingReport,
) -> LineResult<BeadRecord> {
    let title = take_str(&mut obj, "title")?.unwrap_or_default();
    if title.trim().is_empty() {
        return Err("missing or empty title".into());
    }
    bead::validate_title(&title).map_err(|e| e.to_string())?;
    let description = take_str(&mut obj, "description")?.unwrap_or_default();
    bead::validate_description(&description).map_err(|e| e.to_string())?;

    let mut metadata = BTreeMap::new();
    let raw_status = take_str(&mut obj, "status")?;
    let status = raw_status.as_deref().map_or(Status::Open, map_status);
    note_mapping(
        &mut report.statuses_mapped,
        raw_status.as_deref(),
        status.as_str(),
    );
    keep_original(&mut metadata, META_BD_STATUS, raw_status, status.as_str());

    let raw_type = take_str(&mut obj, "issue_type")?;
    let bead_type = raw_type.as_deref().map_or(BeadType::Task, map_type);
    note_mapping(
        &mut report.types_mapped,
        raw_type.as_deref(),
        bead_type.as_str(),
    );
    keep_original(&mut metadata, META_BD_TYPE, raw_type, bead_type.as_str());

    let priority = take_priority(&mut obj, report)?;
    let assignee = non_empty(take_str(&mut obj, "assignee")?);
    if let Some(a) = &assignee {
        bead::validate_assignee(a).map_err(|e| e.to_string())?;
    }
    let created_by = take_actor(&mut obj, "created_by")?;
    let given_created_at = take_ts(&mut obj, "created_at")?;
    // A comment without a time takes its issue's, or a fixed time when the
    // issue has none either, so that a re-import finds it again.
    let comment_time = given_created_at
        .clone()
        .unwrap_or_else(|| "1970-01-01T00:00:00.000000Z".to_string());
    let created_at = given_created_at.unwrap_or_else(|| now.to_string());
    let updated_at = take_ts(&mut obj, "updated_at")?.unwrap_or_else(|| now.to_string());
    let mut closed_at = take_ts(&mut obj, "closed_at")?;
    let close_reason = non_empty(take_str(&mut obj, "close_reason")?);
    match (status == Status::Closed, closed_at.is_some()) {
        (true, false) => {
            closed_at = Some(updated_at.clone());
            report.closed_at_filled += 1;
        }
        (false, true) => {
            closed_at = None;
            report.closed_at_dropped += 1;
        }
        _ => {}
    }

    let labels = take_labels(&mut obj)?;
    let dependencies = take_dependencies(&mut obj, id, now, report)?;
    // A comment without a time takes its issue's, so a re-import finds it again.
    let comments = take_comments(&mut obj, id, &comment_time, report)?;

    for (key, value) in obj {
        if key.is_empty()
            || key.chars().count() > MAX_FIELD_NAME_CHARS
            || key.chars().any(char::is_control)
        {
            return Err(format!("field name '{}' is not valid", clip(&key)));
        }
        if RESERVED_META.contains(&key.as_str()) {
            *report.dropped_fields.entry(key).or_default() += 1;
            continue;
        }
        if value.is_null() {
            continue;
        }
        *report.extra_fields.entry(key.clone()).or_default() += 1;
        metadata.insert(key, value);
    }

    let parent = dependencies
        .iter()
        .filter(|d| d.dep_type == DepType::ParentChild)
        .map(|d| d.depends_on.clone())
        .min();
    Ok(BeadRecord {
        bead: Bead {
            id: id.to_string(),
            title,
            description,
            status,
            priority,
            bead_type,
            assignee,
            labels,
            parent,
            created_at,
            updated_at,
            closed_at,
            close_reason,
            created_by,
            metadata,
        },
        dependencies,
        comments,
    })
}

fn take_labels(obj: &mut Map<String, Value>) -> LineResult<Vec<String>> {
    let items = match obj.remove("labels") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(format!(
                "field 'labels' must be an array, not {}",
                json_kind(&other)
            ))
        }
    };
    let mut labels = BTreeSet::new();
    for (i, v) in items.into_iter().enumerate() {
        let Value::String(l) = v else {
            return Err(format!(
                "label {} must be a string, not {}",
                i + 1,
                json_kind(&v)
            ));
        };
        bead::validate_label(&l).map_err(|e| format!("label {}: {e}", i + 1))?;
        labels.insert(l);
    }
    Ok(labels.into_iter().collect())
}

fn take_dependencies(
    obj: &mut Map<String, Value>,
    id: &str,
    now: &str,
    report: &mut MappingReport,
) -> LineResult<Vec<Dependency>> {
    let items = match obj.remove("dependencies") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(format!(
                "field 'dependencies' must be an array, not {}",
                json_kind(&other)
            ))
        }
    };
    let mut deps: Vec<Dependency> = Vec::new();
    let mut seen: HashSet<(String, DepType)> = HashSet::new();
    for (i, v) in items.into_iter().enumerate() {
        let n = i + 1;
        let Value::Object(mut d) = v else {
            return Err(format!(
                "dependency {n} must be an object, not {}",
                json_kind(&v)
            ));
        };
        let ctx = |e: String| format!("dependency {n}: {e}");
        check_owner(&mut d, id).map_err(ctx)?;
        let target = match take_str(&mut d, "depends_on_id").map_err(ctx)? {
            Some(t) if !t.trim().is_empty() => t,
            _ => return Err(ctx("missing or empty depends_on_id".into())),
        };
        check_id("depends_on_id", &target).map_err(ctx)?;
        let raw_type = take_str(&mut d, "type").map_err(ctx)?;
        let dep_type = raw_type.as_deref().map_or(DepType::Blocks, map_dep_type);
        note_mapping(
            &mut report.dependency_types_mapped,
            raw_type.as_deref(),
            dep_type.as_str(),
        );
        let created_at = take_ts(&mut d, "created_at")
            .map_err(ctx)?
            .unwrap_or_else(|| now.to_string());
        let created_by = take_actor(&mut d, "created_by").map_err(ctx)?;
        note_dropped(report, "dependencies[]", d);
        if target == id {
            report.self_dependencies += 1;
            continue;
        }
        if !seen.insert((target.clone(), dep_type)) {
            report.duplicate_dependencies += 1;
            continue;
        }
        deps.push(Dependency {
            bead: id.to_string(),
            depends_on: target,
            dep_type,
            created_at,
            created_by,
        });
    }
    Ok(deps)
}

fn take_comments(
    obj: &mut Map<String, Value>,
    id: &str,
    now: &str,
    report: &mut MappingReport,
) -> LineResult<Vec<Comment>> {
    let items = match obj.remove("comments") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(format!(
                "field 'comments' must be an array, not {}",
                json_kind(&other)
            ))
        }
    };
    let mut comments = Vec::new();
    for (i, v) in items.into_iter().enumerate() {
        let n = i + 1;
        let Value::Object(mut c) = v else {
            return Err(format!(
                "comment {n} must be an object, not {}",
                json_kind(&v)
            ));
        };
        let ctx = |e: String| format!("comment {n}: {e}");
        check_owner(&mut c, id).map_err(ctx)?;
        // Only an ordering hint: the store numbers comments itself.
        let comment_id = c.remove("id").and_then(|v| v.as_i64()).unwrap_or(0);
        let text = take_str(&mut c, "text").map_err(ctx)?.unwrap_or_default();
        let author = take_str(&mut c, "author").map_err(ctx)?.unwrap_or_default();
        if !author.is_empty() {
            crate::actor::validate(&author).map_err(|e| ctx(format!("author: {e}")))?;
        }
        let created_at = take_ts(&mut c, "created_at")
            .map_err(ctx)?
            .unwrap_or_else(|| now.to_string());
        note_dropped(report, "comments[]", c);
        if text.trim().is_empty() {
            report.empty_comments += 1;
            continue;
        }
        bead::validate_comment(&text).map_err(|e| ctx(e.to_string()))?;
        comments.push(Comment {
            id: comment_id,
            author,
            text,
            created_at,
        });
    }
    Ok(comments)
}

/// A nested dependency or comment must belong to the issue it is listed under.
fn check_owner(obj: &mut Map<String, Value>, id: &str) -> LineResult<()> {
    match take_str(obj, "issue_id")? {
        Some(owner) if owner != id => Err(format!(
            "issue_id '{}' is not the issue it is listed under",
            clip(&owner)
        )),
        _ => Ok(()),
    }
}

fn note_dropped(report: &mut MappingReport, prefix: &str, rest: Map<String, Value>) {
    for key in rest.keys() {
        *report
            .dropped_fields
            .entry(format!("{prefix}.{}", clip(key)))
            .or_default() += 1;
    }
}

fn note_mapping(counts: &mut BTreeMap<String, usize>, raw: Option<&str>, to: &str) {
    if raw != Some(to) {
        let from = raw.map_or_else(|| "(none)".to_string(), clip);
        *counts.entry(format!("{from}->{to}")).or_default() += 1;
    }
}

/// Keeps a mapped original value in metadata so that export can write it back.
fn keep_original(
    metadata: &mut BTreeMap<String, Value>,
    key: &str,
    raw: Option<String>,
    mapped: &str,
) {
    if let Some(raw) = raw {
        if raw != mapped
            && raw.chars().count() <= MAX_KEPT_ORIGINAL_CHARS
            && !raw.chars().any(char::is_control)
        {
            metadata.insert(key.to_string(), Value::String(raw));
        }
    }
}

fn take_priority(obj: &mut Map<String, Value>, report: &mut MappingReport) -> LineResult<u8> {
    match obj.remove("priority") {
        None | Some(Value::Null) => {
            report.priorities_defaulted += 1;
            Ok(bead::DEFAULT_PRIORITY)
        }
        Some(Value::Number(n)) => {
            let (p, exact) = if let Some(i) = n.as_i64() {
                (i.clamp(0, 4), (0..=4).contains(&i))
            } else if n.as_u64().is_some() {
                (4, false)
            } else {
                let f = n.as_f64().unwrap_or(f64::from(bead::DEFAULT_PRIORITY));
                let r = f.round().clamp(0.0, 4.0);
                (r as i64, f == r)
            };
            if !exact {
                report.priorities_clamped += 1;
            }
            Ok(u8::try_from(p).unwrap_or(bead::DEFAULT_PRIORITY))
        }
        Some(other) => Err(format!(
            "field 'priority' must be a number from 0 to 4, not {}",
            json_kind(&other)
        )),
    }
}

fn take_str(obj: &mut Map<String, Value>, key: &str) -> LineResult<Option<String>> {
    match obj.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(format!(
            "field '{key}' must be a string, not {}",
            json_kind(&other)
        )),
    }
}

/// An optional actor name (`created_by`): empty means none.
fn take_actor(obj: &mut Map<String, Value>, key: &str) -> LineResult<Option<String>> {
    let v = non_empty(take_str(obj, key)?);
    if let Some(a) = &v {
        crate::actor::validate(a).map_err(|e| format!("field '{key}': {e}"))?;
    }
    Ok(v)
}

/// An optional timestamp in canonical form: empty means none.
fn take_ts(obj: &mut Map<String, Value>, key: &str) -> LineResult<Option<String>> {
    match take_str(obj, key)? {
        Some(s) if !s.trim().is_empty() => checked_ts(&s)
            .map(Some)
            .map_err(|e| format!("field '{key}': {e}")),
        _ => Ok(None),
    }
}

/// [`clock::normalize_ts`], but refusing what it cannot represent (very long
/// strings, and years whose conversion to UTC could leave the supported range).
fn checked_ts(s: &str) -> LineResult<String> {
    let s = s.trim();
    if s.len() > MAX_TS_BYTES {
        return Err(format!("'{}' is not a timestamp", clip(s)));
    }
    let t = clock::parse_ts(s).map_err(|e| e.to_string())?;
    if !(1..=9998).contains(&t.year()) {
        return Err(format!("timestamp '{}' is out of range", clip(s)));
    }
    Ok(clock::format_ts(t))
}

fn check_id(what: &str, s: &str) -> LineResult<()> {
    if s.len() > MAX_ID_BYTES {
        return Err(format!(
            "{what} is {} bytes; the limit is {MAX_ID_BYTES}",
            s.len()
        ));
    }
    id::validate_id_query(s).map_err(|e| format!("{what}: {e}"))
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

/// A short, printable rendering of untrusted text for messages and report keys.
fn clip(s: &str) -> String {
    const MAX: usize = 40;
    let mut out: String = s
        .chars()
        .take(MAX)
        .collect::<String>()
        .escape_debug()
        .collect();
    if s.chars().nth(MAX).is_some() {
        out.push_str("...");
    }
    out
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::BeadStore;
    use gt_store_sqlite::SqliteStore;
    use proptest::strategy::Strategy as _;
    use std::io::Cursor;
    use std::sync::Arc;

    const FIXTURE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/beads-classic.jsonl"
    );
    const NOW: &str = "2026-02-01T00:00:00Z";

    fn fixture_text() -> String {
        std::fs::read_to_string(FIXTURE).expect("fixture readable")
    }

    fn fixture_plan() -> ImportPlan {
        parse(Cursor::new(fixture_text()), NOW).expect("fixture parses")
    }

    fn parse_str(s: &str) -> Result<ImportPlan> {
        parse(Cursor::new(s.as_bytes().to_vec()), NOW)
    }

    fn err_of(s: &str) -> String {
        match parse_str(s) {
            Err(Error::Invalid(m)) => m,
            Err(e) => panic!("expected Invalid, got {e:?}"),
            Ok(_) => panic!("expected an error for {s:?}"),
        }
    }

    fn export(records: &[BeadRecord]) -> Vec<u8> {
        let mut out = Vec::new();
        for r in records {
            write_record(&mut out, r).unwrap();
        }
        out
    }

    /// The fixture's raw lines as JSON, for comparisons that do not go
    /// through this module.
    fn raw_fixture() -> Vec<Map<String, Value>> {
        fixture_text()
            .lines()
            .map(|l| match serde_json::from_str(l).unwrap() {
                Value::Object(m) => m,
                _ => panic!("not an object"),
            })
            .collect()
    }

    fn raw_edges(raw: &[Map<String, Value>]) -> BTreeSet<(String, String, DepType)> {
        let mut edges = BTreeSet::new();
        for o in raw {
            for d in o
                .get("dependencies")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                edges.insert((
                    d["issue_id"].as_str().unwrap().to_string(),
                    d["depends_on_id"].as_str().unwrap().to_string(),
                    map_dep_type(d["type"].as_str().unwrap()),
                ));
            }
        }
        edges
    }

    fn edges_of(records: &[BeadRecord]) -> BTreeSet<(String, String, DepType)> {
        records
            .iter()
            .flat_map(|r| &r.dependencies)
            .map(|d| (d.bead.clone(), d.depends_on.clone(), d.dep_type))
            .collect()
    }

    #[test]
    fn fixture_parses_with_expected_counts() {
        let raw = raw_fixture();
        let with_deps = raw
            .iter()
            .filter(|o| {
                o.get("dependencies")
                    .and_then(Value::as_array)
                    .is_some_and(|a| !a.is_empty())
            })
            .count();
        assert_eq!(raw.len(), 513);
        assert_eq!(with_deps, 204);

        let plan = fixture_plan();
        let r = &plan.report;
        assert_eq!(plan.records.len(), 513);
        assert_eq!(r.lines, 513);
        assert_eq!(r.records, 513);
        assert_eq!(r.records_with_dependencies, 204);
        assert_eq!(r.dependencies, 464);
        assert_eq!(r.comments, 180);
        assert_eq!(r.duplicate_ids, 0);
        assert_eq!(r.dependencies_outside_input, 0);
        assert_eq!(r.statuses_mapped.get("tombstone->closed"), Some(&1));
        assert_eq!(r.statuses_mapped.len(), 1);
        assert!(r.types_mapped.is_empty());
        assert_eq!(
            r.dependency_types_mapped.get("parent_child->parent-child"),
            Some(&19)
        );
        assert_eq!(
            r.dependency_types_mapped.get("relates-to->related"),
            Some(&16)
        );
        assert_eq!(r.priorities_clamped, 0);
        assert_eq!(r.extra_fields.get("notes"), Some(&100));
        assert_eq!(r.extra_fields.get("owner"), Some(&135));
        assert!(r.dropped_fields.is_empty(), "{:?}", r.dropped_fields);

        let tomb = plan
            .records
            .iter()
            .find(|r| r.bead.id == "beads_rust-1h4")
            .unwrap();
        assert_eq!(tomb.bead.status, Status::Closed);
        assert_eq!(tomb.bead.metadata[META_BD_STATUS], "tombstone");
        assert_eq!(tomb.bead.metadata["delete_reason"], "Test cleanup");

        // Every raw id and title arrives unchanged, in file order.
        for (o, rec) in raw.iter().zip(&plan.records) {
            assert_eq!(o["id"].as_str().unwrap(), rec.bead.id);
            assert_eq!(o["title"].as_str().unwrap(), rec.bead.title);
            assert_eq!(
                o["priority"].as_u64().unwrap(),
                u64::from(rec.bead.priority)
            );
        }
        assert_eq!(edges_of(&plan.records), raw_edges(&raw));
    }

    #[test]
    fn fixture_has_no_dangling_dependencies_or_cycles() {
        let raw = raw_fixture();
        let ids: HashSet<&str> = raw.iter().map(|o| o["id"].as_str().unwrap()).collect();
        let edges = raw_edges(&raw);
        assert!(edges.iter().all(|(_, to, _)| ids.contains(to.as_str())));
        // Kahn's algorithm over every edge: all nodes drain iff there is no cycle.
        let mut indegree: HashMap<&str, usize> = ids.iter().map(|&i| (i, 0)).collect();
        let mut out: HashMap<&str, Vec<&str>> = HashMap::new();
        for (from, to, _) in &edges {
            *indegree.get_mut(to.as_str()).unwrap() += 1;
            out.entry(from.as_str()).or_default().push(to.as_str());
        }
        let mut queue: Vec<&str> = indegree
            .iter()
            .filter(|(_, &n)| n == 0)
            .map(|(&i, _)| i)
            .collect();
        let mut drained = 0;
        while let Some(n) = queue.pop() {
            drained += 1;
            for &m in out.get(n).into_iter().flatten() {
                let d = indegree.get_mut(m).unwrap();
                *d -= 1;
                if *d == 0 {
                    queue.push(m);
                }
            }
        }
        assert_eq!(drained, ids.len(), "the fixture has a dependency cycle");
    }

    #[test]
    fn round_trip_through_jsonl() {
        let first = fixture_plan();
        let bytes = export(&first.records);
        assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 513);
        let second = parse(Cursor::new(bytes.clone()), "2030-01-01T00:00:00Z").unwrap();
        assert_eq!(second.records.len(), first.records.len());
        for (a, b) in first.records.iter().zip(&second.records) {
            // Whole beads compare equal: ids, titles, statuses, priorities,
            // types, labels, timestamps and metadata.
            assert_eq!(a.bead, b.bead);
            assert_eq!(a.dependencies, b.dependencies);
            assert_eq!(a.comments, b.comments);
        }
        // Exporting again gives the same bytes.
        assert_eq!(export(&second.records), bytes);

        // The export speaks the original vocabulary where it mapped.
        let raw = raw_fixture();
        let again: Vec<Value> = String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        for (o, e) in raw.iter().zip(&again) {
            assert_eq!(o["status"], e["status"]);
            assert_eq!(o["issue_type"], e["issue_type"]);
            assert_eq!(o.get("labels"), e.get("labels"));
            assert_eq!(o.get("notes"), e.get("notes"));
            assert_eq!(o.get("compaction_level"), e.get("compaction_level"));
            assert_eq!(
                o.get("comments").map(|c| c.as_array().unwrap().len()),
                e.get("comments").map(|c| c.as_array().unwrap().len())
            );
        }
    }

    #[test]
    fn round_trip_through_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::create(
            &dir.path().join("town.db"),
            "hq",
            Arc::new(crate::clock::SystemClock),
        )
        .unwrap();
        let plan = fixture_plan();
        let counts = store
            .import_records(
                &plan.records,
                crate::event::NewEvent::new(crate::event::kind::BEADS_IMPORTED, "import"),
                "tester",
            )
            .unwrap();
        assert_eq!(counts.created, 513);
        assert_eq!(counts.updated, 0);
        assert_eq!(counts.dependencies, 464);
        assert_eq!(counts.dangling_dependencies, 0);
        assert_eq!(counts.comments, 180);

        let mut exported = Vec::new();
        store
            .export_records(&mut |r| write_record(&mut exported, &r))
            .unwrap();
        let back = parse(Cursor::new(exported), NOW).unwrap();

        let raw = raw_fixture();
        let mut raw_sorted: Vec<&Map<String, Value>> = raw.iter().collect();
        raw_sorted.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
        assert_eq!(back.records.len(), raw_sorted.len());
        for (o, rec) in raw_sorted.iter().zip(&back.records) {
            assert_eq!(o["id"].as_str().unwrap(), rec.bead.id);
            assert_eq!(o["title"].as_str().unwrap(), rec.bead.title);
            assert_eq!(map_status(o["status"].as_str().unwrap()), rec.bead.status);
            assert_eq!(
                o["status"].as_str().unwrap(),
                export_status(&rec.bead),
                "{}",
                rec.bead.id
            );
        }
        assert_eq!(edges_of(&back.records), raw_edges(&raw));

        // And everything the plan carried survived the store.
        let mut by_id: HashMap<&str, &BeadRecord> = HashMap::new();
        for r in &plan.records {
            by_id.insert(&r.bead.id, r);
        }
        for r in &back.records {
            let p = by_id[r.bead.id.as_str()];
            assert_eq!(p.bead, r.bead);
            let texts = |c: &[Comment]| {
                c.iter()
                    .map(|c| (c.author.clone(), c.text.clone(), c.created_at.clone()))
                    .collect::<Vec<_>>()
            };
            assert_eq!(texts(&p.comments), texts(&r.comments));
        }
    }

    #[test]
    fn malformed_lines_report_their_line_number() {
        let good =
            r#"{"id":"bd-1","title":"One","status":"open","priority":1,"issue_type":"task"}"#;
        let cases: Vec<(String, &str)> = vec![
            (format!("{good}\n\n{{not json\n"), "line 3:"),
            (format!("{good}\n{{\"title\":\"x\"}}\n"), "line 2: missing or empty id"),
            (format!("{good}\n{{\"id\":\"\",\"title\":\"x\"}}\n"), "line 2:"),
            (format!("{good}\n{{\"id\":\"bd-2\"}}\n"), "line 2: bd-2: missing or empty title"),
            (format!("{good}\n{{\"id\":\"bd-2\",\"title\":\"  \"}}"), "line 2:"),
            (format!("{good}\n{{\"id\":\"bd 2\",\"title\":\"x\"}}"), "line 2: id:"),
            (format!("{good}\n{{\"id\":\"bd-2\",\"title\":\"{}\"}}", "x".repeat(501)), "line 2: bd-2: title is 501"),
            (format!("{good}\n{{\"id\":\"bd-2\",\"title\":\"x\",\"created_at\":\"yesterday\"}}"), "line 2: bd-2: field 'created_at'"),
            (format!("{good}\n[1,2]"), "line 2: expected a JSON object"),
            (format!("{good}\n{{\"id\":7,\"title\":\"x\"}}"), "line 2: field 'id' must be a string"),
            (format!("{good}\n{{\"id\":\"bd-2\",\"title\":\"x\",\"priority\":\"high\"}}"), "line 2: bd-2: field 'priority'"),
            (format!("{good}\n{{\"id\":\"bd-2\",\"title\":\"x\",\"labels\":\"a,b\"}}"), "line 2: bd-2: field 'labels'"),
            (format!("{good}\n{{\"id\":\"bd-2\",\"title\":\"x\",\"labels\":[1]}}"), "line 2: bd-2: label 1"),
            (format!("{good}\n{{\"id\":\"bd-2\",\"title\":\"x\",\"dependencies\":[{{\"issue_id\":\"bd-9\",\"depends_on_id\":\"bd-1\"}}]}}"), "line 2: bd-2: dependency 1: issue_id"),
            (format!("{good}\n{{\"id\":\"bd-2\",\"title\":\"x\",\"dependencies\":[{{\"depends_on_id\":\"x y\"}}]}}"), "line 2: bd-2: dependency 1: depends_on_id"),
            (format!("{good}\n{{\"id\":\"bd-2\",\"title\":\"x\",\"dependencies\":[\"bd-1\"]}}"), "line 2: bd-2: dependency 1 must be an object"),
            (format!("{good}\n{{\"id\":\"bd-2\",\"title\":\"x\",\"comments\":[{{\"issue_id\":\"bd-1\",\"text\":\"hi\"}}]}}"), "line 2: bd-2: comment 1: issue_id"),
            (format!("{good}\n{{\"id\":\"bd-2\",\"title\":\"x\",\"a\\u0000b\":1}}"), "line 2: bd-2: field name"),
            (format!("{good}\n{{\"id\":\"bd-2\",\"title\":\"a\\nb\"}}"), "line 2: bd-2: title"),
            (format!("{good}\n{{\"id\":\"bd-2\",\"title\":\"x\",\"assignee\":\"a\\u0007\"}}"), "line 2: bd-2: assignee"),
            (format!("{good}\n{{\"id\":\"bd-2\",\"title\":\"x\",\"closed_at\":\"9999-12-31T23:59:59-23:00\"}}"), "line 2: bd-2: field 'closed_at'"),
        ];
        for (input, want) in cases {
            let m = err_of(&input);
            assert!(m.starts_with(want), "{m:?} should start with {want:?}");
            assert!(m.len() < 400, "message too long: {m}");
        }
        let mut bad_utf8 = format!("{good}\n").into_bytes();
        bad_utf8.extend_from_slice(b"{\"id\":\"bd-2\",\"title\":\"\xff\"}\n");
        match parse(Cursor::new(bad_utf8), NOW) {
            Err(Error::Invalid(m)) => assert!(m.starts_with("line 2: not valid UTF-8"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn mappings_are_counted_and_written_back() {
        let input = [
            r#"{"id":"bd-1","title":"a","status":"blocked","issue_type":"message","priority":9}"#,
            r#"{"id":"bd-2","title":"b","status":"pinned","issue_type":"molecule","priority":-3}"#,
            r#"{"id":"bd-3","title":"c","status":"weird","issue_type":"Bug","priority":1.5}"#,
            r#"{"id":"bd-4","title":"d","status":"tombstone","dependencies":[
                {"issue_id":"bd-4","depends_on_id":"bd-1","type":"waits-for"},
                {"issue_id":"bd-4","depends_on_id":"bd-1","type":"relates-to"},
                {"depends_on_id":"bd-2","type":"parent_child","metadata":"{}"},
                {"depends_on_id":"bd-4","type":"blocks"},
                {"depends_on_id":"elsewhere-1"}]}"#,
            "",
            r#"{"id":"bd-1","title":"a again","status":"open","issue_type":"task","priority":2,"design":"d","bd_status":"x","nothing":null}"#,
        ]
        .iter()
        .map(|l| l.replace('\n', " "))
        .collect::<Vec<_>>()
        .join("\n");
        let plan = parse_str(&input).unwrap();
        let r = &plan.report;
        assert_eq!(r.lines, 6);
        assert_eq!(r.blank_lines, 1);
        assert_eq!(r.records, 4);
        assert_eq!(r.duplicate_ids, 1);
        assert_eq!(r.statuses_mapped["blocked->open"], 1);
        assert_eq!(r.statuses_mapped["pinned->open"], 1);
        assert_eq!(r.statuses_mapped["weird->open"], 1);
        assert_eq!(r.statuses_mapped["tombstone->closed"], 1);
        assert_eq!(r.types_mapped["message->task"], 1);
        assert_eq!(r.types_mapped["molecule->epic"], 1);
        assert_eq!(r.types_mapped["Bug->bug"], 1);
        assert_eq!(r.types_mapped["(none)->task"], 1);
        assert_eq!(r.priorities_clamped, 3);
        assert_eq!(r.priorities_defaulted, 1);
        assert_eq!(r.dependency_types_mapped["waits-for->related"], 1);
        assert_eq!(r.dependency_types_mapped["relates-to->related"], 1);
        assert_eq!(r.dependency_types_mapped["parent_child->parent-child"], 1);
        assert_eq!(r.dependency_types_mapped["(none)->blocks"], 1);
        assert_eq!(r.duplicate_dependencies, 1);
        assert_eq!(r.self_dependencies, 1);
        assert_eq!(r.dependencies, 3);
        assert_eq!(r.dependencies_outside_input, 1);
        assert_eq!(r.dropped_fields["dependencies[].metadata"], 1);
        assert_eq!(r.dropped_fields["bd_status"], 1);
        assert_eq!(r.closed_at_filled, 1);
        assert_eq!(r.extra_fields["design"], 1);
        assert!(!r.extra_fields.contains_key("nothing"));
        assert!(r.has_mappings());

        let recs = &plan.records;
        // The later bd-1 won, in the first one's place.
        assert_eq!(recs[0].bead.title, "a again");
        assert_eq!(recs[0].bead.status, Status::Open);
        assert!(!recs[0].bead.metadata.contains_key(META_BD_STATUS));
        assert_eq!(recs[1].bead.priority, 0);
        assert_eq!(recs[1].bead.bead_type, BeadType::Epic);
        assert_eq!(recs[2].bead.priority, 2);
        assert_eq!(recs[2].bead.created_at, "2026-02-01T00:00:00.000000Z");
        assert_eq!(recs[3].bead.status, Status::Closed);
        assert_eq!(recs[3].bead.parent.as_deref(), Some("bd-2"));

        let text = String::from_utf8(export(recs)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with(r#"{"id":"bd-1","title":"a again","design":"d","status":"open","priority":2,"issue_type":"task","#),
            "{}",
            lines[0]
        );
        assert!(lines[1].contains(r#""status":"pinned","priority":0,"issue_type":"molecule""#));
        assert!(lines[2].contains(r#""status":"weird","priority":2,"issue_type":"Bug""#));
        assert!(lines[3].contains(r#""status":"tombstone""#));
        assert!(!text.contains("bd_status"));
        assert!(!text.contains("bd_issue_type"));

        // A bead whose status moved on since import exports its own status.
        let mut moved = recs[1].clone();
        moved.bead.status = Status::InProgress;
        let mut out = Vec::new();
        write_record(&mut out, &moved).unwrap();
        assert!(String::from_utf8(out)
            .unwrap()
            .contains(r#""status":"in_progress""#));
    }

    #[test]
    fn metadata_never_shadows_format_fields() {
        let mut rec = parse_str(r#"{"id":"hq-1","title":"t"}"#)
            .unwrap()
            .records
            .remove(0);
        rec.bead
            .metadata
            .insert("title".into(), Value::from("shadow"));
        rec.bead.metadata.insert("zeta".into(), Value::from(1));
        let mut out = Vec::new();
        write_record(&mut out, &rec).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches("\"title\"").count(), 1);
        let back = parse_str(&text).unwrap().records.remove(0);
        assert_eq!(back.bead.title, "t");
        assert_eq!(back.bead.metadata["zeta"], 1);
    }

    #[test]
    fn hostile_input_is_an_error_not_a_panic() {
        // A line longer than the limit.
        let huge = format!(
            "{{\"id\":\"x-1\",\"title\":\"{}\"}}\n",
            "a".repeat(MAX_LINE_BYTES)
        );
        let m = err_of(&huge);
        assert!(m.starts_with("line 1: line is longer"), "{m}");
        // A huge id is not echoed back.
        let m = err_of(&format!(
            "{{\"id\":\"{}\",\"title\":\"x\"}}",
            "a".repeat(100_000)
        ));
        assert!(m.len() < 200, "{m}");
        // Deep nesting.
        let deep = format!(
            "{{\"id\":\"x-1\",\"title\":\"x\",\"extra\":{}{}}}",
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        assert!(parse_str(&deep).is_err());
        // Control characters and odd values are kept or refused cleanly.
        let plan = parse_str(
            "\u{feff}{\"id\":\"x-1\",\"title\":\"x\",\"description\":\"a\\u0000b\",\"status\":\"\\u0007\",\"priority\":1e300}\r\n",
        )
        .unwrap();
        let b = &plan.records[0].bead;
        assert_eq!(b.description, "a\u{0}b");
        assert_eq!(b.status, Status::Open);
        assert_eq!(b.priority, 4);
        assert!(!b.metadata.contains_key(META_BD_STATUS));
        assert!(plan.report.statuses_mapped.contains_key("\\u{7}->open"));
        // Empty input.
        let plan = parse_str("").unwrap();
        assert_eq!(plan.records.len(), 0);
        // A bad `now`.
        assert!(parse_str_now("", "soon").is_err());
    }

    fn parse_str_now(s: &str, now: &str) -> Result<ImportPlan> {
        parse(Cursor::new(s.as_bytes().to_vec()), now)
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_lines_never_panic(line in ".{0,200}") {
            let _ = parse_str(&line);
            let _ = parse_str(&format!("{{\"id\":\"a-1\",\"title\":\"t\",\"status\":{line:?}}}"));
        }

        #[test]
        fn arbitrary_json_values_never_panic(
            key in "[a-z_]{1,12}",
            v in proptest::prop_oneof![
                proptest::strategy::Just(Value::Null),
                proptest::num::i64::ANY.prop_map(Value::from),
                (-1000i32..1000).prop_map(|i| Value::from(f64::from(i) / 4.0)),
                ".{0,30}".prop_map(Value::from),
                proptest::collection::vec(".{0,5}", 0..4).prop_map(Value::from),
            ],
        ) {
            let mut m = Map::new();
            m.insert("id".into(), Value::from("a-1"));
            m.insert("title".into(), Value::from("t"));
            m.insert(key, v);
            if let Ok(plan) = parse_str(&Value::Object(m).to_string()) {
                let out = export(&plan.records);
                let again = parse(Cursor::new(out), NOW).unwrap();
                proptest::prop_assert_eq!(&again.records[0].bead, &plan.records[0].bead);
            }
        }
    }
}

/// What `gt bead import` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportSummary {
    pub file: String,
    #[serde(flatten)]
    pub counts: crate::store::ImportCounts,
    pub report: MappingReport,
}

/// Imports a classic Beads JSONL file in one transaction (all or nothing)
/// with one `bead.imported` event.
pub fn import_file(
    store: &dyn crate::store::BeadStore,
    path: &std::path::Path,
    now: &str,
    actor: &str,
) -> Result<ImportSummary> {
    let file = std::fs::File::open(path)
        .map_err(|e| Error::invalid(format!("cannot read {}: {e}", path.display())))?;
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        return Err(Error::invalid(format!(
            "cannot read {}: not a regular file",
            path.display()
        )));
    }
    let plan = parse(std::io::BufReader::new(file), now)?;
    let name = path.display().to_string();
    let event = crate::event::NewEvent::new(
        crate::event::kind::BEADS_IMPORTED,
        format!("imported {} beads from {name}", plan.records.len()),
    )
    .payload(serde_json::json!({ "file": name, "report": plan.report }));
    let counts = store
        .import_records(&plan.records, event, actor)
        .map_err(|e| match e {
            Error::Cycle(path) => Error::Cycle(with_line_numbers(&plan, &path)),
            other => other,
        })?;
    Ok(ImportSummary {
        file: name,
        counts,
        report: plan.report,
    })
}

/// `a -> b -> a` as `a (line 3) -> b (line 7) -> a (line 3)`; ids not in
/// the input (already in the ledger) are marked so.
fn with_line_numbers(plan: &ImportPlan, path: &str) -> String {
    let line_of: HashMap<&str, usize> = plan
        .records
        .iter()
        .zip(&plan.lines)
        .map(|(r, l)| (r.bead.id.as_str(), *l))
        .collect();
    let steps: Vec<String> = path
        .split(" -> ")
        .map(|id| match line_of.get(id) {
            Some(l) => format!("{id} (line {l})"),
            None => format!("{id} (in the ledger)"),
        })
        .collect();
    format!("{}; nothing was imported", steps.join(" -> "))
}

/// Writes every bead as classic Beads JSONL; returns how many.
pub fn export_all(store: &dyn crate::store::BeadStore, out: &mut dyn Write) -> Result<usize> {
    let mut n = 0;
    let mut w = std::io::BufWriter::new(out);
    store.export_records(&mut |rec| {
        n += 1;
        write_record(&mut w, &rec)
    })?;
    w.flush()
        .map_err(|e| Error::io("cannot write the export", e))?;
    Ok(n)
}
