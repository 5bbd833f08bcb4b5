//! The page frame, and answering with a page or (for the live refresh) only
//! its changing part.
//!
//! Every string from the town goes through maud's `(…)`, which escapes it;
//! no page builds HTML by concatenating text.

use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use gt_lib::workspace::Workspace;
use gt_lib::{Error, ErrorClass};
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;

use crate::Shared;

/// The header the page's script sends when it only wants the live part.
pub const FRAGMENT_HEADER: &str = "x-gt-fragment";

/// The sections of the navigation bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Overview,
    Agents,
    Work,
    Convoys,
    Mq,
    Trail,
    Mail,
}

const NAV: &[(Nav, &str, &str)] = &[
    (Nav::Overview, "/", "Overview"),
    (Nav::Agents, "/agents", "Agents"),
    (Nav::Work, "/work", "Work"),
    (Nav::Convoys, "/convoys", "Convoys"),
    (Nav::Mq, "/mq", "Merge queue"),
    (Nav::Trail, "/trail", "Trail"),
    (Nav::Mail, "/mail", "Mail"),
];

/// What a page shows: `live` is re-rendered on every new event (and every
/// `refresh_ms` when set); `fixed` (forms) is rendered once, so typing is
/// never interrupted.
pub struct View {
    pub title: String,
    pub live: Markup,
    pub fixed: Option<Markup>,
    pub refresh_ms: Option<u32>,
}

impl View {
    pub fn new(title: impl Into<String>, live: Markup) -> View {
        View {
            title: title.into(),
            live,
            fixed: None,
            refresh_ms: None,
        }
    }

    pub fn with_form(mut self, fixed: Markup) -> View {
        self.fixed = Some(fixed);
        self
    }

    pub fn refreshing(mut self, ms: u32) -> View {
        self.refresh_ms = Some(ms);
        self
    }
}

#[derive(Debug, Default, Deserialize)]
struct Flash {
    done: Option<String>,
    error: Option<String>,
}

fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::NotFound { .. } => StatusCode::NOT_FOUND,
        _ => match e.class() {
            ErrorClass::User => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        },
    }
}

/// Renders a page from the town, or its live part when asked for it.
pub async fn respond<F>(app: &Shared, headers: &HeaderMap, uri: &Uri, nav: Nav, f: F) -> Response
where
    F: FnOnce(&Workspace) -> Result<View, Error> + Send + 'static,
{
    let fragment = headers.contains_key(FRAGMENT_HEADER);
    let result = app
        .with_ws(move |ws| {
            let last = gt_lib::store::observe::ObserveStore::event_cursor(&*ws.store)?;
            Ok((f(ws)?, last))
        })
        .await;
    let (view, last) = match result {
        Ok(v) => v,
        Err(e) => {
            let status = status_of(&e);
            if fragment {
                return (status, html! { p.error { (e.to_string()) } }).into_response();
            }
            let body = html! { p.error { (e.to_string()) } };
            return (status, frame(app, "Error", nav, None, 0, None, body, None)).into_response();
        }
    };
    if fragment {
        return view.live.into_response();
    }
    let flash: Flash = uri
        .query()
        .and_then(|q| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default();
    frame(
        app,
        &view.title,
        nav,
        Some(&flash),
        last,
        view.refresh_ms,
        view.live,
        view.fixed,
    )
    .into_response()
}

#[allow(clippy::too_many_arguments)]
fn frame(
    app: &Shared,
    title: &str,
    nav: Nav,
    flash: Option<&Flash>,
    last_event: i64,
    refresh_ms: Option<u32>,
    live: Markup,
    fixed: Option<Markup>,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="gt-csrf" content=(app.auth.csrf());
                title { (title) " · gt" }
                link rel="icon" href="/assets/favicon.svg" type="image/svg+xml";
                link rel="stylesheet" href="/assets/app.css";
                script src="/assets/app.js" defer {}
            }
            body {
                header {
                    span.brand { "gt" }
                    nav {
                        @for (n, href, label) in NAV {
                            a href=(href) class=[(*n == nav).then_some("here")] { (label) }
                        }
                    }
                    span #live-state title="live updates" { "●" }
                }
                @if let Some(f) = flash {
                    @if let Some(d) = &f.done { p.flash.done { (d) } }
                    @if let Some(e) = &f.error { p.flash.error { (e) } }
                }
                h1 { (title) }
                main #live data-after=(last_event) data-refresh=[refresh_ms] { (live) }
                @if let Some(fx) = fixed { section.forms { (fx) } }
            }
        }
    }
}

/// The hidden CSRF field and where to come back to, for every form.
pub fn form_fields(app_csrf: &str, back: &str) -> Markup {
    html! {
        input type="hidden" name="csrf" value=(app_csrf);
        input type="hidden" name="back" value=(back);
    }
}

/// A status word as a badge (its class is the word, from a fixed set).
pub fn badge(word: &str) -> Markup {
    let class = match word {
        "open" | "ready" | "queued" | "up" | "idle" => "b-calm",
        "hooked" | "in_progress" | "working" | "landing" | "merging" | "running" => "b-busy",
        "closed" | "merged" | "landed" | "delivered" => "b-done",
        "blocked" | "failed" | "conflict" | "down" | "stale" | "error" | "zombie" | "stalled"
        | "vanished" | "rate_limited" | "waiting_for_input" | "dead" => "b-bad",
        _ => "b-other",
    };
    html! { span class={"badge " (class)} { (word) } }
}

/// A link to a bead's page.
pub fn bead_link(id: &str) -> Markup {
    html! { a.bead href={"/beads/" (urlenc(id))} { (id) } }
}

/// A link to an agent's page (`rig/polecat`), else the text.
pub fn agent_link(agent: &str) -> Markup {
    match agent.split_once('/') {
        Some((rig, p)) if !rig.is_empty() && !p.is_empty() && !p.contains('/') => {
            html! { a.agent href={"/agents/" (urlenc(rig)) "/" (urlenc(p))} { (agent) } }
        }
        _ => html! { (agent) },
    }
}

/// Percent-encodes one path segment.
pub fn urlenc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The time part of a canonical timestamp, for tables.
pub fn short_time(ts: &str) -> &str {
    ts.get(11..19).unwrap_or(ts)
}
