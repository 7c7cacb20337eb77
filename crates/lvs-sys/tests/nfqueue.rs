#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

//! `lvs_sys::nfqueue` against the real kernel, inside a namespace created
//! here (`b-PID-nfq`, deleted by its guard): a mangle rule marks UDP to
//! port 9999 with 5 and a filter rule queues it to queue 7 (`iptables-nft`,
//! the NFQUEUE target through nft_compat). The queued datagram comes with
//! its mark and an IPv4 payload whose destination port is 9999; ACCEPT
//! delivers it to the listener, a batch DROP does not; a second reader
//! cannot bind the same queue.

use std::net::UdpSocket;
use std::process::Command;
use std::time::{Duration, Instant};

use lvs_sys::NetNs;
use lvs_sys::nfqueue::{NfQueue, Verdict};

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

fn iptables(ns: &NetNs, args: &[&str]) {
    let st = Command::new("ip")
        .args(["netns", "exec", ns.name(), "iptables-nft"])
        .args(args)
        .status()
        .unwrap();
    assert!(st.success(), "iptables-nft {args:?}");
}

/// (id, mark, hw_protocol, destination port) of the next queued packet.
fn next(q: &mut NfQueue) -> (u32, u32, u16, u16) {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let mut got = None;
        q.recv(|p| {
            let ihl = usize::from(p.payload[0] & 0x0f) * 4;
            let dport = u16::from_be_bytes([p.payload[ihl + 2], p.payload[ihl + 3]]);
            got = Some((p.id, p.mark, p.hw_protocol, dport));
        })
        .unwrap();
        if let Some(g) = got {
            return g;
        }
        assert!(Instant::now() < deadline, "nothing queued");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn queued_packets_carry_their_mark_and_obey_the_verdict() {
    assert!(
        is_root(),
        "this privileged test needs root: run the suite as root"
    );
    let ns = NetNs::create(&format!("b-{}-nfq", std::process::id())).unwrap();
    ns.ip(&["link", "set", "lo", "up"]).unwrap();
    let udp9999 = ["-p", "udp", "--dport", "9999"];
    let mut mark = vec!["-t", "mangle", "-A", "OUTPUT"];
    mark.extend(udp9999);
    mark.extend(["-j", "MARK", "--set-mark", "5"]);
    iptables(&ns, &mark);
    let mut queue = vec!["-A", "OUTPUT"];
    queue.extend(udp9999);
    queue.extend(["-j", "NFQUEUE", "--queue-num", "7"]);
    iptables(&ns, &queue);
    ns.run(|| {
        let mut q = NfQueue::bind(7).unwrap();
        assert_eq!(q.num(), 7);
        assert!(NfQueue::bind(7).is_err(), "queue 7 has a reader already");
        let rx = UdpSocket::bind("127.0.0.1:9999").unwrap();
        rx.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut buf = [0u8; 64];

        tx.send_to(b"one", "127.0.0.1:9999").unwrap();
        let (id, mark, proto, dport) = next(&mut q);
        assert_eq!((mark, proto, dport), (5, 0x0800, 9999));
        q.verdict(id, Verdict::Accept).unwrap();
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"one");

        tx.send_to(b"two", "127.0.0.1:9999").unwrap();
        let (id, mark, _, _) = next(&mut q);
        assert_eq!(mark, 5);
        q.verdict_batch(id, Verdict::Drop).unwrap();
        assert!(rx.recv(&mut buf).is_err(), "a dropped datagram arrived");
    })
    .unwrap();
}
