//! gt mail commands.
