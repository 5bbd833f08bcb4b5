//! gt comms commands.
