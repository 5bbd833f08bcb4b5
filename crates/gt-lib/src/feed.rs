//! Seeing the town: following the event log by id (`gt feed`), the status
//! of the town (`gt status`) and the view models of the live dashboard,
//! all testable without a terminal.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;

use serde::Serialize;

use crate::bead::{BeadFilter, Status};
use crate::deacon::DeaconStatus;
use crate::error::Result;
use crate::event::{Event, EventQuery};
use crate::problems::{self, AgentActivity, AgentState, Problem, Thresholds};
use crate::store::observe::ObserveStore;
use crate::store::{BeadStore, EventStore, RigStore};
use crate::workspace::Workspace;

/// Events read per query while catching up.
const BATCH: usize = 1000;

/// Which events a feed shows (all of them by default). Applied to new
/// events in memory, so following stays one range scan on the primary key.
#[derive(Debug, Clone, Default)]
pub struct FeedFilter {
    pub actor: Option<String>,
    pub rig: Option<String>,
    pub bead: Option<String>,
    /// `bead` matches `bead.*` (as in `gt trail --kind`).
    pub kinds: Vec<String>,
}

impl FeedFilter {
    pub fn matches(&self, e: &Event) -> bool {
        let eq = |want: &Option<String>, have: &Option<String>| {
            want.as_ref().is_none_or(|w| have.as_ref() == Some(w))
        };
        self.actor.as_ref().is_none_or(|a| *a == e.actor)
            && eq(&self.rig, &e.rig)
            && eq(&self.bead, &e.bead)
            && (self.kinds.is_empty()
                || self.kinds.iter().any(|k| {
                    e.kind == *k
                        || (e.kind.starts_with(k.as_str())
                            && e.kind.as_bytes().get(k.len()) == Some(&b'.'))
                }))
    }

    fn query(&self, limit: usize) -> EventQuery {
        EventQuery {
            actor: self.actor.clone(),
            rig: self.rig.clone(),
            bead: self.bead.clone(),
            kinds: self.kinds.clone(),
            limit: Some(limit),
            ..Default::default()
        }
    }
}

/// Follows the event log: remembers the last id seen and reads only newer
/// events, after a cheap [`ObserveStore::event_cursor`] check (the newest
/// event id, an indexed max) says something was appended. Every committed
/// change appends an event, so nothing committed is missed; writes that are
/// observational only (screen samples, agent state) append none and carry no
/// event to show.
#[derive(Debug, Clone)]
pub struct Follower {
    last_id: i64,
    filter: FeedFilter,
}

impl Follower {
    /// Starts a feed. With `since` (canonical timestamp) the backlog is every
    /// event from then on; else the newest `backlog` events. Returns the
    /// follower and the backlog, oldest first.
    pub fn start<S: ObserveStore + EventStore + ?Sized>(
        store: &S,
        filter: FeedFilter,
        since: Option<&str>,
        backlog: usize,
    ) -> Result<(Follower, Vec<Event>)> {
        let mut f = Follower {
            last_id: store.event_cursor()?,
            filter,
        };
        let events = match since {
            Some(t) => match store.first_event_id_since(t)? {
                Some(first) => {
                    f.last_id = first - 1;
                    f.read_new(store)?
                }
                None => Vec::new(),
            },
            None if backlog == 0 => Vec::new(),
            None => {
                let mut v = store.events(&f.filter.query(backlog))?;
                v.retain(|e| e.id <= f.last_id);
                v
            }
        };
        Ok((f, events))
    }

    /// A follower that starts after event `last_id`.
    pub fn after(last_id: i64, filter: FeedFilter) -> Follower {
        Follower { last_id, filter }
    }

    pub fn last_id(&self) -> i64 {
        self.last_id
    }

    /// New matching events since the last poll, oldest first. Costs one
    /// indexed max when nothing was appended.
    pub fn poll<S: ObserveStore + ?Sized>(&mut self, store: &S) -> Result<Vec<Event>> {
        if store.event_cursor()? <= self.last_id {
            return Ok(Vec::new());
        }
        self.read_new(store)
    }

    fn read_new<S: ObserveStore + ?Sized>(&mut self, store: &S) -> Result<Vec<Event>> {
        let mut out = Vec::new();
        loop {
            let batch = store.events_after(self.last_id, BATCH)?;
            let n = batch.len();
            if let Some(last) = batch.last() {
                self.last_id = last.id;
            }
            out.extend(batch.into_iter().filter(|e| self.filter.matches(e)));
            if n < BATCH {
                return Ok(out);
            }
        }
    }
}

/// The town as `gt status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct TownStatus {
    pub town: TownRef,
    /// When the check ran (liveness is as of this moment).
    pub checked_at: String,
    /// No problems, and the deacon is neither `down` nor `stale` (as in docs/cli.md).
    pub healthy: bool,
    /// As `gt deacon status` judges it ([`crate::deacon::status`]); the
    /// JSON shows its `state`, `heartbeat_at` and `pid`.
    #[serde(serialize_with = "deacon_summary")]
    pub deacon: DeaconStatus,
    pub rigs: Vec<RigStatus>,
    /// Beads by status, plus `total`.
    pub beads: BTreeMap<&'static str, u64>,
    /// Merge requests queued or landing, all rigs.
    pub merge_queue: u64,
    /// Unread mail addressed to `human`; `null` when this town has no mail.
    pub unread_mail_for_human: Option<u64>,
    /// Escalations not yet acknowledged; `null` when this town has none.
    pub open_escalations: Option<u64>,
    /// Convoys not yet landed; `null` when this town has no convoys table.
    pub open_convoys: Option<u64>,
    /// Agents that need someone, most urgent first.
    pub problems: Vec<Problem>,
    /// In a town of several hosts (a shared store), every host as
    /// `gt host list` shows it; empty in a one-machine town.
    pub hosts: Vec<crate::hosts::HostView>,
    /// Token usage and cost of every session with recorded usage (`gt costs`).
    pub costs: crate::store::costs::CostTotals,
}

#[derive(Debug, Clone, Serialize)]
pub struct TownRef {
    pub name: String,
    pub path: PathBuf,
}

/// The deacon part of `gt status --json`: `state` (`up`, `stale`, `down`,
/// `stopped` or `never_started`), `heartbeat_at` and `pid`.
fn deacon_summary<S: serde::Serializer>(
    d: &DeaconStatus,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    use serde::ser::SerializeStruct;
    let mut st = s.serialize_struct("DeaconStatus", 3)?;
    st.serialize_field("state", d.state)?;
    st.serialize_field("heartbeat_at", &d.heartbeat_at)?;
    st.serialize_field("pid", &d.pid)?;
    st.end()
}

#[derive(Debug, Clone, Serialize)]
pub struct RigStatus {
    pub name: String,
    /// Polecats by state (`idle`, `working`, `zombie`, … as in `gt agents`).
    pub polecats: BTreeMap<&'static str, u64>,
    pub agents: Vec<AgentActivity>,
    pub merge_queue: u64,
}

/// Everything `gt status` shows, checked against tmux now.
pub fn town_status(ws: &Workspace, th: &Thresholds) -> Result<TownStatus> {
    let agents = problems::observe(ws, th)?;
    status_from(ws, agents)
}

/// [`town_status`] from agents the caller already observed.
pub fn status_from(ws: &Workspace, agents: Vec<AgentActivity>) -> Result<TownStatus> {
    let now = ws.town.clock().now();
    let problems = problems::town_problems(ws, &agents)?;
    let mut beads: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut total = 0;
    for (s, n) in ws.store.count_by_status()? {
        beads.insert(s.as_str(), n);
        total += n;
    }
    beads.insert("total", total);
    let queues: BTreeMap<String, u64> = ws.store.merge_queue_lengths()?.into_iter().collect();
    let mut rigs: Vec<RigStatus> = ws
        .store
        .list_rigs()?
        .into_iter()
        .map(|r| RigStatus {
            merge_queue: queues.get(&r.name).copied().unwrap_or(0),
            name: r.name,
            polecats: BTreeMap::new(),
            agents: Vec::new(),
        })
        .collect();
    for a in agents {
        if let Some(r) = rigs.iter_mut().find(|r| r.name == a.rig) {
            *r.polecats.entry(a.state.as_str()).or_default() += 1;
            r.agents.push(a);
        }
    }
    // Whether the deacon is up is decided in one place (`gt deacon status`).
    let deacon = crate::deacon::status_in(&ws.town, &ws.store)?;
    let extras = ws.store.town_extras()?;
    Ok(TownStatus {
        town: TownRef {
            name: ws.town.name().to_string(),
            path: ws.town.root().to_path_buf(),
        },
        checked_at: crate::clock::format_ts(now),
        healthy: problems.is_empty() && !matches!(deacon.state, "down" | "stale"),
        deacon,
        merge_queue: queues.values().sum(),
        rigs,
        beads,
        unread_mail_for_human: extras.unread_mail_for_human,
        open_escalations: extras.open_escalations,
        open_convoys: extras.open_convoys,
        problems,
        // A one-machine town has no other host to read.
        hosts: if ws.town.is_shared() {
            crate::hosts::list(ws)?
        } else {
            Vec::new()
        },
        costs: ws.store.cost_totals(&Default::default())?,
    })
}

/// A bead being worked on, for the dashboard's "work in flight" panel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkItem {
    pub id: String,
    pub title: String,
    pub status: Status,
    pub assignee: Option<String>,
}

/// A rig and its polecats, for the dashboard's agent tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RigTree {
    pub name: String,
    pub agents: Vec<AgentActivity>,
}

/// The live dashboard's model: what its panels show.
#[derive(Debug, Clone, Default)]
pub struct Dashboard {
    /// When the agents were last checked (canonical timestamp).
    pub checked_at: String,
    pub rigs: Vec<RigTree>,
    pub in_flight: Vec<WorkItem>,
    pub problems: Vec<Problem>,
    /// The newest events, oldest first (at most [`Dashboard::MAX_EVENTS`]).
    pub events: VecDeque<Event>,
}

impl Dashboard {
    pub const MAX_EVENTS: usize = 500;

    /// Replaces agents, work and problems with a fresh check.
    pub fn refresh(&mut self, ws: &Workspace, th: &Thresholds) -> Result<()> {
        let agents = problems::observe(ws, th)?;
        self.problems = problems::town_problems(ws, &agents)?;
        let mut rigs: Vec<RigTree> = ws
            .store
            .list_rigs()?
            .into_iter()
            .map(|r| RigTree {
                name: r.name,
                agents: Vec::new(),
            })
            .collect();
        for a in agents {
            if let Some(r) = rigs.iter_mut().find(|r| r.name == a.rig) {
                r.agents.push(a);
            }
        }
        self.rigs = rigs;
        self.in_flight = ws
            .store
            .list_beads(&BeadFilter {
                statuses: vec![Status::Hooked, Status::InProgress, Status::Merging],
                limit: Some(200),
                ..Default::default()
            })?
            .into_iter()
            .map(|b| WorkItem {
                id: b.id,
                title: b.title,
                status: b.status,
                assignee: b.assignee,
            })
            .collect();
        self.checked_at = crate::clock::format_ts(ws.town.clock().now());
        Ok(())
    }

    /// Appends events, keeping the newest [`Dashboard::MAX_EVENTS`].
    pub fn push_events(&mut self, events: impl IntoIterator<Item = Event>) {
        for e in events {
            self.events.push_back(e);
        }
        while self.events.len() > Self::MAX_EVENTS {
            self.events.pop_front();
        }
    }

    /// The agents in tree order (rig by rig).
    pub fn agents(&self) -> impl Iterator<Item = &AgentActivity> {
        self.rigs.iter().flat_map(|r| r.agents.iter())
    }

    /// How many agents are in each state, for a one-line summary.
    pub fn state_counts(&self) -> BTreeMap<&'static str, usize> {
        let mut m = BTreeMap::new();
        for a in self.agents() {
            *m.entry(a.state.as_str()).or_default() += 1;
        }
        m
    }
}

/// Whether an agent state deserves attention (shown highlighted).
pub fn is_trouble(s: AgentState) -> bool {
    !matches!(
        s,
        AgentState::Idle | AgentState::Working | AgentState::Starting | AgentState::Stopped
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;
    use crate::event::NewEvent;
    use gt_store_sqlite::SqliteStore;
    use std::sync::Arc;

    fn store(dir: &std::path::Path) -> SqliteStore {
        SqliteStore::create(&dir.join("t.db"), "t", Arc::new(SystemClock)).unwrap()
    }

    fn ev(kind: &'static str, n: usize) -> NewEvent {
        NewEvent::new(kind, format!("event {n}"))
    }

    #[test]
    fn feed_follows_new_events_by_id() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        for i in 0..5 {
            s.append_event(ev("bead.created", i), "human").unwrap();
        }
        let (mut f, backlog) = Follower::start(&s, FeedFilter::default(), None, 3).unwrap();
        assert_eq!(backlog.len(), 3);
        assert_eq!(backlog[2].summary, "event 4");
        assert!(f.poll(&s).unwrap().is_empty());
        // Another connection writes: the follower sees exactly the new ones.
        let other =
            SqliteStore::open(&dir.path().join("t.db"), "t", Arc::new(SystemClock)).unwrap();
        for i in 5..(5 + 2 * BATCH + 7) {
            other.append_event(ev("sling", i), "r/nux").unwrap();
        }
        let new = f.poll(&s).unwrap();
        assert_eq!(new.len(), 2 * BATCH + 7);
        assert_eq!(new[0].summary, "event 5");
        assert!(new.windows(2).all(|w| w[0].id < w[1].id));
        assert!(f.poll(&s).unwrap().is_empty());
        other.append_event(ev("done", 99), "r/nux").unwrap();
        let new = f.poll(&s).unwrap();
        assert_eq!(new.len(), 1);
        assert_eq!(new[0].kind, "done");
        // The follower's own connection commits too: still seen.
        s.append_event(ev("bead.closed", 100), "human").unwrap();
        let new = f.poll(&s).unwrap();
        assert_eq!(new.len(), 1);
        assert_eq!(new[0].kind, "bead.closed");
        // A screen sample appends no event: nothing to show, nothing lost.
        s.record_screens(&[crate::store::observe::ScreenSample {
            agent: "r/nux",
            session_id: None,
            screen_hash: "h",
            screen_kind: "idle",
            screen_text: None,
        }])
        .unwrap();
        assert!(f.poll(&s).unwrap().is_empty());
        assert_eq!(f.last_id(), s.event_cursor().unwrap());
    }

    #[test]
    fn feed_since_and_filters() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        s.append_event(ev("bead.created", 0), "human").unwrap();
        s.append_event(ev("sling", 1), "human").unwrap();
        s.append_event(ev("session.started", 2), "r/nux").unwrap();
        let (_, all) = Follower::start(
            &s,
            FeedFilter::default(),
            Some("2000-01-01T00:00:00.000000Z"),
            0,
        )
        .unwrap();
        assert_eq!(all.len(), 3);
        let (_, none) = Follower::start(
            &s,
            FeedFilter::default(),
            Some("2999-01-01T00:00:00.000000Z"),
            5,
        )
        .unwrap();
        assert!(none.is_empty());
        let f = FeedFilter {
            kinds: vec!["session".into()],
            ..Default::default()
        };
        let (mut fol, got) = Follower::start(&s, f.clone(), None, 10).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].kind, "session.started");
        let other =
            SqliteStore::open(&dir.path().join("t.db"), "t", Arc::new(SystemClock)).unwrap();
        other.append_event(ev("sessions.x", 3), "x").unwrap();
        other.append_event(ev("session.ended", 4), "x").unwrap();
        let got = fol.poll(&s).unwrap();
        assert_eq!(got.len(), 1, "prefix matches whole dotted parts only");
        assert_eq!(got[0].kind, "session.ended");
        let by_actor = FeedFilter {
            actor: Some("r/nux".into()),
            ..Default::default()
        };
        assert!(by_actor.matches(&s.events(&Default::default()).unwrap()[2]));
        assert!(!by_actor.matches(&s.events(&Default::default()).unwrap()[0]));
    }

    #[test]
    fn feed_dashboard_shows_rig_problems() {
        use crate::problems::ProblemKind;
        use crate::rig::Rig;
        use crate::store::deacon::{DeaconStore, NewFault};
        use crate::store::RigStore;
        let dir = tempfile::tempdir().unwrap();
        let town = crate::town::Town::init(&dir.path().join("t"), None, false, "human").unwrap();
        let ws = Workspace::open(town, Default::default()).unwrap();
        ws.store
            .add_rig(
                &Rig {
                    name: "web".into(),
                    source: "/nowhere".into(),
                    branch: "main".into(),
                    prefix: "web".into(),
                    agent: None,
                    created_at: String::new(),
                },
                "human",
            )
            .unwrap();
        ws.store
            .append_event(
                NewEvent::new(
                    crate::repo_guard::RIG_CONFIG_TAMPERED,
                    "reverted the config",
                )
                .rig("web"),
                "deacon",
            )
            .unwrap();
        ws.store
            .record_fault(
                &NewFault {
                    scope: "rig",
                    subject: "web",
                    rig: Some("web"),
                    polecat: None,
                    step: "refinery",
                    error: "boom",
                },
                NewEvent::new("deacon.rig_failed", "refinery failed"),
                "deacon",
            )
            .unwrap();
        let mut d = Dashboard::default();
        d.refresh(&ws, &Thresholds::default()).unwrap();
        let kinds: Vec<ProblemKind> = d.problems.iter().map(|p| p.kind).collect();
        assert_eq!(
            kinds,
            [ProblemKind::ConfigTampered, ProblemKind::RigFailing],
            "{:?}",
            d.problems
        );
        assert!(d.problems.iter().all(|p| p.rig == "web"));
        // `gt status` shows the same.
        let st = status_from(&ws, Vec::new()).unwrap();
        assert_eq!(st.problems.len(), 2);
    }

    #[test]
    fn feed_dashboard_keeps_the_newest_events() {
        let mut d = Dashboard::default();
        let e = Event {
            id: 0,
            time: String::new(),
            kind: "x".into(),
            actor: "a".into(),
            rig: None,
            bead: None,
            summary: String::new(),
            payload: serde_json::Value::Null,
            source: None,
            host: None,
        };
        d.push_events(
            (0..(Dashboard::MAX_EVENTS as i64 + 10)).map(|i| Event { id: i, ..e.clone() }),
        );
        assert_eq!(d.events.len(), Dashboard::MAX_EVENTS);
        assert_eq!(d.events.front().unwrap().id, 10);
    }
}
