//! Majordomo on tokio (feature `tokio`, Unix only): an async [`Client`] with many requests in
//! flight, and an async [`Worker`] that handles up to its credit of requests concurrently.
//!
//! Both sit on [`zmsg::AsyncSocket`]; the broker stays as it is (one thread, one loop; run it
//! with [`crate::Broker::spawn`] or in `spawn_blocking`). See `docs/async.md`.

pub mod client;
pub mod worker;

pub use client::{Client, Replies, Requests};
pub use worker::{Job, Worker};
