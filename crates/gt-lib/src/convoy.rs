//! Convoys: batches of beads (issue 7).
