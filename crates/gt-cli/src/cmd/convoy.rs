//! gt convoy commands.
