//! Test support for gt (a dev-dependency of tests only, never of the shipped binaries).

pub mod model_server;
pub mod postgres;
pub mod real_cli;
