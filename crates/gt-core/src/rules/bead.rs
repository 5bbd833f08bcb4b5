//! Rules for beads: claim, close, reopen, update, comments and dependencies.

use serde_json::json;

use crate::bead::{Bead, Status};
use crate::error::{Error, Result};
use crate::event::{kind, NewEvent};

/// `gt bead claim`: an open bead, unassigned or already `assignee`'s, becomes
/// `in_progress` and `assignee`'s.
pub fn claim(b: &mut Bead, assignee: &str, now: &str) -> Result<NewEvent> {
    if b.status != Status::Open {
        return Err(Error::refused(format!(
            "cannot claim {}: it is {}, not open",
            b.id, b.status
        )));
    }
    if let Some(holder) = b.assignee.as_deref().filter(|h| *h != assignee) {
        return Err(Error::refused(format!(
            "cannot claim {}: already assigned to {holder}",
            b.id
        )));
    }
    b.assignee = Some(assignee.to_string());
    b.set_status(Status::InProgress, now);
    Ok(
        NewEvent::new(kind::BEAD_CLAIMED, format!("{assignee} claimed {}", b.id))
            .payload(json!({ "assignee": assignee })),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::rules::fixtures::bead;

    #[test]
    fn claim_takes_an_open_bead_and_refuses_a_held_one() {
        let mut b = bead("gt-1", Status::Open);
        let ev = claim(&mut b, "ann", "2026-01-02T00:00:00.000Z").unwrap();
        assert_eq!(b.status, Status::InProgress);
        assert_eq!(b.assignee.as_deref(), Some("ann"));
        assert_eq!(ev.kind, kind::BEAD_CLAIMED);
        assert_eq!(ev.summary, "ann claimed gt-1");

        let err = claim(&mut b, "bob", "now").unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot claim gt-1: it is in_progress, not open"
        );
        let mut held = bead("gt-2", Status::Open);
        held.assignee = Some("ann".into());
        let err = claim(&mut held, "bob", "now").unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot claim gt-2: already assigned to ann"
        );
        assert_eq!(held.status, Status::Open, "a refusal changes nothing");
    }
}
