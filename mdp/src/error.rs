//! The error type of the mdp crate, shared by the broker, the worker and the clients.

use sync_wrapper::SyncWrapper;

use crate::protocol::{DecodeError, RefusalCode};

/// An mdp result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong when speaking Majordomo.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No reply arrived in time, after every retry the configuration allows.
    #[error("no reply within the timeout")]
    Timeout,
    /// The broker answered `mmi.service` with 404: no worker serves that service.
    #[error("service {0:?} is not available (mmi.service answered 404)")]
    ServiceUnavailable(String),
    /// The broker stopped answering (a worker declared it dead, or a client found no broker at
    /// all); the thing asked for was not delivered.
    #[error("the broker is gone: {0}")]
    BrokerGone(String),
    /// The peer ended the conversation (a DISCONNECT), or the object was stopped or shut down.
    #[error("disconnected: {0}")]
    Disconnected(String),
    /// A message broke the MDP rules (bad header, unknown command, missing frames, ...).
    #[error("protocol error: {0}")]
    Protocol(#[from] DecodeError),
    /// A well-formed answer that makes no sense here (an MMI status that is not one of the
    /// RFC's, a refusal with an unknown code, ...).
    #[error("unexpected answer: {0}")]
    UnexpectedAnswer(String),
    /// The broker refused the request (flow control, an `mmi.refused` answer). `body` is the
    /// refused request's body (take it with `body.into_inner()` or [`Error::into_refused_body`]);
    /// retry later.
    #[error("the broker refused a request for {service:?} (code {code})")]
    Refused {
        /// The service the request was for.
        service: String,
        /// Why: the service's queue is full, or this client has too many requests in flight.
        code: RefusalCode,
        /// The body of the refused request.
        body: SyncWrapper<zmsg::ZMsg>,
    },
    /// A configuration value or argument that cannot be used.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The process was interrupted (SIGINT/SIGTERM) while waiting.
    #[error("interrupted")]
    Interrupted,
    /// An error from zmsg / libzmq.
    #[error(transparent)]
    Zmq(zmsg::Error),
}

impl From<zmsg::Error> for Error {
    /// Wraps a zmsg error; an interrupted call becomes [`Error::Interrupted`], so callers match
    /// one variant for Ctrl-C whichever layer saw it.
    fn from(err: zmsg::Error) -> Self {
        match err {
            zmsg::Error::Interrupted => Error::Interrupted,
            other => Error::Zmq(other),
        }
    }
}

impl Error {
    /// The refused request's body, for a [`Error::Refused`]; `None` for other errors.
    pub fn into_refused_body(self) -> Option<zmsg::ZMsg> {
        match self {
            Error::Refused { body, .. } => Some(body.into_inner()),
            _ => None,
        }
    }

    /// True for the errors a caller may retry later (timeouts and a missing broker).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::Timeout | Error::BrokerGone(_) | Error::Refused { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_send_and_sync() {
        fn usable_with_anyhow<E: std::error::Error + Send + Sync + 'static>() {}
        usable_with_anyhow::<Error>();
    }

    #[test]
    fn zmsg_errors_convert() {
        assert!(matches!(
            Error::from(zmsg::Error::Interrupted),
            Error::Interrupted
        ));
        assert!(matches!(
            Error::from(zmsg::Error::Again),
            Error::Zmq(zmsg::Error::Again)
        ));
        assert!(Error::Timeout.is_transient());
        assert!(Error::BrokerGone("x".into()).is_transient());
        assert!(!Error::Protocol(DecodeError::Empty).is_transient());
    }
}
