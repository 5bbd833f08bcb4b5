//! Forward-only migrations, one SQL file each under `migrations/`. Migration
//! N brings `PRAGMA user_version` to N. Never edit a released migration:
//! append a new file and list it here.

pub const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_beads_events.sql"),
    include_str!("../migrations/0002_rigs_polecats_sessions_merge_requests.sql"),
    include_str!("../migrations/0003_mail_nudges_escalations.sql"),
    include_str!("../migrations/0004_merge_queue_convoys.sql"),
    include_str!("../migrations/0005_deacon.sql"),
    include_str!("../migrations/0006_agent_activity.sql"),
    // Bare partial ids (`4k2m` for `bn-4k2m…`) found by index in ledgers
    // whose prefix is not the town's (imported ones).
    include_str!("../migrations/0007_beads_by_hash.sql"),
    include_str!("../migrations/0008_deacon_faults_gates.sql"),
    // Token usage and cost per session, and the runtime's own conversation
    // id of a session (issue 12).
    include_str!("../migrations/0009_session_usage.sql"),
    // The hosts of a town and the host of each session (issue 13).
    include_str!("../migrations/0010_hosts.sql"),
    // Where an event's change was made (the dashboard), issue 14.
    include_str!("../migrations/0011_event_source.sql"),
    // Beads by status kept by triggers (issue 16).
    include_str!("../migrations/0012_bead_counts.sql"),
    // The last screen of each agent for other hosts' `gt peek` (issue 13).
    include_str!("../migrations/0013_agent_screens.sql"),
    // A bead's merge requests by index (issue 16).
    include_str!("../migrations/0014_merge_requests_by_bead.sql"),
    // The host that made each event's change (issue 13).
    include_str!("../migrations/0015_event_host.sql"),
];

/// From this many records on, an import counts beads by status once at its
/// end rather than by trigger per bead.
pub const BULK_IMPORT: usize = 2000;

/// The SQL that counts every bead by status again and puts back the two
/// count triggers an import dropped: the statements of migration 12, as
/// released (so the schema stays byte for byte what the migration made).
pub fn recount_beads() -> String {
    let sql = include_str!("../migrations/0012_bead_counts.sql");
    let trigger = |name: &str| {
        let t = &sql[sql
            .find(&format!("CREATE TRIGGER {name} "))
            .expect("in migration 12")..];
        t[..t.find("END;").expect("a trigger ends") + 4].to_string()
    };
    format!(
        "DELETE FROM bead_counts;
         INSERT INTO bead_counts (status, n) SELECT status, count(*) FROM beads GROUP BY status;
         {}
         {}",
        trigger("bead_counts_insert"),
        trigger("bead_counts_update")
    )
}

/// The schema version this build writes.
pub fn latest() -> i64 {
    MIGRATIONS.len() as i64
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sha2::{Digest, Sha256};

    use super::MIGRATIONS;
    use crate::SqliteStore;

    /// SHA-256 of each migration's SQL as it was when the migrations were
    /// string constants in the source (before the split into files): a
    /// released migration never changes, byte for byte.
    const RELEASED: [&str; 8] = [
        "42d4a67f7cc7f7b8e7c27ec9bb8362480bba46a6dfabb41ef06a3d0227d847c1",
        "430ec0a1278e860a1c7ed3a5901ee7cb753f496b3954751f59a9bcef196431bd",
        "191ff9eda3eee312e3aa965049a2cbeb8210ad12f2b3e013c3ae3ea34b6c42a5",
        "7c483cbcdf1944dd75b5befc4a8a58293a3c7a260aa22868355b9a09889c9ea9",
        "89fde274bc5b4419ff09cac98ffc75f84b76acd697502b3c0a047a1dce51039c",
        "e3bb3f3c6dc4a4336eab3cda015826f1c8bbf84ee804bd04bedd75b0f9757adf",
        "a7679d9119a3a031b1899997c483008e035d9b3a4212759ffd2eceeccc3e4aa9",
        "497a6a213ccdb6eae27c61f3630f75a7e97f83ca44221f8389efe12282dbeb8b",
    ];

    #[test]
    fn released_migrations_are_unchanged_byte_for_byte() {
        assert!(MIGRATIONS.len() >= RELEASED.len());
        for (i, (sql, want)) in MIGRATIONS.iter().zip(RELEASED).enumerate() {
            let got: String = Sha256::digest(sql.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(got, want, "migration {} changed", i + 1);
        }
    }

    /// The schema a new database gets, as `sqlite_master` lists it, equals
    /// the one the former in-source migrations made (`tests/fixtures`,
    /// `schema_v8.txt` was dumped from a version-8 database made by the old
    /// code) plus migration 9: `schema_v9.txt` is `schema_v8.txt` with the
    /// `session_usage` table and the `sessions.agent_session_id` column, and
    /// nothing else changed; and so on for each later migration.
    #[test]
    fn new_database_schema_equals_the_released_one() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::create(
            &dir.path().join("t.db"),
            "t",
            Arc::new(gt_host::clock::SystemClock),
        )
        .unwrap();
        let mut st = s
            .conn()
            .prepare(
                "SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master
                 ORDER BY type, name",
            )
            .unwrap();
        let rows: Vec<String> = st
            .query_map([], |r| {
                Ok(format!(
                    "{}\t{}\t{}\n{}\n",
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?
                ))
            })
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        let dump = format!(
            "user_version {}\n{}",
            s.schema_version().unwrap(),
            rows.concat()
        );
        let v15 = include_str!("../tests/fixtures/schema_v15.txt");
        assert_eq!(dump, v15);
        // v15 = v14 + migration 15 (events.host), and nothing else.
        let v14 = include_str!("../tests/fixtures/schema_v14.txt");
        let back = v15
            .replace(", source TEXT, host TEXT)\n", ", source TEXT)\n")
            .replace("user_version 15\n", "user_version 14\n");
        assert_eq!(back, v14);
        // v14 = v13 + migration 14 (merge_requests_by_bead), and nothing else.
        let v13 = include_str!("../tests/fixtures/schema_v13.txt");
        let index = "index\tmerge_requests_by_bead\tmerge_requests\n\
                     CREATE INDEX merge_requests_by_bead ON merge_requests (bead, id)\n";
        assert!(v14.contains(index), "{index}");
        let back = v14
            .replace(index, "")
            .replace("user_version 14\n", "user_version 13\n");
        assert_eq!(back, v13);
        // v13 = v12 + migration 13 (the agent_screens table), and nothing
        // else.
        let v12 = include_str!("../tests/fixtures/schema_v12.txt");
        let sql = include_str!("../migrations/0013_agent_screens.sql");
        let t = &sql[sql.find("CREATE TABLE agent_screens").unwrap()..];
        let block = format!(
            "table\tagent_screens\tagent_screens\n{}\n",
            &t[..t.find(';').unwrap()]
        );
        assert!(v13.contains(&block), "{block}");
        let back = v13
            .replace(&block, "")
            .replace("user_version 13\n", "user_version 12\n");
        assert_eq!(back, v12);
        // v12 = v11 + migration 12 (bead_counts and its triggers), and
        // nothing else.
        let v11 = include_str!("../tests/fixtures/schema_v11.txt");
        let sql = include_str!("../migrations/0012_bead_counts.sql");
        let stmt = |start: &str, end: &str| {
            let t = &sql[sql.find(start).unwrap()..];
            t[..t.find(end).unwrap() + end.len() - 1].to_string()
        };
        let mut back = v12.replace("user_version 12\n", "user_version 11\n");
        back = back.replace("index\tsqlite_autoindex_bead_counts_1\tbead_counts\n\n", "");
        let table = stmt("CREATE TABLE bead_counts", ");");
        back = back.replace(&format!("table\tbead_counts\tbead_counts\n{table}\n"), "");
        for t in [
            "bead_counts_delete",
            "bead_counts_insert",
            "bead_counts_update",
        ] {
            let body = stmt(&format!("CREATE TRIGGER {t} "), "END;");
            let block = format!("trigger\t{t}\tbeads\n{body}\n");
            assert!(back.contains(&block), "{block}");
            back = back.replace(&block, "");
        }
        assert_eq!(back, v11);
        // v11 = v10 + migration 11 (events.source), and nothing else.
        let v10 = include_str!("../tests/fixtures/schema_v10.txt");
        let back = v11
            .replace(
                "    payload TEXT NOT NULL DEFAULT '{}'\n, source TEXT)\n",
                "    payload TEXT NOT NULL DEFAULT '{}'\n)\n",
            )
            .replace("user_version 11\n", "user_version 10\n");
        assert_eq!(back, v10);
        // v10 = v9 + migration 10 (the hosts and leases tables,
        // sessions.host and its index), and nothing else.
        let v9 = include_str!("../tests/fixtures/schema_v9.txt");
        let sql = include_str!("../migrations/0010_hosts.sql");
        let table_block = |name: &str| {
            let t = &sql[sql.find(&format!("CREATE TABLE {name} ")).unwrap()..];
            format!("table\t{name}\t{name}\n{}\n", &t[..t.find(';').unwrap()])
        };
        let index = "CREATE INDEX sessions_open_by_host ON sessions (host) WHERE ended_at IS NULL";
        let index_block = format!("index\tsessions_open_by_host\tsessions\n{index}\n");
        let blocks = [table_block("hosts"), table_block("leases"), index_block];
        let mut back = v10.to_string();
        for b in &blocks {
            assert!(v10.contains(b.as_str()), "{b}");
            back = back.replace(b.as_str(), "");
        }
        let back = back
            .replace("index\tsqlite_autoindex_hosts_1\thosts\n\n", "")
            .replace("index\tsqlite_autoindex_leases_1\tleases\n\n", "")
            .replace(
                ", agent_session_id TEXT, host TEXT)\n",
                ", agent_session_id TEXT)\n",
            )
            .replace("user_version 10\n", "user_version 9\n");
        assert_eq!(back, v9);
        // v9 = v8 + migration 9, and nothing else.
        let sql = include_str!("../migrations/0009_session_usage.sql");
        let create = &sql[sql.find("CREATE TABLE session_usage").unwrap()..];
        let block = format!(
            "table\tsession_usage\tsession_usage\n{}\n",
            create.trim_end().trim_end_matches(';')
        );
        assert!(v9.contains(&block));
        let back = v9
            .replace(&block, "")
            .replace("\n, agent_session_id TEXT)\n", "\n)\n")
            .replace("user_version 9\n", "user_version 8\n");
        assert_eq!(back, include_str!("../tests/fixtures/schema_v8.txt"));
    }

    /// A bulk import drops the count triggers, counts once and puts them
    /// back as migration 12 made them; the counts are right and go on
    /// following later changes.
    #[test]
    fn a_bulk_import_counts_once_and_keeps_the_triggers() {
        use gt_core::bead::{Bead, BeadRecord, BeadType, Status};
        use gt_core::event::NewEvent;
        use gt_store::BeadStore;
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::create(
            &dir.path().join("t.db"),
            "t",
            Arc::new(gt_host::clock::SystemClock),
        )
        .unwrap();
        let triggers = |s: &SqliteStore| -> Vec<String> {
            let mut st = s
                .conn()
                .prepare("SELECT sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
                .unwrap();
            st.query_map([], |r| r.get(0))
                .unwrap()
                .map(|r| r.unwrap())
                .collect()
        };
        let before = triggers(&s);
        assert_eq!(before.len(), 3);
        let n = super::BULK_IMPORT + 500;
        let records: Vec<BeadRecord> = (0..n)
            .map(|i| BeadRecord {
                bead: Bead {
                    id: format!("t-b{i}"),
                    title: format!("bead {i}"),
                    description: String::new(),
                    status: [Status::Open, Status::Closed, Status::Deferred][i % 3],
                    priority: 2,
                    bead_type: BeadType::Task,
                    assignee: None,
                    labels: vec![],
                    parent: None,
                    created_at: "2026-01-01T00:00:00.000000Z".into(),
                    updated_at: "2026-01-01T00:00:00.000000Z".into(),
                    closed_at: None,
                    close_reason: None,
                    created_by: None,
                    metadata: Default::default(),
                },
                dependencies: vec![],
                comments: vec![],
            })
            .collect();
        s.import_records(&records, NewEvent::new("bead.imported", "bulk"), "human")
            .unwrap();
        assert_eq!(triggers(&s), before, "the triggers are back as they were");
        let counts = |s: &SqliteStore| -> Vec<(Status, u64)> {
            s.count_by_status()
                .unwrap()
                .into_iter()
                .filter(|(_, n)| *n > 0)
                .collect()
        };
        let third = (n / 3) as u64;
        assert_eq!(
            counts(&s),
            vec![
                (Status::Open, n as u64 - 2 * third),
                (Status::Deferred, third),
                (Status::Closed, third)
            ]
        );
        s.close_bead("t-b0", None, "human").unwrap();
        assert_eq!(counts(&s)[0], (Status::Open, n as u64 - 2 * third - 1));
    }
}
