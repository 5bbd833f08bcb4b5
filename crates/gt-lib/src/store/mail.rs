//! Store seam for issue 4: mail, nudge queue, escalations.
