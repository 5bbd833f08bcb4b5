//! `gt-lib`: Gas Town's services and its SQLite store. The `gt` binary only
//! parses arguments and renders what this library returns. Domain types
//! without I/O live in `gt-core`, this machine's effects in `gt-host`
//! (see `docs/architecture.md`).

// Moved to their own crates; re-exported here at their old paths.
/// Agent runtimes and presets (moved to `gt-agents`).
pub use gt_agents::runtime;
/// The one screen classifier (in `gt-agents`).
pub use gt_agents::screen;
pub use gt_core::caller;
pub use gt_core::error;
pub use gt_core::event;
pub use gt_core::id;
pub use gt_core::session;
pub use gt_host::clock;
pub use gt_host::fsutil;
pub use gt_host::git;
pub use gt_host::tmux;

pub mod actor;
pub mod agent_hooks;
pub mod bead;
pub mod checkpoint;
pub mod config;
pub mod convoy;
pub mod costs;
pub mod deacon;
pub mod escalate;
pub mod feed;
pub mod formula;
pub mod hosts;
pub mod jsonl;
pub mod mail;
pub mod nudge;
pub mod polecat;
pub mod problems;
pub mod refinery;
pub mod repo_guard;
pub mod rig;
pub mod scheduler;
pub mod screens;
pub mod sling;
pub mod store;
pub mod town;
pub mod trust;
pub mod views;
pub mod workspace;

pub use error::{Error, ErrorClass, Result};
