//! The Majordomo Management Interface (RFC 8) and this broker's extra `mmi.*` services.
//!
//! Every reply body starts with a status frame: `"200"` (OK), `"404"` (no such service) or
//! `"501"` (not implemented), as RFC 8 does for `mmi.service`. Where a request body's first
//! frame names a service, the answer is about that service; an empty first frame asks about all.
//!
//! | service | request body | reply body |
//! |---|---|---|
//! | `mmi.service` | `name` | `"200"` if a worker is registered for `name`, else `"404"` |
//! | `mmi.services` | anything | `"200"`, then one frame per service with workers, sorted |
//! | `mmi.workers` | `name` or `""` | `"200"`, `count` / `"200"`, then `name`, `count` pairs |
//! | `mmi.queue` | `name` or `""` | `"200"`, `count` / `"200"`, then `name`, `count` pairs |
//! | `mmi.known` | anything | `"200"`, then one frame per service the broker tracks, sorted |
//! | `mmi.stats` | `name` or `""` | `"200"`, then `key=value` frames; `"404"` for an unknown name |
//! | other `mmi.*` | anything | `"501"` |

use zmsg::ZMsg;

use super::core::BrokerCore;
use super::service::Service;

impl BrokerCore {
    /// The reply body for MMI request `service` with request `body`.
    pub(crate) fn mmi(&self, service: &[u8], body: &ZMsg) -> ZMsg {
        let name = body.first().map_or(&[][..], |frame| frame.data());
        let mut reply = ZMsg::new();
        match service {
            b"mmi.service" => {
                let live = self.services.get(name).is_some_and(|s| s.workers > 0);
                reply.append(if live { "200" } else { "404" });
            }
            b"mmi.services" => {
                reply.append("200");
                for name in self.sorted(|s| s.workers > 0) {
                    reply.append(name);
                }
            }
            b"mmi.workers" => self.per_service(&mut reply, name, |s| s.workers),
            b"mmi.queue" => self.per_service(&mut reply, name, |s| s.requests.len()),
            b"mmi.known" => {
                reply.append("200");
                for name in self.sorted(|_| true) {
                    reply.append(name);
                }
            }
            b"mmi.stats" => {
                let fields: Option<Vec<(&str, u64)>> = if name.is_empty() {
                    Some(self.summary().fields().collect())
                } else {
                    self.services.get(name).map(|s| {
                        let counters = s.counters.fields().into_iter();
                        counters.chain(s.load().fields()).collect()
                    })
                };
                match fields {
                    Some(fields) => {
                        reply.append("200");
                        for (key, value) in fields {
                            reply.append(format!("{key}={value}"));
                        }
                    }
                    None => reply.append("404"),
                }
            }
            _ => reply.append("501"),
        }
        reply
    }

    /// Service names whose record passes `keep`, sorted.
    fn sorted(&self, keep: impl Fn(&Service) -> bool) -> Vec<&[u8]> {
        let mut names: Vec<&[u8]> = self
            .services
            .iter()
            .filter(|(_, s)| keep(s))
            .map(|(name, _)| &name[..])
            .collect();
        names.sort_unstable();
        names
    }

    /// `"200"` then the count for `name`, or `name`, `count` pairs for every service with a
    /// non-zero count when `name` is empty.
    fn per_service(&self, reply: &mut ZMsg, name: &[u8], count: impl Fn(&Service) -> usize) {
        reply.append("200");
        if name.is_empty() {
            for name in self.sorted(|s| count(s) > 0) {
                if let Some(service) = self.services.get(name) {
                    reply.append(name);
                    reply.append(count(service).to_string());
                }
            }
        } else {
            let n = self.services.get(name).map_or(0, &count);
            reply.append(n.to_string());
        }
    }
}
