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

mod fields;

use fields::*;
pub use fields::{map_dep_type, map_status, map_type};

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
pub fn parse(reader: impl BufRead, now: &str) -> Result<ImportPlan> {
    let now = checked_ts(now).map_err(|e| Error::invalid(format!("current time: {e}")))?;
    let mut report = MappingReport::default();
    let mut records: Vec<BeadRecord> = Vec::new();
    let mut lines: Vec<usize> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for_each_issue(reader, &now, &mut report, |line_no, rec| {
        match index.get(&rec.bead.id) {
            Some(&i) => {
                records[i] = rec;
                lines[i] = line_no;
            }
            None => {
                index.insert(rec.bead.id.clone(), records.len());
                records.push(rec);
                lines.push(line_no);
            }
        }
        Ok(())
    })?;
    report.duplicate_ids = lines_read_twice(&report, records.len());
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

/// Lines with an id an earlier line had: issue lines minus distinct ids.
fn lines_read_twice(report: &MappingReport, distinct: usize) -> usize {
    (report.lines - report.blank_lines).saturating_sub(distinct)
}

/// Reads `reader` line by line and hands each issue, mapped, to `f` with its
/// line number (blank lines skipped, counted in `report` as every mapping).
/// A malformed line is `Error::Invalid("line N: ...")`.
fn for_each_issue(
    mut reader: impl BufRead,
    now: &str,
    report: &mut MappingReport,
    mut f: impl FnMut(usize, BeadRecord) -> Result<()>,
) -> Result<()> {
    let mut buf = Vec::new();
    let mut line_no = 0usize;
    loop {
        buf.clear();
        let n = (&mut reader)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|e| Error::io(format!("reading line {}", line_no + 1), e))?;
        if n == 0 {
            return Ok(());
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
        let rec = parse_issue(obj, now, report).map_err(at)?;
        f(line_no, rec)?;
    }
}

/// What the first read of a file to import learned: the line that wins for
/// each id (the last), and the mapping report.
struct Scan {
    winner: HashMap<String, usize>,
    report: MappingReport,
}

/// Reads the file once: validates every line, counts the mappings, and
/// keeps only each id's winning line and the (hashed) targets of its edges.
fn scan(path: &std::path::Path, now: &str) -> Result<Scan> {
    use std::hash::BuildHasher;
    let mut report = MappingReport::default();
    // id -> (winning line, edges, comments, hashed targets)
    let mut seen: HashMap<String, (usize, usize, usize, Vec<u64>)> = HashMap::new();
    let hasher = std::collections::hash_map::RandomState::new();
    let hash = |id: &str| hasher.hash_one(id);
    for_each_issue(open_regular(path)?, now, &mut report, |line, rec| {
        let targets = rec
            .dependencies
            .iter()
            .map(|d| hash(&d.depends_on))
            .collect();
        seen.insert(
            rec.bead.id,
            (line, rec.dependencies.len(), rec.comments.len(), targets),
        );
        Ok(())
    })?;
    report.duplicate_ids = lines_read_twice(&report, seen.len());
    report.records = seen.len();
    let ids: HashSet<u64> = seen.keys().map(|k| hash(k)).collect();
    let mut winner = HashMap::with_capacity(seen.len());
    for (id, (line, deps, comments, targets)) in seen {
        report.dependencies += deps;
        report.comments += comments;
        if deps > 0 {
            report.records_with_dependencies += 1;
        }
        report.dependencies_outside_input += targets.iter().filter(|t| !ids.contains(t)).count();
        winner.insert(id, line);
    }
    Ok(Scan { winner, report })
}

fn open_regular(path: &std::path::Path) -> Result<std::io::BufReader<std::fs::File>> {
    let file = std::fs::File::open(path)
        .map_err(|e| Error::invalid(format!("cannot read {}: {e}", path.display())))?;
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        return Err(Error::invalid(format!(
            "cannot read {}: not a regular file",
            path.display()
        )));
    }
    Ok(std::io::BufReader::with_capacity(1 << 20, file))
}

/// The records of a file, read again from the file each time the store asks
/// (only each id's winning line is handed on).
struct FileRecords<'a> {
    path: &'a std::path::Path,
    now: &'a str,
    scan: &'a Scan,
}

impl crate::store::RecordSource for FileRecords<'_> {
    fn each(&self, sink: &mut dyn FnMut(&BeadRecord) -> Result<()>) -> Result<()> {
        let mut report = MappingReport::default();
        for_each_issue(
            open_regular(self.path)?,
            self.now,
            &mut report,
            |line, rec| {
                if self.scan.winner.get(&rec.bead.id) == Some(&line) {
                    sink(&rec)?;
                }
                Ok(())
            },
        )
    }

    fn len_hint(&self) -> usize {
        self.scan.winner.len()
    }
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

/// What `gt bead import` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportSummary {
    pub file: String,
    #[serde(flatten)]
    pub counts: crate::store::ImportCounts,
    pub report: MappingReport,
}

/// Files larger than this are imported without holding their records.
pub const STREAM_OVER_BYTES: u64 = 64 << 20;

/// Imports a classic Beads JSONL file in one transaction (all or nothing)
/// with one `bead.imported` event. A file over [`STREAM_OVER_BYTES`] is read
/// once to check it and again as the store writes (beads, then edges):
/// memory then holds each id's line, not the records (1M beads: 293 MB
/// peak instead of 1.1 GB, for one more read of the file).
pub fn import_file(
    store: &dyn crate::store::BeadStore,
    path: &std::path::Path,
    now: &str,
    actor: &str,
) -> Result<ImportSummary> {
    import_file_with(store, path, now, actor, STREAM_OVER_BYTES)
}

/// [`import_file`], streaming files over `stream_over` bytes.
pub fn import_file_with(
    store: &dyn crate::store::BeadStore,
    path: &std::path::Path,
    now: &str,
    actor: &str,
    stream_over: u64,
) -> Result<ImportSummary> {
    let reader = open_regular(path)?;
    let size = reader
        .get_ref()
        .metadata()
        .map(|m| m.len())
        .unwrap_or(u64::MAX);
    if size <= stream_over {
        return import_held(store, reader, path, now, actor);
    }
    drop(reader);
    let checked = checked_ts(now).map_err(|e| Error::invalid(format!("current time: {e}")))?;
    let scan = scan(path, &checked)?;
    let name = path.display().to_string();
    let event = crate::event::NewEvent::new(
        crate::event::kind::BEADS_IMPORTED,
        format!("imported {} beads from {name}", scan.report.records),
    )
    .payload(serde_json::json!({ "file": name, "report": scan.report }));
    let source = FileRecords {
        path,
        now: &checked,
        scan: &scan,
    };
    let counts = store
        .import_records(&source, event, actor)
        .map_err(|e| match e {
            Error::Cycle(path) => Error::Cycle(with_line_numbers(&scan.winner, &path)),
            other => other,
        })?;
    Ok(ImportSummary {
        file: name,
        counts,
        report: scan.report,
    })
}

/// A small file: parsed into memory once, then written.
fn import_held(
    store: &dyn crate::store::BeadStore,
    reader: impl BufRead,
    path: &std::path::Path,
    now: &str,
    actor: &str,
) -> Result<ImportSummary> {
    let plan = parse(reader, now)?;
    let name = path.display().to_string();
    let event = crate::event::NewEvent::new(
        crate::event::kind::BEADS_IMPORTED,
        format!("imported {} beads from {name}", plan.records.len()),
    )
    .payload(serde_json::json!({ "file": name, "report": plan.report }));
    let counts = store
        .import_records(&plan.records, event, actor)
        .map_err(|e| match e {
            Error::Cycle(cycle) => {
                let line_of: HashMap<String, usize> = plan
                    .records
                    .iter()
                    .zip(&plan.lines)
                    .map(|(r, l)| (r.bead.id.clone(), *l))
                    .collect();
                Error::Cycle(with_line_numbers(&line_of, &cycle))
            }
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
fn with_line_numbers(line_of: &HashMap<String, usize>, path: &str) -> String {
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

#[cfg(test)]
mod tests;
