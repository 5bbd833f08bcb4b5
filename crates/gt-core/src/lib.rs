//! `gt-core`: Gas Town's domain types that do no I/O. Every other crate
//! builds on these; this crate depends on no other crate of the workspace
//! and on no storage backend.

pub mod bead;
pub mod caller;
pub mod costs;
pub mod deacon;
pub mod error;
pub mod event;
pub mod formula;
pub mod host;
pub mod id;
pub mod layout;
pub mod mail;
pub mod merge;
pub mod observe;
pub mod polecat;
pub mod rig;
pub mod rules;
pub mod session;
pub mod work;

pub use error::{Error, ErrorClass, Result, StoreError, StoreErrorKind};
