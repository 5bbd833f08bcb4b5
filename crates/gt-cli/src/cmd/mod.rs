//! One module per command group.

pub mod agents;
pub mod bead;
pub mod config;
pub mod demo;
pub mod polecat;
pub mod rig;
pub mod standin;
pub mod town;
pub mod trail;
pub mod work;
