//! The deacon: the town watchdog daemon (issue 6).
