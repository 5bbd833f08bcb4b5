//! Reading and writing one issue's fields: the mapping of `bd` statuses,
//! types and dependency types, and the checks each field gets on import.

use super::*;

pub(super) fn to_json(v: &Value) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Internal(format!("serializing JSON: {e}")))
}

pub(super) fn export_status(b: &Bead) -> String {
    match b.metadata.get(META_BD_STATUS) {
        Some(Value::String(s)) if map_status(s) == b.status => s.clone(),
        _ => b.status.as_str().to_string(),
    }
}

pub(super) fn export_type(b: &Bead) -> String {
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

pub(super) type LineResult<T> = std::result::Result<T, String>;

pub(super) fn parse_issue(
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

pub(super) fn parse_issue_fields(
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

pub(super) fn take_labels(obj: &mut Map<String, Value>) -> LineResult<Vec<String>> {
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

pub(super) fn take_dependencies(
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

pub(super) fn take_comments(
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
pub(super) fn check_owner(obj: &mut Map<String, Value>, id: &str) -> LineResult<()> {
    match take_str(obj, "issue_id")? {
        Some(owner) if owner != id => Err(format!(
            "issue_id '{}' is not the issue it is listed under",
            clip(&owner)
        )),
        _ => Ok(()),
    }
}

pub(super) fn note_dropped(report: &mut MappingReport, prefix: &str, rest: Map<String, Value>) {
    for key in rest.keys() {
        *report
            .dropped_fields
            .entry(format!("{prefix}.{}", clip(key)))
            .or_default() += 1;
    }
}

pub(super) fn note_mapping(counts: &mut BTreeMap<String, usize>, raw: Option<&str>, to: &str) {
    if raw != Some(to) {
        let from = raw.map_or_else(|| "(none)".to_string(), clip);
        *counts.entry(format!("{from}->{to}")).or_default() += 1;
    }
}

/// Keeps a mapped original value in metadata so that export can write it back.
pub(super) fn keep_original(
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

pub(super) fn take_priority(
    obj: &mut Map<String, Value>,
    report: &mut MappingReport,
) -> LineResult<u8> {
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

pub(super) fn take_str(obj: &mut Map<String, Value>, key: &str) -> LineResult<Option<String>> {
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
pub(super) fn take_actor(obj: &mut Map<String, Value>, key: &str) -> LineResult<Option<String>> {
    let v = non_empty(take_str(obj, key)?);
    if let Some(a) = &v {
        crate::actor::validate(a).map_err(|e| format!("field '{key}': {e}"))?;
    }
    Ok(v)
}

/// An optional timestamp in canonical form: empty means none.
pub(super) fn take_ts(obj: &mut Map<String, Value>, key: &str) -> LineResult<Option<String>> {
    match take_str(obj, key)? {
        Some(s) if !s.trim().is_empty() => checked_ts(&s)
            .map(Some)
            .map_err(|e| format!("field '{key}': {e}")),
        _ => Ok(None),
    }
}

/// [`clock::normalize_ts`], but refusing what it cannot represent (very long
/// strings, and years whose conversion to UTC could leave the supported range).
pub(super) fn checked_ts(s: &str) -> LineResult<String> {
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

pub(super) fn check_id(what: &str, s: &str) -> LineResult<()> {
    if s.len() > MAX_ID_BYTES {
        return Err(format!(
            "{what} is {} bytes; the limit is {MAX_ID_BYTES}",
            s.len()
        ));
    }
    id::validate_id_query(s).map_err(|e| format!("{what}: {e}"))
}

pub(super) fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

/// A short, printable rendering of untrusted text for messages and report keys.
pub(super) fn clip(s: &str) -> String {
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

pub(super) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
