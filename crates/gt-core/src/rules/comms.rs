//! Rules for comms (see the module docs of `rules`).
