//! Convoys: beads that belong together, tracked until every one is closed
//! (then the convoy is `landed` and `human` gets one mail).

use gt_core::merge::MergeStatus;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::store::merge::MergeStore;
use crate::store::BeadStore;
use crate::workspace::Workspace;

pub use crate::store::merge::Convoy;

/// Creates or joins a convoy for a sling: with `name`, the convoy of that
/// name (created when missing) gets the beads; without, two or more beads
/// get a new convoy named after the first. One bead and no name: `None`.
pub fn for_sling(
    store: &dyn MergeStore,
    name: Option<&str>,
    beads: &[String],
    actor: &str,
) -> Result<Option<Convoy>> {
    if let Some(n) = name {
        return match store.get_convoy(n) {
            Ok(c) => store
                .add_to_convoy(&c.id.to_string(), beads, actor)
                .map(Some),
            Err(Error::NotFound { .. }) => store.create_convoy(n, beads, actor).map(Some),
            Err(e) => Err(e),
        };
    }
    if beads.len() < 2 {
        return Ok(None);
    }
    let base = format!("{}+{}", beads[0], beads.len() - 1);
    let mut name = base.clone();
    let mut i = 2;
    while store.get_convoy(&name).is_ok() {
        name = format!("{base}-{i}");
        i += 1;
    }
    store.create_convoy(&name, beads, actor).map(Some)
}

/// One tracked bead as `gt convoy show` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ConvoyBead {
    pub id: String,
    pub title: String,
    pub status: String,
    /// `rig/polecat` working (or last worked) on it.
    pub polecat: Option<String>,
    /// The latest merge request's status, if any.
    pub merge: Option<MergeStatus>,
    pub merge_request: Option<i64>,
}

/// `gt convoy show`.
#[derive(Debug, Clone, Serialize)]
pub struct ConvoyView {
    #[serde(flatten)]
    pub convoy: Convoy,
    /// `closed/total`.
    pub progress: String,
    pub items: Vec<ConvoyBead>,
}

pub fn create(ws: &Workspace, name: &str, beads: &[String], actor: &str) -> Result<Convoy> {
    let c = ws.store.create_convoy(name, beads, actor)?;
    refresh(ws, actor)?;
    ws.store.get_convoy(&c.id.to_string())
}

pub fn add(ws: &Workspace, convoy: &str, beads: &[String], actor: &str) -> Result<Convoy> {
    if beads.is_empty() {
        return Err(Error::invalid("give at least one bead to add"));
    }
    let c = ws.store.add_to_convoy(convoy, beads, actor)?;
    refresh(ws, actor)?;
    ws.store.get_convoy(&c.id.to_string())
}

pub fn list(ws: &Workspace, actor: &str) -> Result<Vec<Convoy>> {
    refresh(ws, actor)?;
    ws.store.list_convoys()
}

pub fn show(ws: &Workspace, convoy: &str, actor: &str) -> Result<ConvoyView> {
    refresh(ws, actor)?;
    let c = ws.store.get_convoy(convoy)?;
    let mut items = Vec::new();
    for id in &c.beads {
        let b = ws.store.get_bead(id)?;
        let mrs = ws.store.merge_entries_for_bead(&b.id)?;
        let mr = mrs.last();
        let polecat = b.assignee.clone().or_else(|| {
            match (b.metadata.get("rig"), b.metadata.get("polecat")) {
                (Some(r), Some(p)) => Some(format!(
                    "{}/{}",
                    r.as_str().unwrap_or(""),
                    p.as_str().unwrap_or("")
                )),
                _ => None,
            }
        });
        items.push(ConvoyBead {
            id: b.id.clone(),
            title: b.title.clone(),
            status: b.status.as_str().to_string(),
            polecat,
            merge: mr.map(|m| m.mr.status),
            merge_request: mr.map(|m| m.mr.id),
        });
    }
    Ok(ConvoyView {
        progress: format!("{}/{}", c.closed, c.total),
        convoy: c,
        items,
    })
}

/// Mails `human` (from the mayor) that convoy `c` landed; the error text
/// when the mail could not be sent.
pub fn landed_mail(ws: &Workspace, c: &Convoy, actor: &str) -> Option<String> {
    crate::refinery::notify(
        ws,
        "mayor",
        &["human".to_string()],
        &format!("Convoy landed: {}", c.name),
        &format!(
            "Convoy {} ({}) landed: all {} bead(s) are closed: {}",
            c.id,
            c.name,
            c.total,
            c.beads.join(", ")
        ),
        actor,
    )
}

/// Lands convoys whose beads were all closed (also by hand) and mails `human`.
pub fn refresh(ws: &Workspace, actor: &str) -> Result<Vec<Convoy>> {
    let landed = ws.store.refresh_convoys(actor)?;
    for c in &landed {
        // Mail problems never undo the landing.
        let _ = landed_mail(ws, c, actor);
    }
    Ok(landed)
}
