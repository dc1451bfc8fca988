//! (security: in progress)
