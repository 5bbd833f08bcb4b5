//! The live feed and its views (issue 5).
