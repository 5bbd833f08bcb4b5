//! `/work` (ready, in flight, blocked; or a filtered list), `/beads/ID` (a
//! bead with its dependency graph, comments, sessions, merge requests and
//! events) and `/convoys` (with progress bars).

use std::str::FromStr;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use gt_lib::bead::{Bead, BeadFilter, BeadType, Dependency, Status};
use gt_lib::event::EventQuery;
use gt_lib::store::merge::MergeStore;
use gt_lib::store::{BeadStore, EventStore, SessionFilter, WorkStore};
use gt_lib::Error;
use maud::{html, Markup};
use serde::Deserialize;

use crate::render::{
    agent_link, badge, bead_link, form_fields, respond, short_time, urlenc, Nav, View,
};
use crate::Shared;

#[derive(Debug, Default, Deserialize)]
pub struct WorkQuery {
    status: Option<String>,
    assignee: Option<String>,
    label: Option<String>,
    #[serde(rename = "type")]
    bead_type: Option<String>,
}

fn nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn bead_table(beads: &[Bead]) -> Markup {
    html! {
        table.beads {
            tr { th { "id" } th { "status" } th { "p" } th { "type" } th { "title" } th { "assignee" } th { "updated" } }
            @for b in beads {
                tr.bead-row data-bead=(b.id) {
                    td { (bead_link(&b.id)) }
                    td { (badge(b.status.as_str())) }
                    td { (b.priority) }
                    td { (b.bead_type.as_str()) }
                    td.title { (b.title) }
                    td { @if let Some(a) = &b.assignee { (agent_link(a)) } }
                    td { (short_time(&b.updated_at)) }
                }
            }
        }
    }
}

pub async fn list(
    State(app): State<Shared>,
    Query(q): Query<WorkQuery>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let csrf = app.auth.csrf().to_string();
    respond(&app, &headers, &uri, Nav::Work, move |ws| {
        let filtered = [&q.status, &q.assignee, &q.label, &q.bead_type]
            .iter()
            .any(|v| nonempty(v).is_some());
        let live = if filtered {
            let mut f = BeadFilter {
                limit: Some(200),
                assignee: nonempty(&q.assignee).map(String::from),
                label: nonempty(&q.label).map(String::from),
                ..Default::default()
            };
            if let Some(s) = nonempty(&q.status) {
                let s = Status::from_str(s)?;
                f.include_closed = s == Status::Closed;
                f.statuses = vec![s];
            }
            if let Some(t) = nonempty(&q.bead_type) {
                f.bead_type = Some(BeadType::from_str(t)?);
            }
            let beads = ws.store.list_beads(&f)?;
            html! {
                p.muted { (beads.len()) " beads (at most 200)" }
                (bead_table(&beads))
            }
        } else {
            let ready = ws.store.ready_beads(50)?;
            let flight = ws.store.list_beads(&BeadFilter {
                statuses: vec![Status::Hooked, Status::InProgress, Status::Merging],
                limit: Some(200),
                ..Default::default()
            })?;
            let blocked = ws.store.blocked_beads(Some(50))?;
            html! {
                h2 { "In flight" }
                (bead_table(&flight))
                h2 { "Ready" }
                (bead_table(&ready))
                h2 { "Blocked" }
                table.beads {
                    tr { th { "id" } th { "title" } th { "blocked by" } }
                    @for b in &blocked {
                        tr {
                            td { (bead_link(&b.bead.id)) }
                            td.title { (b.bead.title) }
                            td {
                                @for d in &b.blocked_by { (bead_link(d)) " " }
                                @if let Some(p) = &b.blocked_parent { "(parent " (bead_link(p)) ")" }
                            }
                        }
                    }
                }
            }
        };
        let rigs = ws.store.list_rigs()?;
        let form = html! {
            form.filter method="get" action="/work" {
                label { "status "
                    select name="status" {
                        option value="" { "any" }
                        @for s in Status::ALL {
                            option value=(s.as_str()) selected[nonempty(&q.status) == Some(s.as_str())] { (s.as_str()) }
                        }
                    }
                }
                label { " type "
                    select name="type" {
                        option value="" { "any" }
                        @for t in BeadType::ALL {
                            option value=(t.as_str()) selected[nonempty(&q.bead_type) == Some(t.as_str())] { (t.as_str()) }
                        }
                    }
                }
                label { " assignee " input type="text" name="assignee" value=[nonempty(&q.assignee)]; }
                label { " label " input type="text" name="label" value=[nonempty(&q.label)]; }
                button type="submit" { "Filter" }
            }
            form.sling method="post" action="/act/sling" {
                (form_fields(&csrf, "/work"))
                label { "Sling " input type="text" name="work" required maxlength="4000" placeholder="a task, or a bead id" autocomplete="off"; }
                label { " to rig "
                    select name="rig" {
                        @for r in &rigs { option value=(r.name) { (r.name) } }
                    }
                }
                label { " agent " input type="text" name="agent" placeholder="default" autocomplete="off"; }
                button type="submit" { "Sling" }
            }
        };
        Ok(View::new("Work", live).with_form(form))
    })
    .await
}

/// The bead's dependency graph, drawn: what it depends on to the left,
/// what depends on it to the right, each box coloured by status.
fn graph(
    ws: &gt_lib::workspace::Workspace,
    bead: &Bead,
    deps: &[Dependency],
    dependents: &[Dependency],
) -> Result<Markup, Error> {
    const W: i32 = 260;
    const H: i32 = 34;
    const GAP: i32 = 14;
    let left: Vec<(String, String, Status)> = deps
        .iter()
        .map(|d| describe(ws, &d.depends_on, d.dep_type.as_str()))
        .collect::<Result<_, _>>()?;
    let right: Vec<(String, String, Status)> = dependents
        .iter()
        .map(|d| describe(ws, &d.bead, d.dep_type.as_str()))
        .collect::<Result<_, _>>()?;
    let rows = left.len().max(right.len()).max(1) as i32;
    let height = rows * (H + GAP) + GAP;
    let mid_y = height / 2 - H / 2;
    let col_y = |n: usize, i: usize| -> i32 {
        let total = n as i32 * (H + GAP) - GAP;
        (height - total) / 2 + i as i32 * (H + GAP)
    };
    let width = 3 * W + 4 * 60;
    let node = |x: i32, y: i32, id: &str, label: &str, status: Status, here: bool| {
        html! {
            a href={"/beads/" (urlenc(id))} {
                rect x=(x) y=(y) width=(W) height=(H) rx="6" class={"node s-" (status.as_str()) @if here { " here" }} {}
                text x=(x + 8) y=(y + 21) class="node-text" { (label) }
            }
        }
    };
    let cut = |s: &str| -> String {
        let t: String = s.chars().take(30).collect();
        if t.len() < s.len() {
            format!("{t}…")
        } else {
            t
        }
    };
    Ok(html! {
        svg.graph xmlns="http://www.w3.org/2000/svg" width=(width) height=(height) viewBox={"0 0 " (width) " " (height)} role="img" {
            title { "Dependencies of " (bead.id) }
            @for (i, _) in left.iter().enumerate() {
                line x1=(60 + W) y1=(col_y(left.len(), i) + H / 2) x2=(120 + W) y2=(mid_y + H / 2) class="edge" {}
            }
            @for (i, _) in right.iter().enumerate() {
                line x1=(120 + 2 * W) y1=(mid_y + H / 2) x2=(180 + 2 * W) y2=(col_y(right.len(), i) + H / 2) class="edge" {}
            }
            @for (i, (id, title, st)) in left.iter().enumerate() {
                (node(60, col_y(left.len(), i), id, &format!("{id} {}", cut(title)), *st, false))
            }
            (node(120 + W, mid_y, &bead.id, &format!("{} {}", bead.id, cut(&bead.title)), bead.status, true))
            @for (i, (id, title, st)) in right.iter().enumerate() {
                (node(180 + 2 * W, col_y(right.len(), i), id, &format!("{id} {}", cut(title)), *st, false))
            }
        }
    })
}

fn describe(
    ws: &gt_lib::workspace::Workspace,
    id: &str,
    dep_type: &str,
) -> Result<(String, String, Status), Error> {
    match ws.store.get_bead(id) {
        Ok(b) => Ok((b.id, format!("({dep_type}) {}", b.title), b.status)),
        Err(Error::NotFound { .. }) => Ok((id.to_string(), "(gone)".into(), Status::Closed)),
        Err(e) => Err(e),
    }
}

pub async fn bead(
    State(app): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let csrf = app.auth.csrf().to_string();
    let back = uri.path().to_string();
    respond(&app, &headers, &uri, Nav::Work, move |ws| {
        let id = ws.store.resolve_bead_id(&id)?;
        let d = ws.store.bead_details(&id)?;
        let sessions = ws.store.list_sessions(&SessionFilter {
            bead: Some(&id),
            limit: Some(50),
            ..Default::default()
        })?;
        let mrs = ws.store.merge_entries_for_bead(&d.bead.id)?;
        let events = ws.store.events(&EventQuery {
            bead: Some(id.clone()),
            limit: Some(100),
            ..Default::default()
        })?;
        let b = &d.bead;
        let g = graph(ws, b, &d.dependencies, &d.dependents)?;
        let live = html! {
            p {
                (badge(b.status.as_str())) " · priority " (b.priority) " · " (b.bead_type.as_str())
                @if let Some(a) = &b.assignee { " · " (agent_link(a)) }
                @if d.blocked { " · " (badge("blocked")) " by " @for x in &d.blocked_by { (bead_link(x)) " " } }
            }
            h2.title { (b.title) }
            @if !b.description.is_empty() { pre.description { (b.description) } }
            @if let Some(r) = &b.close_reason { p { "Closed: " (r) } }
            @if !b.labels.is_empty() { p { "Labels: " @for l in &b.labels { span.label { (l) } " " } } }
            h2 { "Dependencies" }
            (g)
            h2 { "Comments" }
            @if d.comments.is_empty() { p.muted { "none" } }
            @for c in &d.comments {
                div.comment { p.meta { (c.author) " · " (c.created_at) } pre { (c.text) } }
            }
            h2 { "Sessions" }
            table {
                tr { th { "id" } th { "agent" } th { "runtime" } th { "branch" } th { "started" } th { "ended" } th { "why" } }
                @for s in &sessions {
                    tr {
                        td { (s.id) }
                        td { (agent_link(&format!("{}/{}", s.rig, s.polecat))) }
                        td { (s.runtime) }
                        td { (s.branch) }
                        td { (s.started_at) }
                        td { (s.ended_at.as_deref().unwrap_or("-")) }
                        td { (s.end_reason.as_deref().unwrap_or("")) }
                    }
                }
            }
            h2 { "Merge requests" }
            (crate::pages::mq::table(&mrs, None))
            h2 { "Events" }
            (crate::pages::trail::event_list(&events))
        };
        let form = html! {
            form.resume method="post" action="/act/resume" {
                (form_fields(&csrf, &back))
                input type="hidden" name="bead" value=(id);
                label { "Resume on agent " input type="text" name="agent" placeholder="default" autocomplete="off"; }
                button type="submit" { "Resume" }
            }
        };
        Ok(View::new(format!("Bead {id}"), live).with_form(form))
    })
    .await
}

pub async fn convoys(State(app): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    respond(&app, &headers, &uri, Nav::Convoys, |ws| {
        let convoys = ws.store.list_convoys()?;
        // A molecule's convoy: its steps are children of the molecule's epic.
        let molecule_of = |c: &gt_lib::store::merge::Convoy| -> Option<(String, String)> {
            let first = ws.store.get_bead(c.beads.first()?).ok()?;
            let epic = ws.store.get_bead(first.parent.as_deref()?).ok()?;
            let formula = epic.metadata.get(gt_lib::formula::META_FORMULA)?.as_str()?.to_string();
            Some((epic.id, formula))
        };
        let live = html! {
            @if convoys.is_empty() { p.muted { "No convoys: two or more beads slung together travel in one." } }
            @for c in convoys.iter().rev() {
                div.convoy {
                    h3 {
                        (c.name) " " (badge(&c.status.to_string()))
                        @if let Some((epic, formula)) = molecule_of(c) {
                            " · molecule " (bead_link(&epic)) " of formula " (formula)
                        }
                    }
                    progress value=(c.closed) max=(c.total.max(1)) {}
                    " " (c.closed) "/" (c.total)
                    p { @for b in &c.beads { (bead_link(b)) " " } }
                }
            }
        };
        Ok(View::new("Convoys", live))
    })
    .await
}
