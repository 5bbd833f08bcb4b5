//! Agent runtimes: how `gt` starts each kind of agent CLI (`runtime`), the
//! shipped presets, one file each (`presets`), and the one screen classifier
//! every caller uses (`screen`). No store, no process, no file system.

pub mod presets;
pub mod runtime;
pub mod screen;
pub mod usage;
