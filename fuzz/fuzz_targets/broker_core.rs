//! The broker's sans-IO core (`mdp::BrokerCore`) under arbitrary peers, with a made-up clock.
//!
//! The input is a [`Setup`] (small limits, so every limit is reached; optionally hooks) and a
//! sequence of [`Op`]s: messages from eight peers (arbitrary frames, or well-formed MDP/0.1 and
//! MDP/0.2 messages), time passing (timers fire on time, or late), `flush_backlogs`, and what
//! the transport answers for each peer (Yes / Full / Gone). Checked:
//! - nothing panics;
//! - every message the core offers to the transport is `[identity, MDP message]` that
//!   `mdp::protocol` decodes as something a broker sends (a client reply, or REQUEST /
//!   HEARTBEAT / DISCONNECT), and every `mmi.refused` reply starts with a known code;
//! - after `handle_timeout(t)`, `poll_timeout()` is later than `t` (the driver never spins);
//! - after every step `stats()` is consistent and within the limits (see `check_stats`), and
//!   its counters never go down;
//! - at the end, once every peer is reachable and the workers have gone quiet for long enough,
//!   the broker holds nothing: no worker, request, client, backlog or service, and 0 bytes.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use mdp::broker::{BrokerHooks, HookAction, HookReply, HookRequest, Route};
use mdp::broker::{Sent, Transmit};
use mdp::protocol::{ClientMessage, RefusalCode, WorkerMessage, REFUSED, WORKER_V1, WORKER_V2};
use mdp::{BrokerConfig, BrokerCore, Stats};
use zmsg::ZMsg;
use zmsg_fuzz::{peer, read_broker_input, service, to_msg, Answer, HookChoice, Op, Setup, PEERS};

/// The transport: answers per peer as the input says, and checks every message offered.
struct Net {
    answers: [Answer; PEERS],
    /// Messages taken (dropped at once: only their validity matters).
    taken: u64,
}

impl Transmit for Net {
    fn send(&mut self, msg: &mut ZMsg) -> mdp::Result<Sent> {
        check_outgoing(msg);
        let identity = msg.first().map(|frame| frame.to_vec()).unwrap_or_default();
        let answer = (0..PEERS as u8)
            .find(|&i| peer(i).data() == identity)
            .map_or(Answer::Gone, |i| self.answers[usize::from(i)]);
        Ok(match answer {
            Answer::Yes => {
                *msg = ZMsg::new();
                self.taken += 1;
                Sent::Yes
            }
            Answer::Full => Sent::Full,
            Answer::Gone => Sent::Gone,
        })
    }
}

/// A message from the broker is `[identity, frames...]` with frames that decode as a message
/// the broker may send. Leaves `msg` as it was.
fn check_outgoing(msg: &ZMsg) {
    let mut frames = msg.clone();
    let identity = frames.pop_frame().expect("an identity frame");
    assert!(!identity.is_empty(), "an empty identity");
    let to_worker = frames
        .iter()
        .take(2)
        .any(|f| f.data() == WORKER_V1 || f.data() == WORKER_V2);
    if to_worker {
        match WorkerMessage::decode(frames) {
            Ok((_, WorkerMessage::Request { .. } | WorkerMessage::Heartbeat))
            | Ok((_, WorkerMessage::Disconnect)) => {}
            other => panic!("the broker sent a worker {other:?}"),
        }
        return;
    }
    match ClientMessage::decode_reply(frames) {
        Ok((_, ClientMessage::Reply { service, body, .. })) => {
            // (A client that asks for the service `mmi.refused` itself gets MMI's "501".)
            if service.data() == REFUSED {
                let code = body.first().map(|f| f.to_vec()).unwrap_or_default();
                let known = RefusalCode::parse(&code).is_some() || code == b"501";
                assert!(known, "refusal code {code:?}");
            }
        }
        other => panic!("the broker sent a client {other:?}"),
    }
}

/// Hooks that answer from the input's list, in turn.
struct Hooks {
    choices: Vec<HookChoice>,
    next: usize,
}

impl Hooks {
    fn action(&mut self) -> HookAction {
        let Some(choice) = self.choices.get(self.next % self.choices.len().max(1)) else {
            return HookAction::Forward;
        };
        self.next += 1;
        match choice {
            HookChoice::Forward => HookAction::Forward,
            HookChoice::Drop => HookAction::Drop,
            HookChoice::Answer(body) => HookAction::Answer(to_msg(body)),
            HookChoice::ToService(i) => HookAction::Redirect(Route::Service(service(*i).into())),
            HookChoice::ToPeer(i) => HookAction::Redirect(Route::Peer(peer(*i).to_vec())),
        }
    }
}

impl BrokerHooks for Hooks {
    fn on_request(&mut self, _: HookRequest<'_>) -> HookAction {
        self.action()
    }

    fn on_reply(&mut self, _: HookReply<'_>) -> HookAction {
        self.action()
    }
}

/// The broker configuration a setup stands for (the broker raises each limit to at least 1,
/// as `limits` does).
fn config(setup: &Setup) -> BrokerConfig {
    let ms = |n: u8| Duration::from_millis(u64::from(n) * 100);
    let count = |i: usize| usize::from(setup.counts[i] % 5);
    let bytes = |i: usize| usize::from(setup.bytes[i] % 8192);
    BrokerConfig {
        heartbeat: Duration::from_millis((u64::from(setup.heartbeat % 20) + 1) * 100),
        liveness: u32::from(setup.liveness % 4) + 1,
        request_expiry: ms(setup.timers[0]),
        request_timeout: ms(setup.timers[1]),
        service_grace: ms(setup.timers[2]),
        client_backlog_timeout: ms(setup.timers[3]),
        max_queue: count(0),
        max_client_backlog: count(1),
        max_services: count(2),
        max_workers: count(3),
        max_clients: count(4),
        max_worker_credit: count(5) as u32,
        max_resends: u32::from(setup.counts[6] % 4),
        max_queue_bytes: bytes(0),
        max_client_backlog_bytes: bytes(1),
        max_message_size: bytes(2),
        max_memory: bytes(3),
        ..BrokerConfig::default()
    }
}

/// The limits in force (each at least 1).
struct Limits {
    services: usize,
    workers: usize,
    clients: usize,
    client_backlog: usize,
    client_bytes: usize,
    memory: usize,
}

fn limits(config: &BrokerConfig) -> Limits {
    Limits {
        services: config.max_services.max(1),
        workers: config.max_workers.max(1),
        clients: config.max_clients.max(1),
        client_backlog: config.max_client_backlog.max(1),
        client_bytes: config.max_client_backlog_bytes.max(1),
        memory: config.max_memory.max(1),
    }
}

/// What must hold after every step.
fn check_stats(stats: &Stats, last: &Stats, limits: &Limits) {
    assert!(stats.workers <= limits.workers, "{stats}");
    assert!(stats.services.len() <= limits.services, "{stats}");
    // Every queued request is in flight for its client.
    assert!(stats.queued <= stats.in_flight, "{stats}");
    assert!(
        stats.in_flight <= stats.clients * limits.client_backlog,
        "{stats}"
    );
    // Bytes of requests in flight are admitted against the budgets (replies are not).
    let request_bytes = stats.held_bytes.checked_sub(stats.backlog_bytes);
    let request_bytes = request_bytes.unwrap_or_else(|| panic!("backlog > held: {stats}"));
    assert!(request_bytes <= limits.memory, "{stats}");
    assert!(
        request_bytes <= stats.clients * limits.client_bytes,
        "{stats}"
    );
    assert!(stats.backlog_clients <= stats.clients, "{stats}");
    assert_eq!(
        stats.backlog_clients == 0,
        stats.backlog_replies == 0,
        "{stats}"
    );
    // Also when a hook redirects replies to peers that asked for nothing.
    assert!(stats.clients <= limits.clients, "{stats}");
    // Each client's requests in flight plus replies backlogged stay within
    // max_client_backlog ("this bounds the client's backlog too").
    let held = stats.in_flight + stats.backlog_replies;
    assert!(held <= stats.clients * limits.client_backlog, "{stats}");
    let (now, before) = (stats.total.fields(), last.total.fields());
    for ((name, value), (_, old)) in now.iter().zip(before) {
        assert!(value >= &old, "total {name} went down: {old} -> {value}");
    }
    let (now, before) = (stats.global.fields(), last.global.fields());
    for ((name, value), (_, old)) in now.iter().zip(before) {
        assert!(value >= &old, "global {name} went down: {old} -> {value}");
    }
}

/// Runs every deadline up to `end` in order (or, when `late`, once at `end`).
fn advance(core: &mut BrokerCore, net: &mut Net, now: &mut Instant, end: Instant, late: bool) {
    loop {
        let due = core.poll_timeout();
        if due > end {
            break;
        }
        let at = if late { end } else { due.max(*now) };
        *now = at;
        core.handle_timeout(at, net)
            .expect("the transport never fails");
        assert!(
            core.poll_timeout() > at,
            "poll_timeout did not move past {at:?}"
        );
    }
    *now = end;
}

fuzz_target!(|data: &[u8]| {
    let Some((setup, ops)) = read_broker_input(data) else {
        return;
    };
    let config = config(&setup);
    let limits = limits(&config);
    let mut now = Instant::now();
    let mut core = BrokerCore::new(&config, now).expect("a valid configuration");
    if let Some(choices) = setup.hooks.clone() {
        core.set_hooks(Some(Box::new(Hooks { choices, next: 0 })));
    }
    let mut net = Net {
        answers: [Answer::Yes; PEERS],
        taken: 0,
    };
    let mut last = core.stats();
    for op in ops.iter().take(256) {
        match op {
            Op::Send { peer: p, frames } => {
                let mut msg = to_msg(frames);
                msg.push_frame(peer(*p));
                core.handle_message(msg, now, &mut net).unwrap();
            }
            Op::Mdp { peer: p, msg } => {
                let mut msg = msg.to_msg();
                msg.push_frame(peer(*p));
                core.handle_message(msg, now, &mut net).unwrap();
            }
            Op::Advance { ms, late } => {
                let end = now + Duration::from_millis(u64::from(*ms).min(60_000));
                advance(&mut core, &mut net, &mut now, end, *late);
            }
            Op::Flush => core.flush_backlogs(now, &mut net).unwrap(),
            Op::Link { peer, answer } => net.answers[usize::from(*peer) % PEERS] = *answer,
        }
        let stats = core.stats();
        check_stats(&stats, &last, &limits);
        last = stats;
    }
    // Every peer reachable, no worker heard from: once workers have expired, their requests
    // have been resent or expired, backlogs flushed and empty services forgotten, nothing is left.
    net.answers = [Answer::Yes; PEERS];
    let quiet = config.heartbeat * (config.liveness + 3)
        + config.request_expiry
        + config.service_grace
        + config.client_backlog_timeout;
    let end = now + quiet;
    advance(&mut core, &mut net, &mut now, end, false);
    let stats = core.stats();
    check_stats(&stats, &last, &limits);
    let left = (
        stats.workers,
        stats.queued,
        stats.in_flight,
        stats.clients,
        stats.backlog_replies,
        stats.held_bytes,
        stats.services.len(),
    );
    assert_eq!(left, (0, 0, 0, 0, 0, 0, 0), "left behind: {stats}");
});
