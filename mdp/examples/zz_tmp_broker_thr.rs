use std::time::Instant;
use mdp::{Broker, BrokerConfig};
use zmsg::{SocketType, ZSocket, ZMsg, ZFrame};
fn main() {
    let mut cfg = BrokerConfig::new(["tcp://127.0.0.1:*"]);
    cfg.stats_interval = None;
    let b = Broker::spawn(cfg).unwrap();
    let ep = b.endpoints()[0].clone();
    let total: usize = 200_000;
    let mut ws = vec![];
    for _ in 0..2 {
        let ep = ep.clone();
        ws.push(std::thread::spawn(move || {
            let w = ZSocket::new(SocketType::Dealer).unwrap();
            w.set_linger(0).unwrap();
            w.connect(&ep).unwrap();
            w.send_multipart(["", "MDPW01", "\x01", "echo"]).unwrap();
            w.set_rcvtimeo(1000).unwrap();
            loop {
                let mut m = match w.recv_msg() { Ok(m) => m, Err(_) => return };
                if m.len() < 6 { continue; }
                // ["", MDPW01, 0x02, client, "", body] -> REPLY
                let _ = m.pop_frame(); let _ = m.pop_frame(); let _ = m.pop_frame();
                m.push_frame(ZFrame::from(&[3u8][..]));
                m.push("MDPW01"); m.push_frame(ZFrame::new());
                w.send_msg(m).unwrap();
            }
        }));
    }
    let c = ZSocket::new(SocketType::Dealer).unwrap();
    c.connect(&ep).unwrap();
    let window = 200;
    let start = Instant::now();
    let mut sent = 0; let mut got = 0;
    while sent < window { c.send_multipart(["", "MDPC01", "echo", "hello world"]).unwrap(); sent += 1; }
    while got < total {
        let _m: ZMsg = c.recv_msg().unwrap(); got += 1;
        if sent < total { c.send_multipart(["", "MDPC01", "echo", "hello world"]).unwrap(); sent += 1; }
    }
    let el = start.elapsed();
    println!("{} round trips in {:?}: {:.0} req/s", total, el, total as f64 / el.as_secs_f64());
    println!("{}", b.stop().unwrap());
    for w in ws { w.join().unwrap(); }
}
