//! Capacity scheduler (issue 6).
