//! Store seam for issue 5: agent activity observations.
