//! Names in a town's directory layout that more than one crate needs.

/// A rig's bare clone, `<town>/<rig>/.repo.git`.
pub const REPO_DIR: &str = ".repo.git";
