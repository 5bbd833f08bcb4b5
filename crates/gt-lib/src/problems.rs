//! Problem detection: zombies, stalls, idle with work (issue 5).
