//! `lvs-bench`: the Rust tools of the benchmark harness (`bench/run`).
//!
//! ```text
//! lvs-bench udpgen --if IF --src-mac MAC --dst-mac MAC --src IP --dst IP
//!                  [--dport 9] [--flows 1000] [--pps 0] --seconds S --max-packets N [--afpacket]
//! lvs-bench latency --target IP:PORT --rate R --seconds S [--max-requests N]
//! lvs-bench connfill --fwd dr|nat --conns N
//! ```
//!
//! Each prints one JSON object on stdout. Every loop is bounded in count
//! and time; the namespaces are the caller's business (`ip netns exec`).

mod connfill;
mod frame;
mod latency;
mod udpgen;

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use lvs_core::FwdMethod;

const USAGE: &str = "\
usage: lvs-bench udpgen --if IF --src-mac MAC --dst-mac MAC --src IP --dst IP [--dport 9]
                        [--flows 1000] [--base-port 10000] [--pps 0] [--payload 18]
                        --seconds S --max-packets N [--afpacket]
       lvs-bench latency --target IP:PORT --rate R --seconds S [--max-requests N]
       lvs-bench connfill --fwd dr|nat --conns N";

/// `--key value` pairs (and bare `--flag`s, value "").
fn options(args: &[String]) -> Result<HashMap<String, String>, String> {
    let mut m = HashMap::new();
    let mut it = args.iter().peekable();
    while let Some(a) = it.next() {
        let key = a
            .strip_prefix("--")
            .ok_or_else(|| format!("unexpected argument {a:?}"))?;
        let value = match it.peek() {
            Some(v) if !v.starts_with("--") => it.next().cloned().unwrap_or_default(),
            _ => String::new(),
        };
        if m.insert(key.to_string(), value).is_some() {
            return Err(format!("--{key} given twice"));
        }
    }
    Ok(m)
}

fn get<T: std::str::FromStr>(
    m: &HashMap<String, String>,
    key: &str,
    default: Option<T>,
) -> Result<T, String> {
    match m.get(key) {
        Some(v) => v
            .parse()
            .map_err(|_| format!("bad value {v:?} for --{key}")),
        None => default.ok_or_else(|| format!("--{key} is required")),
    }
}

fn udpgen(m: &HashMap<String, String>) -> Result<String, String> {
    let mac = |k: &str| -> Result<[u8; 6], String> {
        let s: String = get(m, k, None)?;
        frame::parse_mac(&s).ok_or_else(|| format!("bad MAC {s:?} for --{k}"))
    };
    let cfg = udpgen::GenConfig {
        ifname: get(m, "if", None)?,
        spec: frame::FrameSpec {
            src_mac: mac("src-mac")?,
            dst_mac: mac("dst-mac")?,
            src: get::<Ipv4Addr>(m, "src", None)?,
            dst: get::<Ipv4Addr>(m, "dst", None)?,
            dport: get(m, "dport", Some(9))?,
            payload: get(m, "payload", Some(frame::PAYLOAD_64))?,
        },
        flows: get(m, "flows", Some(1000))?,
        base_port: get(m, "base-port", Some(10_000))?,
        pps: get(m, "pps", Some(0))?,
        seconds: get(m, "seconds", None)?,
        max_packets: get(m, "max-packets", None)?,
        afpacket: m.contains_key("afpacket"),
    };
    if cfg.spec.payload > 1400 {
        return Err("--payload at most 1400".into());
    }
    let r = udpgen::run(&cfg).map_err(|e| e.to_string())?;
    let secs = r.elapsed.as_secs_f64();
    Ok(format!(
        "{{\"sent\":{},\"seconds\":{:.6},\"pps\":{:.0},\"backend\":\"{}\"}}",
        r.sent,
        secs,
        r.sent as f64 / secs.max(1e-9),
        r.backend
    ))
}

fn latency(m: &HashMap<String, String>) -> Result<String, String> {
    let cfg = latency::LatencyConfig {
        target: get::<SocketAddr>(m, "target", None)?,
        rate: get(m, "rate", None)?,
        seconds: get(m, "seconds", None)?,
        max_requests: get(m, "max-requests", Some(100_000))?,
    };
    let r = latency::run(&cfg);
    Ok(format!(
        "{{\"ok\":{},\"errors\":{},\"late\":{},\"p50_us\":{},\"p90_us\":{},\"p99_us\":{},\"max_us\":{}}}",
        r.ok, r.errors, r.late, r.p50, r.p90, r.p99, r.max
    ))
}

fn connfill(m: &HashMap<String, String>) -> Result<String, String> {
    let fwd = match get::<String>(m, "fwd", None)?.as_str() {
        "dr" => FwdMethod::Route,
        "nat" => FwdMethod::Masq,
        other => return Err(format!("bad --fwd {other:?} (dr or nat)")),
    };
    let n: u32 = get(m, "conns", None)?;
    if n > 50_000_000 {
        return Err("--conns at most 50 000 000".into());
    }
    let r = connfill::fill(fwd, n)?;
    let per = |b: f64| b / (r.conns.max(1) as f64);
    Ok(format!(
        "{{\"conns\":{},\"rss_bytes\":{},\"heap_bytes\":{},\"rss_per_conn\":{:.1},\"peak_per_conn\":{:.1},\"heap_per_conn\":{:.1},\"fill_seconds\":{:.3}}}",
        r.conns,
        r.rss_bytes,
        r.heap_bytes,
        per(r.rss_bytes as f64),
        per(r.peak_bytes as f64),
        per(r.heap_bytes as f64),
        r.seconds
    ))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = options(rest).and_then(|m| match cmd.as_str() {
        "udpgen" => udpgen(&m),
        "latency" => latency(&m),
        "connfill" => connfill(&m),
        _ => Err(format!("unknown command {cmd:?}\n{USAGE}")),
    });
    match result {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("lvs-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn options_pairs_and_flags() {
        let m = options(&v(&["--if", "g0", "--afpacket", "--pps", "5"]))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.get("if").map(String::as_str), Some("g0"));
        assert_eq!(m.get("afpacket").map(String::as_str), Some(""));
        assert_eq!(get::<u64>(&m, "pps", None), Ok(5));
        assert_eq!(get::<u64>(&m, "flows", Some(1000)), Ok(1000));
        assert!(get::<u64>(&m, "seconds", None).is_err());
        assert!(options(&v(&["--if", "a", "--if", "b"])).is_err());
        assert!(options(&v(&["stray"])).is_err());
    }

    #[test]
    fn udpgen_requires_its_bounds() {
        let m = options(&v(&[
            "--if",
            "lo",
            "--src-mac",
            "02:00:00:00:00:01",
            "--dst-mac",
            "02:00:00:00:00:02",
            "--src",
            "10.0.0.1",
            "--dst",
            "10.0.0.2",
        ]))
        .unwrap_or_else(|e| panic!("{e}"));
        let e = udpgen(&m).unwrap_err();
        assert!(e.contains("--seconds"), "{e}");
    }
}
