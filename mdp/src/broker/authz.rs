//! Who may be a worker, and for which services.
//!
//! A Majordomo worker reads the bodies of the requests it is given and answers for its service,
//! so registering as a worker is a privilege. With [`WorkerPolicy::Certificates`] only peers whose
//! CURVE key has a certificate in the worker store may send READY, and only for the services
//! that certificate's `services` metadata lists:
//!
//! ```text
//! #   ZeroMQ CURVE Public Certificate (a worker's, in the broker's worker directory)
//! metadata
//!     name = "billing-worker-1"
//!     services = "billing, billing.*"
//! curve
//!     public-key = "..."
//! ```
//!
//! The peer's key is the `User-Id` that the ZAP handler gave its connection (for CURVE, the
//! client's public key in Z85). The broker trusts only that property: a peer can put properties
//! of any other name into its own handshake, but `User-Id` is always set by ZAP, which wins.
//! So this policy needs a ZAP handler on the broker's ROUTER (`mdp-broker --worker-certs` starts
//! one); without ZAP no peer has a `User-Id` and no READY is authorised.
//!
//! ```
//! use mdp::broker::{ServicePatterns, WorkerPolicy};
//! use zmsg::{ZCert, ZCertStore};
//!
//! let store = ZCertStore::in_memory();
//! let mut cert = ZCert::new()?;
//! cert.set_meta("services", "echo, db.*");
//! store.insert(cert.clone());
//! let policy = WorkerPolicy::Certificates(store);
//! let key = cert.public_txt();
//! assert!(policy.authorises(Some(&key), b"echo"));
//! assert!(policy.authorises(Some(&key), b"db.orders"));
//! assert!(!policy.authorises(Some(&key), b"billing"));
//! assert!(!policy.authorises(None, b"echo"));
//! assert!(WorkerPolicy::AnyPeer.authorises(None, b"billing"));
//! # Ok::<(), zmsg::Error>(())
//! ```

use zmsg::ZCertStore;

/// The certificate metadata that lists the services a worker key may serve.
pub const SERVICES_METADATA: &str = "services";

/// Which peers may register as workers, and for which services.
#[derive(Debug, Clone, Default)]
pub enum WorkerPolicy {
    /// Any connected peer may register for any service (the MDP default; fine on a trusted
    /// network or with a ZAP handler that admits only trusted keys).
    #[default]
    AnyPeer,
    /// Only peers whose `User-Id` (their CURVE key, from ZAP) has a certificate in this store,
    /// for the services its `services` metadata allows (see [`ServicePatterns`]).
    Certificates(ZCertStore),
}

impl WorkerPolicy {
    /// Whether workers are restricted (the broker then reads each worker command's `User-Id`).
    pub fn is_restricted(&self) -> bool {
        !matches!(self, WorkerPolicy::AnyPeer)
    }

    /// Whether a peer with `user_id` may register for `service`.
    pub fn authorises(&self, user_id: Option<&str>, service: &[u8]) -> bool {
        match self {
            WorkerPolicy::AnyPeer => true,
            WorkerPolicy::Certificates(store) => user_id
                .and_then(|key| store.lookup(key))
                .and_then(|cert| cert.meta(SERVICES_METADATA).map(ServicePatterns::parse))
                .is_some_and(|patterns| patterns.allows(service)),
        }
    }
}

/// A list of service names a worker may serve: names separated by commas or white space, where
/// `*` alone allows every service and a name ending in `*` allows every service that starts
/// with what comes before it (`db.*` allows `db.orders`). Anything else must match exactly.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServicePatterns {
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    Exact(Vec<u8>),
    Prefix(Vec<u8>),
}

impl ServicePatterns {
    /// Parses a `services` metadata value; an empty value allows nothing.
    pub fn parse(text: &str) -> ServicePatterns {
        let patterns = text
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|word| !word.is_empty())
            .map(|word| match word.strip_suffix('*') {
                Some(prefix) => Pattern::Prefix(prefix.as_bytes().to_vec()),
                None => Pattern::Exact(word.as_bytes().to_vec()),
            })
            .collect();
        ServicePatterns { patterns }
    }

    /// Whether `service` is allowed.
    pub fn allows(&self, service: &[u8]) -> bool {
        self.patterns.iter().any(|pattern| match pattern {
            Pattern::Exact(name) => name == service,
            Pattern::Prefix(prefix) => service.starts_with(prefix),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zmsg::ZCert;

    #[test]
    fn patterns_match_exactly_or_by_prefix() {
        let patterns = ServicePatterns::parse(" echo,db.*  reports\tbilling.v2");
        for allowed in ["echo", "db.", "db.orders", "reports", "billing.v2"] {
            assert!(patterns.allows(allowed.as_bytes()), "{allowed}");
        }
        for refused in [
            "",
            "echo2",
            "ech",
            "db",
            "reports.x",
            "billing",
            "mmi.service",
        ] {
            assert!(!patterns.allows(refused.as_bytes()), "{refused}");
        }
        assert!(ServicePatterns::parse("*").allows(b"anything"));
        assert!(!ServicePatterns::parse("").allows(b""));
        assert!(!ServicePatterns::parse(" , ").allows(b"echo"));
    }

    #[test]
    fn certificates_policy_needs_a_known_key_with_services() {
        let store = ZCertStore::in_memory();
        let mut worker = ZCert::new().unwrap();
        worker.set_meta(SERVICES_METADATA, "echo");
        store.insert(worker.clone());
        let client = ZCert::new().unwrap();
        store.insert(client.clone()); // a known key without `services`
        let policy = WorkerPolicy::Certificates(store.clone());
        assert!(policy.is_restricted());
        assert!(policy.authorises(Some(&worker.public_txt()), b"echo"));
        assert!(!policy.authorises(Some(&worker.public_txt()), b"billing"));
        assert!(!policy.authorises(Some(&client.public_txt()), b"echo"));
        assert!(!policy.authorises(Some(&ZCert::new().unwrap().public_txt()), b"echo"));
        assert!(!policy.authorises(None, b"echo"));
        // The store is consulted on each call: a key removed loses its rights.
        store.remove(&worker.public_txt());
        assert!(!policy.authorises(Some(&worker.public_txt()), b"echo"));
    }
}
