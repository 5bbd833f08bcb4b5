//! One module per command group.

pub mod bead;
pub mod config;
pub mod town;
pub mod trail;
