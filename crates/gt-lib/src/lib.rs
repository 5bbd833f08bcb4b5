//! `gt-lib`: all of Gas Town's domain logic. The `gt` binary only parses
//! arguments and renders what this library returns.

pub mod actor;
pub mod bead;
pub mod clock;
pub mod config;
pub mod convoy;
pub mod deacon;
pub use gt_core::error;
pub mod demo;
pub mod escalate;
pub mod event;
pub mod feed;
pub mod fsutil;
pub mod git;
pub mod hooks;
pub mod id;
pub mod jsonl;
pub mod mail;
pub mod nudge;
pub mod polecat;
pub mod problems;
pub mod refinery;
pub mod repo_guard;
pub mod rig;
pub mod runtime;
pub mod scheduler;
pub mod session;
pub mod sling;
pub mod standin;
pub mod store;
pub mod tmux;
pub mod town;
pub mod workspace;

pub use error::{Error, ErrorClass, Result};
