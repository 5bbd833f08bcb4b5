//! `/trail`: the event stream, newest first, following live (the page's
//! script prepends each event the stream brings).

use axum::extract::{Query, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use gt_lib::event::{Event, EventQuery};
use gt_lib::store::EventStore;
use maud::{html, Markup};
use serde::Deserialize;

use crate::render::{agent_link, bead_link, respond, short_time, Nav, View};
use crate::Shared;

/// Events as a list, newest first.
pub fn event_list(events: &[Event]) -> Markup {
    html! {
        ol.events {
            @for e in events.iter().rev() {
                li.event data-id=(e.id) {
                    span.time { (short_time(&e.time)) }
                    " " span.kind { (e.kind) }
                    " " span.actor { (agent_link(&e.actor)) }
                    @if let Some(b) = &e.bead { " " (bead_link(b)) }
                    " " span.summary { (e.summary) }
                }
            }
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct TrailQuery {
    kind: Option<String>,
}

pub async fn page(
    State(app): State<Shared>,
    Query(q): Query<TrailQuery>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    respond(&app, &headers, &uri, Nav::Trail, move |ws| {
        let kinds: Vec<String> = q
            .kind
            .iter()
            .map(|k| k.trim().to_string())
            .filter(|k| !k.is_empty())
            .collect();
        let events = ws.store.events(&EventQuery {
            kinds,
            limit: Some(200),
            ..Default::default()
        })?;
        let live = html! {
            div #trail data-follow="1" { (event_list(&events)) }
        };
        Ok(View::new("Trail", live))
    })
    .await
}
