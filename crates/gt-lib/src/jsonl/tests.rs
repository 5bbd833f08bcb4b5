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
    let good = r#"{"id":"bd-1","title":"One","status":"open","priority":1,"issue_type":"task"}"#;
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
    // NUL is refused (no store keeps it as text); other control characters
    // and odd values are kept or refused cleanly.
    let nul = parse_str("{\"id\":\"x-1\",\"title\":\"x\",\"description\":\"a\\u0000b\"}\n");
    assert!(nul.is_err_and(|e| e.to_string().contains("NUL")));
    let plan = parse_str(
        "\u{feff}{\"id\":\"x-1\",\"title\":\"x\",\"description\":\"a\\u0007b\",\"status\":\"\\u0007\",\"priority\":1e300}\r\n",
    )
    .unwrap();
    let b = &plan.records[0].bead;
    assert_eq!(b.description, "a\u{7}b");
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

/// A file imported whole and the same file streamed give the same beads,
/// counts and report — duplicates folded to the last line, dangling edges
/// counted, a cycle named with its lines and nothing written.
#[test]
fn streaming_and_holding_imports_agree() {
    let mut text = fixture_text();
    // A duplicate id (the later line wins) and an edge to outside the input.
    text.push_str("\n{\"id\":\"dup-1\",\"title\":\"first\",\"status\":\"open\"}\n");
    text.push_str("{\"id\":\"dup-1\",\"title\":\"second\",\"status\":\"closed\",\"dependencies\":[{\"issue_id\":\"dup-1\",\"depends_on_id\":\"nowhere-9\",\"type\":\"related\"}]}\n");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.jsonl");
    std::fs::write(&file, &text).unwrap();
    let import = |stream_over: u64, db: &str| {
        let store = SqliteStore::create(
            &dir.path().join(db),
            "hq",
            Arc::new(crate::clock::SystemClock),
        )
        .unwrap();
        let summary = import_file_with(&store, &file, NOW, "tester", stream_over).unwrap();
        let mut out = Vec::new();
        store
            .export_records(&mut |r| write_record(&mut out, &r))
            .unwrap();
        (
            serde_json::to_value(&summary).unwrap(),
            String::from_utf8(out).unwrap(),
        )
    };
    let (held, held_beads) = import(u64::MAX, "held.db");
    let (streamed, streamed_beads) = import(0, "streamed.db");
    let strip = |mut v: Value| {
        v.as_object_mut().unwrap().remove("file");
        v
    };
    assert_eq!(strip(held.clone()), strip(streamed));
    assert_eq!(held_beads, streamed_beads);
    assert_eq!(held["report"]["duplicate_ids"], 1);
    assert!(held_beads.contains("\"title\":\"second\""));
    assert!(
        held["report"]["dependencies_outside_input"]
            .as_u64()
            .unwrap()
            >= 1
    );
    // A cycle: refused with line numbers either way, nothing written.
    let cyc = dir.path().join("cycle.jsonl");
    std::fs::write(
        &cyc,
        "{\"id\":\"c-1\",\"title\":\"a\",\"dependencies\":[{\"issue_id\":\"c-1\",\"depends_on_id\":\"c-2\",\"type\":\"blocks\"}]}\n{\"id\":\"c-2\",\"title\":\"b\",\"dependencies\":[{\"issue_id\":\"c-2\",\"depends_on_id\":\"c-1\",\"type\":\"blocks\"}]}\n",
    )
    .unwrap();
    for (over, db) in [(u64::MAX, "c1.db"), (0, "c2.db")] {
        let store = SqliteStore::create(
            &dir.path().join(db),
            "hq",
            Arc::new(crate::clock::SystemClock),
        )
        .unwrap();
        let e = import_file_with(&store, &cyc, NOW, "tester", over)
            .unwrap_err()
            .to_string();
        assert!(e.contains("(line 1)") && e.contains("(line 2)"), "{e}");
        assert_eq!(
            store
                .count_by_status()
                .unwrap()
                .iter()
                .map(|(_, n)| n)
                .sum::<u64>(),
            0
        );
    }
}
