//! One module per command group.

pub mod agents;
pub mod bead;
pub mod comms;
pub mod completions;
pub mod config;
pub mod convoy;
pub mod costs;
pub mod dashboard;
pub mod deacon;
pub mod demo;
pub mod doctor;
pub mod feed;
pub mod formula;
pub mod host;
pub mod mail;
pub mod mq;
pub mod polecat;
pub mod rig;
pub mod standin;
pub mod store;
pub mod town;
pub mod trail;
pub mod work;
