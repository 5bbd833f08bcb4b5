//! Store seam for issue 6: deacon heartbeat, actions, scheduler.
