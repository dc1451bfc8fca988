//! # mdp — the Majordomo Protocol (MDP/0.1, RFC 7, and MDP/0.2, RFC 18) on zmsg
//!
//! A broker ([`Broker`]), workers ([`Worker`]) and clients ([`Client`], [`AsyncClient`]) that speak
//! the real MDP wire protocols, so any MDP peer in any language works with them. The broker
//! speaks MDP/0.1 and MDP/0.2 on one socket and bridges them, implements MMI (RFC 8), resends
//! requests held by workers that die, and can be extended with hooks.
//!
//! The crate is layered: [`protocol`] is the one typed codec of the wire format, [`BrokerCore`]
//! is the broker's logic as a sans-IO state machine (messages and time in, messages out), and
//! [`Broker`] is its driver (a ROUTER socket and an event loop).
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod async_client;
pub mod broker;
pub mod client;
pub mod error;
pub mod protocol;
#[cfg(feature = "tokio")]
pub mod tokio;
pub mod worker;

pub use async_client::AsyncClient;
pub use broker::{
    Broker, BrokerConfig, BrokerCore, BrokerHandle, BrokerHooks, HookAction, HookReply,
    HookRequest, Route, Stats, StatsFeed,
};
pub use client::{Client, ClientConfig, ClientReply};
pub use error::{Error, Result};
pub use protocol::{Part, RefusalCode, Version};
pub use worker::{HandlerError, HandlerReply, Request, StopHandle, Worker, WorkerConfig};
