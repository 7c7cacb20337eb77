//! `lvs-demo`: the README's main job until `lvsd` can run the namespace
//! director demo.
//!
//! It loads a configuration written as `ipvsadm-save` lines (an embedded
//! default — seed 000 §1: a NAT service with `wrr`, weights 2 and 3 — or
//! `--config FILE`) through the same ipvsadm front end and control handler
//! the daemon uses, drives simulated client connections (full TCP
//! exchanges: handshake, request, response, close) through the director
//! model's per-packet logic, and prints what an operator would look at:
//! which real server took each connection, then `ipvsadm -Ln`,
//! `ipvsadm -Ln --stats` and `ipvsadm -Lnc`.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};

use anyhow::{Context, Result, bail};
use lvs_control::Control;
use lvs_core::conn::tcp::flags::{ACK, FIN, SYN};
use lvs_core::conn::{InVerdict, OutVerdict, PacketMeta};
use lvs_core::sched::XorShiftRandom;
use lvs_core::{Protocol, Time};

/// Seed 000 §1 (NAT, wrr, weights 2 and 3), as `ipvsadm -Sn` prints it.
const DEFAULT_CONFIG: &str = "\
-A -t 172.16.10.21:80 -s wrr
-a -t 172.16.10.21:80 -r 192.168.100.39:80 -m -w 2
-a -t 172.16.10.21:80 -r 192.168.100.23:80 -m -w 3
";

const USAGE: &str = "usage: lvs-demo [--config FILE] [--clients N]";

/// Runs one ipvsadm command line against the control handler.
fn ipvsadm(control: &mut Control, now: Time, args: &[&str], stdin: &str) -> Result<String> {
    let (rc, out, err) = lvs_control::run_ipvsadm(control, now, args, stdin);
    if rc != 0 {
        bail!(
            "ipvsadm {} failed ({rc}): {}",
            args.join(" "),
            err.trim_end()
        );
    }
    Ok(out)
}

struct Args {
    config: String,
    clients: u32,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        config: DEFAULT_CONFIG.to_owned(),
        clients: 25,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--config" => {
                let path = it.next().context(USAGE)?;
                args.config =
                    std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
            }
            "--clients" => {
                args.clients = it
                    .next()
                    .context(USAGE)?
                    .parse()
                    .context("--clients takes a number")?;
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}\n{USAGE}"),
        }
    }
    Ok(args)
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let mut control = Control::new(Time::ZERO, "lvs-demo");
    let stdout = std::io::stdout();
    let mut out = stdout.lock();

    writeln!(out, "== configuration (ipvsadm -R)")?;
    write!(out, "{}", args.config)?;
    ipvsadm(&mut control, Time::ZERO, &["-R"], &args.config)?;

    // The first TCP service of the configuration receives the clients.
    let (vip, vport) = control
        .ipvs
        .services()
        .find_map(|s| match s.config.key {
            lvs_core::ServiceKey::Addr {
                proto: Protocol::Tcp,
                addr,
                port,
            } => Some((addr, port)),
            _ => None,
        })
        .context("the configuration has no TCP service to send clients to")?;

    writeln!(
        out,
        "\n== {} client connections to {vip}:{vport}",
        args.clients
    )?;
    let mut rng = XorShiftRandom(0x5eed);
    let mut now = Time(1000);
    for i in 0..args.clients {
        let client = IpAddr::V4(Ipv4Addr::new(172, 16, 10, 22 + (i / 1000) as u8));
        let cport = 40000 + (i % 20000) as u16;
        let served = exchange(
            &mut control,
            &mut now,
            (client, cport),
            (vip, vport),
            &mut rng,
        );
        match served {
            Some((addr, port)) => {
                writeln!(out, "conn {:>3}: {client}:{cport} -> {addr}:{port}", i + 1)?
            }
            None => writeln!(
                out,
                "conn {:>3}: {client}:{cport} -> refused (no destination)",
                i + 1
            )?,
        }
        now = Time(now.0 + 100);
    }

    // Two estimator periods, so `--rate` has figures.
    control.ipvs.estimate();
    for cmd in [
        &["-Ln"][..],
        &["-Ln", "--stats"],
        &["-Ln", "--rate"],
        &["-Lnc"],
    ] {
        writeln!(out, "\n== ipvsadm {}", cmd.join(" "))?;
        write!(out, "{}", ipvsadm(&mut control, now, cmd, "")?)?;
    }
    Ok(())
}

/// One TCP connection: handshake, a request, a response, and a close started by the
/// server (as HTTP/1.0 servers do). Returns the real server that took it.
fn exchange(
    control: &mut Control,
    now: &mut Time,
    client: (IpAddr, u16),
    vip: (IpAddr, u16),
    rng: &mut XorShiftRandom,
) -> Option<(IpAddr, u16)> {
    let mut tick = || {
        *now = Time(now.0 + 10);
        *now
    };
    let ipvs = &mut control.ipvs;
    let InVerdict::Forward(fwd) =
        ipvs.conn_in(tick(), &PacketMeta::tcp(client, vip, SYN).with_len(60), rng)
    else {
        return None;
    };
    let server = (fwd.daddr, fwd.dport);
    let reply = |flags: u8, len: u32| PacketMeta::tcp(server, client, flags).with_len(len);
    let request = |flags: u8, len: u32| PacketMeta::tcp(client, vip, flags).with_len(len);
    let steps: [(bool, PacketMeta); 8] = [
        (false, reply(SYN | ACK, 60)),
        (true, request(ACK, 52)),
        (true, request(ACK, 52 + 78)),
        (false, reply(ACK, 52 + 240)),
        (false, reply(FIN | ACK, 52)),
        (true, request(ACK, 52)),
        (true, request(FIN | ACK, 52)),
        (false, reply(ACK, 52)),
    ];
    for (inbound, pkt) in steps {
        let t = tick();
        if inbound {
            if !matches!(ipvs.conn_in(t, &pkt, rng), InVerdict::Forward(_)) {
                break;
            }
        } else if matches!(ipvs.conn_out(t, &pkt), OutVerdict::Pass) && fwd.fwd.sees_replies() {
            break;
        }
    }
    Some(server)
}
