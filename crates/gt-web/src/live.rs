//! Live updates: one follower thread reads the event log by id and hands
//! each new event to every open `/events` stream (Server-Sent Events).
//!
//! The thread sleeps while no browser listens (a dashboard nobody looks at
//! reads nothing); while one does, it costs one indexed `max(id)` per tick
//! when nothing happened. A browser that (re)connects says the last event
//! it has (`Last-Event-ID`, or `?after=` from the page it loaded) and first
//! gets what it missed from the store, so nothing between the page's render
//! and the stream's start is lost.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use gt_lib::event::Event;
use gt_lib::feed::{FeedFilter, Follower};
use gt_lib::store::observe::ObserveStore;
use serde::Deserialize;
use tokio::sync::broadcast;

use crate::Shared;

/// How often the follower looks for new events while someone listens.
const TICK: Duration = Duration::from_millis(250);
/// The most events a reconnecting browser is sent from the store.
const BACKLOG: usize = 500;

pub struct Live {
    tx: broadcast::Sender<Arc<Event>>,
    /// Woken when a browser starts listening.
    wake: (Mutex<()>, Condvar),
}

impl Live {
    pub fn new() -> Live {
        let (tx, _) = broadcast::channel(4096);
        Live {
            tx,
            wake: (Mutex::new(()), Condvar::new()),
        }
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        let rx = self.tx.subscribe();
        self.wake.1.notify_all();
        rx
    }
}

/// Starts the follower thread (it lives as long as the process).
pub fn start_follower(app: Shared) {
    std::thread::Builder::new()
        .name("gt-dashboard-follower".into())
        .spawn(move || follow(app))
        .expect("a thread for the event follower");
}

fn follow(app: Shared) {
    let live = &app.live;
    loop {
        // Nobody listens: sleep until someone does.
        {
            let mut guard = live.wake.0.lock().unwrap_or_else(|e| e.into_inner());
            while live.tx.receiver_count() == 0 {
                guard = live
                    .wake
                    .1
                    .wait_timeout(guard, Duration::from_secs(60))
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        }
        let Ok(ws) = app.workspace() else {
            std::thread::sleep(Duration::from_secs(1));
            continue;
        };
        let Ok(cursor) = ws.store.event_cursor() else {
            std::thread::sleep(Duration::from_secs(1));
            continue;
        };
        let mut follower = Follower::after(cursor, FeedFilter::default());
        while live.tx.receiver_count() > 0 {
            match follower.poll(&*ws.store) {
                Ok(events) => {
                    for e in events {
                        let _ = live.tx.send(Arc::new(e));
                    }
                }
                Err(e) => {
                    tracing::warn!("dashboard: cannot read events: {e}");
                    break;
                }
            }
            std::thread::sleep(TICK);
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct After {
    after: Option<i64>,
}

fn sse_event(e: &Event) -> SseEvent {
    SseEvent::default()
        .id(e.id.to_string())
        .event("gt")
        .data(serde_json::to_string(e).unwrap_or_else(|_| "{}".into()))
}

struct StreamState {
    backlog: VecDeque<Event>,
    last: i64,
    rx: broadcast::Receiver<Arc<Event>>,
}

/// `GET /events`: the event stream.
pub async fn events(
    State(app): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<After>,
) -> Response {
    let from_header = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    let after = from_header.or(q.after);
    // Listen first, then read what was missed: an event appended in
    // between comes twice and is dropped by id, never lost.
    let rx = app.live.subscribe();
    let backlog = match after {
        Some(id) => app
            .with_ws(move |ws| ws.store.events_after(id, BACKLOG))
            .await
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let state = StreamState {
        last: backlog.last().map(|e| e.id).or(after).unwrap_or(0),
        backlog: backlog.into(),
        rx,
    };
    Sse::new(stream_of(state))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

fn stream_of(state: StreamState) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    stream::unfold(state, |mut s| async move {
        if let Some(e) = s.backlog.pop_front() {
            s.last = e.id;
            return Some((Ok(sse_event(&e)), s));
        }
        loop {
            match s.rx.recv().await {
                Ok(e) if e.id <= s.last => continue,
                Ok(e) => {
                    s.last = e.id;
                    return Some((Ok(sse_event(&e)), s));
                }
                // Too slow a reader: tell the page to reload its view.
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    return Some((Ok(SseEvent::default().event("lagged").data("")), s));
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
}
