//! Escalations and handoff (issue 4).
