//! Every integration test of `gt`, in one test binary (so the test build
//! links once), one module per capability. Each test drives the real `gt`
//! binary in a temporary town ([`common::TestTown`]); run one capability with
//! `cargo test -p gt-cli --test runner watchdog::`.

mod common;

mod agents_loop;
mod cli_basics;
mod comms;
mod concurrency;
mod contract;
mod dashboard;
mod dashboard_browser;
mod fault_isolation;
mod formulas;
mod fresh_clone;
mod hostile_repos;
mod hosts;
mod interop;
mod launch;
mod ledger;
mod merge_queue;
mod real_agents;
mod real_aider;
mod real_codex;
mod real_gemini;
mod real_nudge;
mod real_opencode;
mod real_support;
mod store_postgres;
mod trust;
mod views;
mod watchdog;
