//! `/agents` (every live and recent session, as `gt agents`) and
//! `/agents/RIG/POLECAT` (its live screen with colours, refreshed while the
//! page is open, its sessions, and a nudge form).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use gt_lib::sling;
use gt_lib::store::{SessionFilter, WorkStore};
use gt_lib::Error;
use maud::{html, Markup, PreEscaped};

use crate::render::{agent_link, badge, bead_link, form_fields, respond, short_time, Nav, View};
use crate::Shared;

/// Lines of screen shown.
const SCREEN_LINES: usize = 60;

pub async fn list(State(app): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    respond(&app, &headers, &uri, Nav::Agents, |ws| {
        let agents = sling::agents(ws, 20)?;
        let live = html! {
            @if agents.is_empty() { p.muted { "No agents yet: gt sling \"a task\" RIG" } }
            @else {
                table.agents {
                    tr { th { "agent" } th { "live" } th { "state" } th { "bead" } th { "runtime" } th { "host" } th { "last activity" } th { "problem" } }
                    @for a in &agents {
                        tr.agent-row data-agent=(a.agent) {
                            td { (agent_link(&a.agent)) }
                            td { (badge(&a.live)) }
                            td { @if let Some(s) = a.state { (badge(s.as_str())) } }
                            td { (bead_link(&a.bead)) }
                            td { (a.runtime) }
                            td { (a.host.as_deref().unwrap_or("-")) }
                            td { (a.last_activity.as_deref().map(short_time).unwrap_or("-")) }
                            td {
                                @if let Some(p) = a.problem { (badge(p.as_str())) " " }
                                (a.problem_detail.as_deref().or(a.last_screen.as_deref()).unwrap_or(""))
                            }
                        }
                    }
                }
            }
        };
        Ok(View::new("Agents", live))
    })
    .await
}

/// The screen as HTML: colours kept, every character of the screen escaped
/// (ansi-to-html escapes text and keeps only SGR styles).
pub fn screen_html(screen: &str) -> Markup {
    match ansi_to_html::convert(screen) {
        Ok(h) => PreEscaped(h),
        Err(_) => html! { (screen) },
    }
}

pub async fn one(
    State(app): State<Shared>,
    Path((rig, polecat)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let csrf = app.auth.csrf().to_string();
    let back = uri.path().to_string();
    respond(&app, &headers, &uri, Nav::Agents, move |ws| {
        let agent = format!("{rig}/{polecat}");
        let pc = ws.store.get_polecat(&rig, &polecat)?;
        let (screen, note): (Option<String>, Option<String>) =
            match sling::agent_session(ws, &agent) {
                Ok(name) => (
                    Some(ws.host.tmux.capture_pane_styled(&name, SCREEN_LINES)?),
                    None,
                ),
                Err(Error::Refused(_)) => match sling::last_screen(ws, &agent)? {
                    Some(k) => (
                        Some(k.screen),
                        Some(format!(
                            "no live session; the last screen of session {} ({}, at {})",
                            k.session, k.why, k.captured_at
                        )),
                    ),
                    None => (None, Some("no live session".into())),
                },
                Err(e) => return Err(e),
            };
        let sessions = ws.store.list_sessions(&SessionFilter {
            rig: Some(&rig),
            polecat: Some(&polecat),
            limit: Some(20),
            ..Default::default()
        })?;
        let live = html! {
            p { "Polecat state " (badge(pc.state.as_str())) }
            @if let Some(n) = &note { p.muted { (n) } }
            @if let Some(s) = &screen { pre.screen { (screen_html(s)) } }
            h2 { "Sessions" }
            table {
                tr { th { "id" } th { "bead" } th { "runtime" } th { "host" } th { "started" } th { "ended" } th { "why" } }
                @for s in sessions.iter().rev() {
                    tr {
                        td { (s.id) }
                        td { (bead_link(&s.bead)) }
                        td { (s.runtime) }
                        td { (s.host.as_deref().unwrap_or("-")) }
                        td { (s.started_at) }
                        td { (s.ended_at.as_deref().unwrap_or("-")) }
                        td { (s.end_reason.as_deref().unwrap_or("")) }
                    }
                }
            }
        };
        let form = html! {
            form.nudge method="post" action="/act/nudge" {
                (form_fields(&csrf, &back))
                input type="hidden" name="agent" value=(agent);
                label { "Nudge " (agent) " " input type="text" name="message" required maxlength="4000" autocomplete="off"; }
                button type="submit" { "Send" }
            }
        };
        Ok(View::new(format!("Agent {agent}"), live)
            .with_form(form)
            .refreshing(1000))
    })
    .await
}
