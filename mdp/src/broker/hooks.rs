//! Broker hooks: see every client request and every worker reply and decide what happens to it.
//!
//! ```
//! use mdp::broker::{BrokerHooks, HookAction, HookReply, HookRequest, Route};
//! use zmsg::ZMsg;
//!
//! /// Answers `ping` itself, sends `old` traffic to `new`, refuses `secret`, tags every reply.
//! struct Gatekeeper;
//!
//! impl BrokerHooks for Gatekeeper {
//!     fn on_request(&mut self, request: HookRequest<'_>) -> HookAction {
//!         match request.service {
//!             b"ping" => HookAction::Answer(ZMsg::from_iter(["pong"])),
//!             b"old" => HookAction::Redirect(Route::Service(b"new".to_vec())),
//!             b"secret" => HookAction::Drop,
//!             _ => HookAction::Forward,
//!         }
//!     }
//!
//!     fn on_reply(&mut self, reply: HookReply<'_>) -> HookAction {
//!         reply.body.append("checked");
//!         HookAction::Forward
//!     }
//! }
//! ```

use zmsg::ZMsg;

/// Where a redirected request or reply goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// To the queue of another service (the client's reply still names the service it asked
    /// for). From [`BrokerHooks::on_reply`], the reply body becomes a new request to that service
    /// on behalf of the same client, which gets that service's answer instead.
    Service(Vec<u8>),
    /// To one peer, by ROUTER identity. From [`BrokerHooks::on_request`] it is a registered worker:
    /// the request goes to it if it is idle, else to the front of its service's queue; it is
    /// dropped (and counted) when no worker has that identity. From [`BrokerHooks::on_reply`] it
    /// is a client identity that gets the reply instead of the requester.
    Peer(Vec<u8>),
}

/// What the broker does with a request or reply after a hook has seen it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookAction {
    /// Carry on as usual (the default).
    Forward,
    /// Discard it; counted in [`super::Counters::drops`].
    Drop,
    /// Send it somewhere else.
    Redirect(Route),
    /// Reply to the client directly with this body (one or more frames); for a reply, replaces
    /// the worker's body.
    Answer(ZMsg),
}

/// A client request as a hook sees it.
#[derive(Debug)]
pub struct HookRequest<'a> {
    /// The service the client asked for.
    pub service: &'a [u8],
    /// The client's ROUTER identity.
    pub client: &'a [u8],
    /// The request body; the hook may change it.
    pub body: &'a mut ZMsg,
}

/// A worker reply as a hook sees it.
#[derive(Debug)]
pub struct HookReply<'a> {
    /// The service the worker serves.
    pub service: &'a [u8],
    /// The worker's ROUTER identity.
    pub worker: &'a [u8],
    /// The ROUTER identity of the client that made the request.
    pub client: &'a [u8],
    /// A partial reply (MDP/0.2 PARTIAL: more follow) or the final one. For a partial reply,
    /// [`HookAction::Drop`] drops that part only, and [`Route::Service`] drops it too: only a
    /// final reply can become a new request.
    pub part: crate::protocol::Part,
    /// The reply body; the hook may change it.
    pub body: &'a mut ZMsg,
}

/// Decides, for each client request and each worker reply, whether the broker forwards, drops,
/// redirects or answers it. Both methods default to [`HookAction::Forward`]. MMI requests
/// (`mmi.*`) are answered by the broker and never reach hooks.
///
/// Hooks run on the broker's thread, inside its event loop: keep them quick. Without hooks the
/// broker pays one branch per message.
pub trait BrokerHooks: Send {
    /// Called for each valid client request before it is queued.
    fn on_request(&mut self, request: HookRequest<'_>) -> HookAction {
        let _ = request;
        HookAction::Forward
    }

    /// Called for each accepted worker reply (partial or final) before it is sent to the client.
    fn on_reply(&mut self, reply: HookReply<'_>) -> HookAction {
        let _ = reply;
        HookAction::Forward
    }
}
