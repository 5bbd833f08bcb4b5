//! Rigs: the stored record.

use serde::{Deserialize, Serialize};

/// A rig as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rig {
    pub name: String,
    /// Where it was cloned from (URL or path), as given.
    pub source: String,
    /// The default (target) branch.
    pub branch: String,
    /// Prefix of the rig's bead ids.
    pub prefix: String,
    /// The rig's default agent runtime, if set.
    pub agent: Option<String>,
    pub created_at: String,
}
