//! `/mail`: mail addressed to `human` (reply in place) and the open
//! escalations (acknowledge in place).

use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use gt_lib::{escalate, mail};
use maud::html;

use crate::render::{agent_link, badge, bead_link, form_fields, respond, Nav, View};
use crate::Shared;

pub async fn page(State(app): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    let csrf = app.auth.csrf().to_string();
    respond(&app, &headers, &uri, Nav::Mail, move |ws| {
        let inbox = mail::inbox(ws, "human", true, Some(100))?;
        let escalations = escalate::list(ws, false)?;
        let live = html! {
            h2 { "Escalations" }
            @if escalations.is_empty() { p.muted { "No open escalations." } }
            @for e in &escalations {
                div.escalation data-id=(e.id) {
                    p.meta {
                        (badge(e.severity.as_str())) " " (agent_link(&e.from)) " · " (e.created_at)
                        " · " (bead_link(&e.bead))
                        @if let Some(s) = &e.source_bead { " (on " (bead_link(s)) ")" }
                    }
                    pre { (e.message) }
                    form.ack method="post" action="/act/ack" {
                        (form_fields(&csrf, "/mail"))
                        input type="hidden" name="id" value=(e.bead);
                        button type="submit" { "Acknowledge" }
                    }
                }
            }
            h2 { "Mail for human" }
            @if inbox.is_empty() { p.muted { "No mail." } }
            @for m in &inbox {
                div.mail data-id=(m.id) {
                    p.meta {
                        @if !m.read { (badge("unread")) " " }
                        (agent_link(&m.from)) " · " (m.sent_at) " · #" (m.id)
                    }
                    h3 { (m.subject) }
                    pre { (m.body) }
                    form.reply method="post" action="/act/reply" {
                        (form_fields(&csrf, "/mail"))
                        input type="hidden" name="id" value=(m.id);
                        input type="text" name="body" required maxlength="65536" placeholder="reply" autocomplete="off";
                        button type="submit" { "Reply" }
                    }
                }
            }
        };
        Ok(View::new("Mail", live))
    })
    .await
}
