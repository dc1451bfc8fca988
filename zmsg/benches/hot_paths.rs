//! Micro-benchmarks of zmsg's hot paths: typed ZMsg push/pop, ZFrame creation, one frame
//! through an inproc socket pair, and ZLoop event dispatch.
//!
//! Run with `cargo bench -p zmsg --bench hot_paths` (add `-- <filter>` to pick some).

use std::hint::black_box;
use std::time::Duration;
use zmsg::RecvFlags;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use zmsg::{SendFlags, SocketType, ZContext, ZFrame, ZLoop, ZMsg, ZSocket};

zmsg::frame_enum! {
    /// A command, sent as its u8 value.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Command: u8 {
        Ready = 1,
        Request = 2,
    }
}

fn msg_push_pop(c: &mut Criterion) {
    let mut group = c.benchmark_group("zmsg");
    group.bench_function("append 5 typed frames", |b| {
        b.iter(|| {
            let mut msg = ZMsg::with_capacity(5);
            msg.append(black_box(Command::Request));
            msg.append(black_box(42u32));
            msg.append(black_box(7u64));
            msg.append(black_box(1.5f64));
            msg.append(black_box("service"));
            msg
        })
    });
    group.bench_function("pop 5 typed frames", |b| {
        b.iter_batched(
            || {
                let mut msg = ZMsg::with_capacity(5);
                msg.append(Command::Request);
                msg.append(42u32);
                msg.append(7u64);
                msg.append(1.5f64);
                msg.append("service");
                msg
            },
            |mut msg| {
                let command: Command = msg.pop().unwrap();
                let a: u32 = msg.pop().unwrap();
                let b: u64 = msg.pop().unwrap();
                let c: f64 = msg.pop().unwrap();
                let s = msg.pop_str().unwrap();
                black_box((command, a, b, c, s))
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("wrap + unwrap envelope", |b| {
        let body = ZFrame::from_static(b"body");
        b.iter(|| {
            let mut msg = ZMsg::with_capacity(3);
            msg.append_frame(body.clone());
            msg.push_envelope(black_box(&b"client-identity"[..]));
            let address = msg.pop_envelope().unwrap();
            black_box((address, msg))
        })
    });
    group.finish();
}

fn frame_creation(c: &mut Criterion) {
    let mut group = c.benchmark_group("zframe");
    for size in [16usize, 1024, 65536] {
        let data = vec![7u8; size];
        let shared = Bytes::from(data.clone());
        let fixed: &'static [u8] = Box::leak(data.clone().into_boxed_slice());
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(
            BenchmarkId::new("copy from &[u8]", size),
            &data,
            |b, data| b.iter(|| ZFrame::from(black_box(&data[..]))),
        );
        group.bench_with_input(
            BenchmarkId::new("from Vec (owned)", size),
            &data,
            |b, data| b.iter_batched(|| data.clone(), ZFrame::from, BatchSize::SmallInput),
        );
        group.bench_with_input(
            BenchmarkId::new("from Bytes clone", size),
            &shared,
            |b, shared| b.iter(|| ZFrame::from(black_box(shared).clone())),
        );
        group.bench_with_input(BenchmarkId::new("from_static", size), &fixed, |b, fixed| {
            b.iter(|| ZFrame::from_static(black_box(fixed)))
        });
        group.bench_with_input(BenchmarkId::new("clone", size), &data, |b, data| {
            let frame = ZFrame::from(data.clone());
            b.iter(|| black_box(&frame).clone())
        });
    }
    group.finish();
}

fn socket_frame_io(c: &mut Criterion) {
    let ctx = ZContext::new().unwrap();
    let tx = ctx.socket(SocketType::Pair).unwrap();
    let rx = ctx.socket(SocketType::Pair).unwrap();
    rx.bind("inproc://bench-frame-io").unwrap();
    tx.connect("inproc://bench-frame-io").unwrap();
    let mut group = c.benchmark_group("socket");
    for size in [1usize, 1024] {
        let payload: &'static [u8] = Box::leak(vec![0u8; size].into_boxed_slice());
        group.bench_function(BenchmarkId::new("inproc send+recv_frame_into", size), |b| {
            let mut frame = ZFrame::new();
            b.iter(|| {
                tx.send_frame(ZFrame::from_static(payload), SendFlags::NONE)
                    .unwrap();
                rx.recv_frame_into(&mut frame, RecvFlags::NONE).unwrap();
                black_box(frame.len())
            })
        });
    }
    group.bench_function("inproc send+recv_msg_into 3 frames", |b| {
        let mut msg = ZMsg::new();
        b.iter(|| {
            tx.send_frame(ZFrame::from_static(b"id"), SendFlags::MORE)
                .unwrap();
            tx.send_frame(ZFrame::new(), SendFlags::MORE).unwrap();
            tx.send_frame(ZFrame::from_static(b"body"), SendFlags::NONE)
                .unwrap();
            rx.recv_msg_into(&mut msg, RecvFlags::NONE).unwrap();
            black_box(msg.len())
        })
    });
    group.finish();
}

/// The loop's state in the dispatch benchmarks: a reused frame and a count of messages read.
struct Sink {
    frame: ZFrame,
    received: u64,
}

fn zloop_dispatch(c: &mut Criterion) {
    let mut group = c.benchmark_group("zloop");
    // One message sent, then one loop iteration that polls, finds the reader ready and calls its
    // handler (which reads the message); with `idle` more readers registered that stay silent.
    for idle in [0usize, 10, 100] {
        let ctx = ZContext::new().unwrap();
        let endpoint = format!("inproc://bench-zloop-{idle}");
        let rx = ctx.socket(SocketType::Pair).unwrap();
        rx.bind(&endpoint).unwrap();
        let tx = ctx.socket(SocketType::Pair).unwrap();
        tx.connect(&endpoint).unwrap();
        let mut reactor = ZLoop::new(Sink {
            frame: ZFrame::new(),
            received: 0,
        });
        let mut keep = Vec::new();
        for n in 0..idle {
            let silent_endpoint = format!("inproc://bench-zloop-{idle}-silent-{n}");
            let silent = ctx.socket(SocketType::Pair).unwrap();
            silent.bind(&silent_endpoint).unwrap();
            let peer: ZSocket = ctx.socket(SocketType::Pair).unwrap();
            peer.connect(&silent_endpoint).unwrap();
            keep.push(peer);
            reactor
                .ctx()
                .add_reader(silent, |_state: &mut Sink, _ctx, _id| Ok(()));
        }
        reactor.ctx().add_reader(rx, |state: &mut Sink, ctx, id| {
            if let Some(socket) = ctx.socket(id) {
                socket.recv_frame_into(&mut state.frame, RecvFlags::DONTWAIT)?;
                state.received += 1;
            }
            Ok(())
        });
        group.bench_function(
            BenchmarkId::new("reader event", format!("{idle} idle readers")),
            |b| {
                b.iter(|| {
                    tx.send_frame(ZFrame::from_static(b"event"), SendFlags::NONE)
                        .unwrap();
                    let before = reactor.state().received;
                    while reactor.state().received == before {
                        reactor.run_once(Some(Duration::from_secs(1))).unwrap();
                    }
                })
            },
        );
        drop(keep);
    }
    group.bench_function("ticket reset (1000 tickets)", |b| {
        let mut reactor = ZLoop::new(());
        reactor.ctx().set_ticket_delay(Duration::from_secs(3600));
        let tickets: Vec<_> = (0..1000)
            .map(|_| reactor.ctx().add_ticket(|_, _, _| Ok(())))
            .collect();
        let mut next = 0;
        b.iter(|| {
            next = (next + 1) % tickets.len();
            reactor.ctx().reset_ticket(black_box(tickets[next]))
        })
    });
    group.bench_function("timer add + remove (100 armed)", |b| {
        let mut reactor = ZLoop::new(());
        for _ in 0..100 {
            reactor
                .ctx()
                .add_timer(Duration::from_secs(3600), 0, |_, _, _| Ok(()));
        }
        b.iter(|| {
            let id = reactor
                .ctx()
                .add_timer(Duration::from_secs(60), 1, |_, _, _| Ok(()));
            reactor.ctx().remove_timer(id)
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = msg_push_pop, frame_creation, socket_frame_io, zloop_dispatch
}
criterion_main!(benches);
