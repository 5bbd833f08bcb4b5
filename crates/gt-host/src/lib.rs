//! `gt-host`: this machine's effects, each behind a trait with one real
//! implementation: the clock, atomic file writes, git and tmux (run as
//! programs, never linked). Depends only on `gt-core`. The `testing` feature
//! adds in-memory fakes for unit tests ([`testing`]).

pub mod clock;
pub mod fsutil;
pub mod git;
pub mod tmux;

/// In-memory fakes for unit tests (feature `testing`).
#[cfg(any(test, feature = "testing"))]
pub mod testing;

use gt_core::error;
