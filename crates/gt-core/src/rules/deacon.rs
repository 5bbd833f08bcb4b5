//! Rules for deacon (see the module docs of `rules`).
