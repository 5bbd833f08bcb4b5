//! `/mq`: the merge queue of every rig, with each request's state, the tail
//! of its gate output or its conflicting files, and a retry button.

use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use gt_lib::refinery;
use gt_lib::store::merge::{MergeEntry, MergeStatus};
use maud::{html, Markup};

use crate::render::{agent_link, badge, bead_link, form_fields, respond, short_time, Nav, View};
use crate::Shared;

/// Lines of gate output shown.
const TAIL: usize = 20;

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(TAIL)..].join("\n")
}

/// The requests as a table; with `csrf`, failed ones get a retry button.
pub fn table(entries: &[MergeEntry], csrf: Option<&str>) -> Markup {
    html! {
        @if entries.is_empty() { p.muted { "none" } }
        @else {
            table.mq {
                tr { th { "id" } th { "rig" } th { "bead" } th { "agent" } th { "status" } th { "tries" } th { "updated" } th { "why" } }
                @for e in entries {
                    tr.mr-row data-mr=(e.mr.id) {
                        td { (e.mr.id) }
                        td { (e.mr.rig) }
                        td { (bead_link(&e.mr.bead)) }
                        td { @if let Some(p) = &e.mr.polecat { (agent_link(&format!("{}/{}", e.mr.rig, p))) } }
                        td { (badge(e.mr.status.as_str())) }
                        td { (e.attempts) }
                        td { (short_time(&e.mr.updated_at)) }
                        td {
                            @if !e.conflict_files.is_empty() {
                                "conflicts: " @for f in &e.conflict_files { code { (f) } " " }
                            }
                            @if let Some(f) = &e.failure { pre.gate { (tail(f)) } }
                            @if let (Some(csrf), true) = (csrf, matches!(e.mr.status, MergeStatus::Failed | MergeStatus::Conflict)) {
                                form.retry method="post" action="/act/retry" {
                                    (form_fields(csrf, "/mq"))
                                    input type="hidden" name="id" value=(e.mr.id);
                                    button type="submit" { "Retry" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub async fn page(State(app): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    let csrf = app.auth.csrf().to_string();
    respond(&app, &headers, &uri, Nav::Mq, move |ws| {
        let mut entries = refinery::list(ws, None)?;
        // Pending first, then the newest.
        entries.sort_by_key(|e| (!e.mr.status.is_pending(), -e.mr.id));
        entries.truncate(200);
        Ok(View::new("Merge queue", table(&entries, Some(&csrf))))
    })
    .await
}
