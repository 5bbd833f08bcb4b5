//! `/`: the town at a glance (what `gt status --json` holds).

use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use gt_lib::feed;
use gt_lib::problems::Thresholds;
use gt_lib::store::costs::CostQuery;
use maud::html;

use crate::render::{agent_link, badge, bead_link, respond, Nav, View};
use crate::Shared;

pub async fn page(State(app): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    respond(&app, &headers, &uri, Nav::Overview, |ws| {
        let st = feed::town_status(ws, &Thresholds::default())?;
        let now = gt_lib::clock::format_ts(ws.town.clock().now());
        let today = CostQuery {
            since: Some(format!("{}T00:00:00.000000Z", &now[..10.min(now.len())])),
        };
        let costs = ws.store.cost_totals(&today)?;
        let live = html! {
            section.health {
                h2 { "Health" }
                p {
                    "Town " strong { (st.town.name) } " · deacon " (badge(st.deacon.state))
                    @if st.healthy { " · " span.ok { "healthy" } } @else { " · " span.bad { "needs attention" } }
                }
                @if st.problems.is_empty() {
                    p.muted { "No problems: every agent with work is alive and moving." }
                } @else {
                    table.problems {
                        tr { th { "problem" } th { "agent" } th { "bead" } th { "what" } th { "do" } }
                        @for p in &st.problems {
                            tr {
                                td { (badge(p.kind.as_str())) }
                                td { (agent_link(&p.agent)) }
                                td { @if let Some(b) = &p.bead { (bead_link(b)) } }
                                td { (p.detail) }
                                td.action { (p.suggested_action) }
                            }
                        }
                    }
                }
            }
            section.rigs {
                h2 { "Rigs" }
                @if st.rigs.is_empty() { p.muted { "No rigs yet: gt rig add NAME PATH" } }
                @for r in &st.rigs {
                    div.rig {
                        h3 { (r.name) }
                        p {
                            @for (state, n) in &r.polecats { (badge(state)) " " (n) " " }
                            " · merge queue " (r.merge_queue)
                        }
                        @if !r.agents.is_empty() {
                            table {
                                tr { th { "agent" } th { "state" } th { "bead" } th { "runtime" } }
                                @for a in &r.agents {
                                    tr.agent-row data-agent=(a.agent) {
                                        td { (agent_link(&a.agent)) }
                                        td { (badge(a.state.as_str())) }
                                        td { @if let Some(b) = &a.bead { (bead_link(b)) } }
                                        td { (a.runtime.as_deref().unwrap_or("-")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section.counts {
                h2 { "Beads" }
                p { @for (s, n) in &st.beads { (badge(s)) " " (n) "  " } }
                p {
                    a href="/mq" { "Merge queue: " (st.merge_queue) }
                    " · " a href="/mail" { "Unread mail for human: " (st.unread_mail_for_human.unwrap_or(0)) }
                    " · " a href="/mail" { "Open escalations: " (st.open_escalations.unwrap_or(0)) }
                    " · " a href="/convoys" { "Open convoys: " (st.open_convoys.unwrap_or(0)) }
                }
                p {
                    "Costs today: " (costs_line(&costs))
                    " · all time: " (costs_line(&st.costs))
                }
            }
        };
        Ok(View::new(format!("Town {}", st.town.name), live))
    })
    .await
}

fn costs_line(c: &gt_lib::store::costs::CostTotals) -> String {
    let money = match c.cost_micros {
        Some(m) => gt_lib::costs::dollars(m),
        None => "no cost recorded".to_string(),
    };
    format!(
        "{money} ({} sessions, {} in / {} out tokens)",
        c.sessions, c.input_tokens, c.output_tokens
    )
}
