//! Rules for work (see the module docs of `rules`).
