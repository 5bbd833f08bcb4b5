//! `ready` and `blocked` against a naive reference on random dependency graphs.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use gt_lib::bead::{Bead, BeadPatch, DepType, NewBead, Status};
use gt_lib::clock::SystemClock;
use gt_lib::store::BeadStore;
use gt_store_sqlite::SqliteStore;
use proptest::prelude::*;

const STATUSES: [Status; 4] = [
    Status::Open,
    Status::Closed,
    Status::Deferred,
    Status::InProgress,
];

#[derive(Debug, Clone)]
struct Graph {
    /// (status index, priority) per bead.
    beads: Vec<(usize, u8)>,
    /// (from, to, is_parent_edge)
    edges: Vec<(usize, usize, bool)>,
}

fn graphs() -> impl Strategy<Value = Graph> {
    (2usize..14).prop_flat_map(|n| {
        (
            prop::collection::vec((0usize..4, 0u8..5), n),
            prop::collection::vec((0..n, 0..n, any::<bool>()), 0..(n * 2)),
        )
            .prop_map(|(beads, edges)| Graph { beads, edges })
    })
}

/// blocked(b) = an unclosed `blocks` target, or a parent that is deferred or blocked.
fn naive_blocked(
    id: &str,
    beads: &HashMap<String, Bead>,
    blocks: &HashMap<String, Vec<String>>,
    parent: &HashMap<String, String>,
    seen: &mut HashSet<String>,
) -> bool {
    if !seen.insert(id.to_string()) {
        return false;
    }
    let direct = blocks
        .get(id)
        .into_iter()
        .flatten()
        .any(|t| beads[t].status != Status::Closed);
    direct
        || parent.get(id).is_some_and(|p| {
            beads[p].status == Status::Deferred || naive_blocked(p, beads, blocks, parent, seen)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn ready_and_blocked_match_reference(g in graphs()) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::create(&dir.path().join("t.db"), "t", Arc::new(SystemClock)).unwrap();
        let mut ids = Vec::new();
        for (i, (_, prio)) in g.beads.iter().enumerate() {
            let mut nb = NewBead::new(format!("bead {i}"));
            nb.priority = Some(*prio);
            ids.push(store.create_bead(&nb, "prop").unwrap().id);
        }
        // Edges: the store refuses cycles, self-edges and second parents; the
        // reference only sees the edges that were accepted.
        let mut blocks: HashMap<String, Vec<String>> = HashMap::new();
        let mut parent: HashMap<String, String> = HashMap::new();
        for (from, to, is_parent) in &g.edges {
            let t = if *is_parent { DepType::ParentChild } else { DepType::Blocks };
            if store.add_dependency(&ids[*from], &ids[*to], t, "prop").is_ok() {
                if *is_parent {
                    parent.insert(ids[*from].clone(), ids[*to].clone());
                } else {
                    blocks.entry(ids[*from].clone()).or_default().push(ids[*to].clone());
                }
            }
        }
        for (i, (s, _)) in g.beads.iter().enumerate() {
            if STATUSES[*s] != Status::Open {
                let patch = BeadPatch { status: Some(STATUSES[*s]), ..Default::default() };
                store.update_bead(&ids[i], &patch, "prop").unwrap();
            }
        }
        let beads: HashMap<String, Bead> = ids.iter().map(|id| (id.clone(), store.get_bead(id).unwrap())).collect();
        let blocked = |id: &str| naive_blocked(id, &beads, &blocks, &parent, &mut HashSet::new());

        let mut want_ready: Vec<&Bead> = beads.values().filter(|b| b.status == Status::Open && !blocked(&b.id)).collect();
        want_ready.sort_by(|a, b| (a.priority, &a.created_at, &a.id).cmp(&(b.priority, &b.created_at, &b.id)));
        let want_ready: Vec<String> = want_ready.into_iter().map(|b| b.id.clone()).collect();
        let got_ready: Vec<String> = store.ready_beads(1000).unwrap().into_iter().map(|b| b.id).collect();
        prop_assert_eq!(&got_ready, &want_ready);
        // A limit takes a prefix of the same order.
        let got_two: Vec<String> = store.ready_beads(2).unwrap().into_iter().map(|b| b.id).collect();
        prop_assert_eq!(&got_two[..], &want_ready[..want_ready.len().min(2)]);

        let mut want_blocked: Vec<String> = beads
            .values()
            .filter(|b| !matches!(b.status, Status::Closed | Status::Deferred) && blocked(&b.id))
            .map(|b| b.id.clone())
            .collect();
        want_blocked.sort();
        let mut got_blocked: Vec<String> = store.blocked_beads(None).unwrap().into_iter().map(|b| b.bead.id).collect();
        got_blocked.sort();
        prop_assert_eq!(got_blocked, want_blocked);

        // And `show` agrees with both.
        for id in &ids {
            prop_assert_eq!(store.bead_details(id).unwrap().blocked, blocked(id));
        }
    }
}
