//! Beads: the tracked units of work. The types, parsing and validation live
//! in `gt_core::bead`; storage lives behind [`crate::store::BeadStore`].

pub use gt_core::bead::*;
