//! Runtime lifecycle hooks and agent state (issue 4).
