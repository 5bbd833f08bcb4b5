//! `gt-lib`: all of Gas Town's domain logic. The `gt` binary only parses
//! arguments and renders what this library returns.

pub mod actor;
pub mod bead;
pub mod clock;
pub mod config;
pub mod error;
pub mod event;
pub mod fsutil;
pub mod id;
pub mod store;
pub mod town;

pub use error::{Error, ErrorClass, Result};
