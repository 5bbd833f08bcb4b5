//! gt mq commands.
