//! Library-level ledger benchmarks (see BENCHMARKS.md).
//!
//! One store of 20k beads and 15k dependencies is built once (through
//! `import_records`, as `gt bead import` does), with the same shape as the
//! ledger of `scripts/bench.sh`: ~60% closed (older beads more often), epics
//! with children, `blocks` edges mostly to recent work, edges only from newer
//! to older beads (no cycles). Then the read paths behind `gt ready`,
//! `gt show`, `gt bead list`, `gt status`, `gt trail` and id resolution are
//! measured, plus `create_bead` (one write transaction, fsync included).
//!
//! Run: `cargo bench -p gt-lib --bench ledger` (add `-- --quick` for a fast pass).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use gt_lib::bead::{Bead, BeadFilter, BeadType, DepType, Dependency, NewBead, Status};
use gt_lib::clock::{format_ts, SystemClock};
use gt_lib::event::{kind, EventQuery, NewEvent};
use gt_lib::store::{BeadRecord, BeadStore, EventStore, Store};
use gt_store_sqlite::SqliteStore;

const BEADS: usize = 20_000;
const DEPS: usize = 15_000;
const PREFIX: &str = "bn";

/// xorshift64*: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Exponentially distributed, with this mean.
    fn exp(&mut self, mean: f64) -> usize {
        (-(1.0 - self.unit()).ln() * mean) as usize
    }
}

fn base36(mut n: u64, width: usize) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = vec![b'0'; width];
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[(n % 36) as usize];
        n /= 36;
    }
    String::from_utf8(out).expect("ascii")
}

fn ledger(n: usize, want_deps: usize) -> Vec<BeadRecord> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut seen = HashSet::new();
    let mut ids = Vec::with_capacity(n);
    while ids.len() < n {
        let id = format!("{PREFIX}-{}", base36(rng.next() % 36u64.pow(5), 5));
        if seen.insert(id.clone()) {
            ids.push(id);
        }
    }
    let start = time::OffsetDateTime::from_unix_timestamp(1_735_689_600).expect("valid time");
    let mut records = Vec::with_capacity(n);
    for (i, id) in ids.iter().enumerate() {
        let closed = rng.unit() < 0.9 - 0.6 * (i as f64 / n as f64);
        let status = if closed {
            Status::Closed
        } else {
            match rng.below(100) {
                0..=71 => Status::Open,
                72..=89 => Status::InProgress,
                _ => Status::Deferred,
            }
        };
        let bead_type = match rng.below(100) {
            0..=1 => BeadType::Epic,
            2..=29 => BeadType::Bug,
            30..=49 => BeadType::Feature,
            50..=57 => BeadType::Chore,
            _ => BeadType::Task,
        };
        let created = format_ts(start + Duration::from_secs(300 * i as u64));
        let updated = format_ts(start + Duration::from_secs(300 * i as u64 + 3600));
        records.push(BeadRecord {
            bead: Bead {
                id: id.clone(),
                title: format!("Fix the thing number {i} in the parser"),
                description: "Reproduce with the attached steps first. Add a regression test."
                    .repeat(rng.below(4)),
                status,
                priority: [0, 1, 2, 2, 2, 2, 3, 3, 4][rng.below(9)],
                bead_type,
                assignee: None,
                labels: ["backend", "cli", "perf", "docs"][..rng.below(3)]
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
                parent: None,
                created_at: created.clone(),
                updated_at: updated.clone(),
                closed_at: closed.then(|| updated.clone()),
                close_reason: None,
                created_by: Some("bench".into()),
                metadata: BTreeMap::new(),
            },
            dependencies: Vec::new(),
            comments: Vec::new(),
        });
    }
    let epics: Vec<usize> = (0..n)
        .filter(|&i| records[i].bead.bead_type == BeadType::Epic)
        .collect();
    let mut has_parent = vec![false; n];
    let mut edges: HashSet<(usize, usize, DepType)> = HashSet::new();
    let mut add = |records: &mut Vec<BeadRecord>, from: usize, to: usize, t: DepType| {
        if from <= to || from >= n || !edges.insert((from, to, t)) {
            return false;
        }
        let created_at = records[from].bead.created_at.clone();
        records[from].dependencies.push(Dependency {
            bead: ids[from].clone(),
            depends_on: ids[to].clone(),
            dep_type: t,
            created_at,
            created_by: None,
        });
        true
    };
    let (mut parents, mut related, mut blocks) = (0, 0, 0);
    let (want_parents, want_related) = (want_deps * 14 / 100, want_deps * 8 / 100);
    while parents < want_parents && !epics.is_empty() {
        let e = epics[rng.below(epics.len())];
        let c = e + 1 + rng.exp(300.0);
        if c < n
            && !has_parent[c]
            && records[c].bead.bead_type != BeadType::Epic
            && add(&mut records, c, e, DepType::ParentChild)
        {
            has_parent[c] = true;
            parents += 1;
        }
    }
    while blocks < want_deps - want_parents - want_related {
        let i = 1 + rng.below(n - 1);
        let back = if rng.below(10) < 9 {
            1 + rng.exp(150.0)
        } else {
            1 + rng.below(i)
        };
        if add(&mut records, i, i.saturating_sub(back), DepType::Blocks) {
            blocks += 1;
        }
    }
    while related < want_related {
        let i = 1 + rng.below(n - 1);
        if add(&mut records, i, rng.below(i), DepType::Related) {
            related += 1;
        }
    }
    records
}

/// A non-closed bead with edges both ways (what `gt show` is usually asked about).
fn busy_bead(records: &[BeadRecord]) -> String {
    let mut incoming: HashMap<&str, usize> = HashMap::new();
    for r in records {
        for d in &r.dependencies {
            *incoming.entry(d.depends_on.as_str()).or_default() += 1;
        }
    }
    records
        .iter()
        .filter(|r| r.bead.status != Status::Closed && !r.dependencies.is_empty())
        .max_by_key(|r| {
            r.dependencies.len().min(4)
                + incoming
                    .get(r.bead.id.as_str())
                    .copied()
                    .unwrap_or(0)
                    .min(4)
        })
        .map(|r| r.bead.id.clone())
        .expect("a bead with dependencies")
}

/// The hash part of `id` cut to the shortest length that is still unique.
fn short_hash(records: &[BeadRecord], id: &str) -> String {
    let hash = id.split_once('-').map(|(_, h)| h).unwrap_or(id);
    (3..hash.len())
        .map(|len| &hash[..len])
        .find(|p| {
            records
                .iter()
                .filter(|r| {
                    r.bead
                        .id
                        .split_once('-')
                        .is_some_and(|(_, h)| h.starts_with(p))
                })
                .count()
                == 1
        })
        .unwrap_or(hash)
        .to_string()
}

fn bench_ledger(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("town.db");
    // Measured through the trait object, as the CLI holds its store.
    let store: Box<dyn Store + Send> = Box::new(
        SqliteStore::create(&path, PREFIX, Arc::new(SystemClock)).expect("create the store"),
    );
    let records = ledger(BEADS, DEPS);
    let counts = store
        .import_records(
            &records,
            NewEvent::new(kind::BEADS_IMPORTED, "bench ledger"),
            "bench",
        )
        .expect("import");
    assert_eq!(counts.created, BEADS);
    assert_eq!(counts.dependencies, DEPS);
    let show = busy_bead(&records);
    let hash = short_hash(&records, &show);
    // The same database seen by a town whose own prefix is not the ledger's
    // (an imported bd ledger): a bare hash then needs the slow path.
    let foreign = SqliteStore::open(&path, "hq", Arc::new(SystemClock)).expect("open");
    drop(records);

    let mut g = c.benchmark_group(format!("ledger_{}k", BEADS / 1000));
    g.bench_function("ready_beads(50)", |b| {
        b.iter(|| black_box(store.ready_beads(black_box(50)).expect("ready")))
    });
    g.bench_function("get_bead(full id)", |b| {
        b.iter(|| black_box(store.get_bead(black_box(&show)).expect("get")))
    });
    g.bench_function("bead_details(full id)", |b| {
        b.iter(|| black_box(store.bead_details(black_box(&show)).expect("details")))
    });
    let partial = format!("{PREFIX}-{hash}");
    g.bench_function("resolve_bead_id(bn-<partial>)", |b| {
        b.iter(|| black_box(store.resolve_bead_id(black_box(&partial)).expect("resolve")))
    });
    g.bench_function("resolve_bead_id(<partial>, town prefix)", |b| {
        b.iter(|| black_box(store.resolve_bead_id(black_box(&hash)).expect("resolve")))
    });
    g.bench_function("resolve_bead_id(<partial>, other prefix)", |b| {
        b.iter(|| black_box(foreign.resolve_bead_id(black_box(&hash)).expect("resolve")))
    });
    let open = BeadFilter {
        statuses: vec![Status::Open],
        limit: Some(100),
        ..Default::default()
    };
    g.bench_function("list_beads(open, 100)", |b| {
        b.iter(|| black_box(store.list_beads(black_box(&open)).expect("list")))
    });
    g.bench_function("count_by_status", |b| {
        b.iter(|| black_box(store.count_by_status().expect("count")))
    });
    let trail = EventQuery {
        limit: Some(50),
        ..Default::default()
    };
    g.bench_function("events(50)", |b| {
        b.iter(|| black_box(store.events(black_box(&trail)).expect("events")))
    });
    let mut n = 0u64;
    g.bench_function("create_bead", |b| {
        b.iter(|| {
            n += 1;
            let nb = NewBead::new(format!("bench write {n}"));
            black_box(store.create_bead(&nb, "bench").expect("create"))
        })
    });
    g.bench_function("create_bead(--deps blocks:<busy bead>)", |b| {
        b.iter(|| {
            n += 1;
            let mut nb = NewBead::new(format!("bench write {n}"));
            nb.deps = vec![(DepType::Blocks, show.clone())];
            black_box(store.create_bead(&nb, "bench").expect("create"))
        })
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_ledger
}
criterion_main!(benches);
