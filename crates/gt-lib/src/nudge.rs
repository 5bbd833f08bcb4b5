//! Nudges: text typed into a live agent session (issue 4).
