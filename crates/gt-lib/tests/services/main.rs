//! Unit tests of the services (sling, the scheduler, the deacon patrol, the
//! refinery) on the fake host: `gt_host::testing::FakeTmux` for tmux, a
//! `SettableClock` for time, real git on temporary repositories. No tmux
//! server, no sleeping: each test runs in milliseconds.

#[allow(dead_code)] // helpers shared by the modules; not each uses all
mod testkit;

mod completion;
mod dialogs;
mod patrol;
mod refinery;
mod resume_argv;
mod scheduler;
mod sling;
