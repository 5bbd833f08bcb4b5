//! `gt-host`: this machine's effects, each behind a trait with one real
//! implementation: the clock, atomic file writes, git and tmux (run as
//! programs, never linked). Depends only on `gt-core`.

pub mod clock;
pub mod fsutil;
pub mod git;
pub mod tmux;

use gt_core::error;
