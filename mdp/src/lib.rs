//! # mdp — the Majordomo Protocol (MDP/0.1, ZeroMQ RFC 7) on zmsg
//!
//! A broker ([`Broker`]), workers ([`Worker`]) and clients ([`Client`], [`AsyncClient`]) that speak
//! the real MDP/0.1 wire protocol, so any MDP/0.1 peer in any language works with them. The broker
//! implements MMI (RFC 8), resends requests held by workers that die, and can be extended with
//! hooks.
#![deny(missing_docs)]

pub mod async_client;
pub mod broker;
pub mod client;
pub mod error;
pub mod protocol;
pub mod worker;

pub use async_client::AsyncClient;
pub use broker::{
    Broker, BrokerConfig, BrokerHandle, BrokerHooks, HookAction, HookReply, HookRequest, Route,
    Stats,
};
pub use client::{Client, ClientConfig};
pub use error::{Error, Result};
pub use worker::{HandlerReply, Request, StopHandle, Worker, WorkerConfig};
