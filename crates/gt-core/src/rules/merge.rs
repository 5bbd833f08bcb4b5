//! Rules for merge (see the module docs of `rules`).
