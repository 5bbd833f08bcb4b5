//! gt feed commands.
