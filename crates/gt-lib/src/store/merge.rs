//! Store seam for issue 7: merge queue (refinery) and convoys.
