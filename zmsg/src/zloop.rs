//! (reactor: in progress)
