//! gt deacon commands.
