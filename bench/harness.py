#!/usr/bin/env python3
"""The benchmark harness behind bench/run (issue 8): lvsd against plain kernel forwarding,
nftables DNAT (`numgen inc mod 2`), HAProxy (TCP mode) and nginx `stream`, side by side, in
interleaved rounds, in network namespaces created here (lvsbench-<pid>-*, deleted by name on
exit, failure or Ctrl-C). Nothing is added to the machine's own namespace.

Topology (VIP 10.10.9.100 is off-link: the generator routes it via the director, so the
director needs no address for it; the proxies get it on their lo, the sink holds it on lo for
direct routing):

    gen g0 10.10.1.2 ── d0 10.10.1.1  dir  d1 10.10.2.1 ── s0 10.10.2.2 + 10.10.2.3  sink
    gen g1 10.10.3.2 ──────────────────────────────────── s1 10.10.3.3 (ceiling link)

CPU placement (2 cores): CPU 0 runs the generator / wrk / latency probe and the servers
(nginx on the sink), CPU 1 runs the director: RPS steers d0/d1 receive processing to CPU 1
for the kernel paths, and haproxy / nginx stream / lvsd are pinned there. The sink drops UDP
with an XDP program (bench/xdp/sink.c) and counts frames from its interface statistics.

Every traffic loop is bounded in count and time (the generator's --seconds/--max-packets,
wrk's -d, the probe's --seconds/--max-requests, each under a subprocess timeout).
"""

import argparse
import datetime
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PREFIX = os.environ.get("LVSBENCH_PREFIX") or f"lvsbench-{os.getpid()}-"
NS = {k: PREFIX + k for k in ("gen", "dir", "sink", "ctl")}
VIP = "10.10.9.100"
RIPS = ["10.10.2.2", "10.10.2.3"]
SINK_DIRECT = "10.10.3.3"
# lvsd FULLNAT's local address (--fullnat-laddr): on the director's sink-side interface d1.
FULLNAT_LADDR = "10.10.2.10"
# Destination MAC of the ceiling frames: nobody's, so the sink drops them on arrival.
CEILING_MAC = "02:00:00:00:be:99"
UDP_PORT = 9

MODES = {
    # rounds, seconds per UDP run, seconds per TCP run, latency probe rate (req/s), conn fills
    "quick": dict(rounds=2, udp_s=1.0, tcp_s=1, lat_rate=300, lat_s=1.5,
                  fills=[1_000_000], ctl_services=10_000, ctl_adds=50),
    "full": dict(rounds=5, udp_s=4.0, tcp_s=4, lat_rate=500, lat_s=4.0,
                 fills=[1_000_000, 10_000_000], ctl_services=10_000, ctl_adds=200),
}

# name -> (label, workloads it takes part in)
CONFIGS = {
    "fwd": ("kernel forwarding", {"udp", "cps", "rps", "lat"}),
    "nft": ("nftables DNAT", {"udp", "cps", "rps", "lat"}),
    "haproxy": ("HAProxy (tcp)", {"cps", "rps", "lat"}),
    "nginx": ("nginx stream", {"cps", "rps", "lat"}),
    "lvs-nat": ("lvsd NAT", {"udp", "cps", "rps", "lat"}),
    "lvs-dr": ("lvsd DR", {"udp", "cps", "rps", "lat"}),
    "lvs-tun": ("lvsd TUN", {"udp"}),
    "lvs-fullnat": ("lvsd FULLNAT", {"udp"}),
}
WORKLOADS = ("udp", "cps", "rps", "lat")


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def run(cmd, check=True, timeout=60, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.strip()}")
    return r


def ip(ns, *args, check=True):
    return run(["ip", "-n", ns, *args], check=check)


def nsx(ns, *cmd, check=True, timeout=60, cpu=None):
    pin = ["taskset", "-c", str(cpu)] if cpu is not None else []
    return run(["ip", "netns", "exec", ns, *pin, *cmd], check=check, timeout=timeout)


def sysctl(ns, key, value):
    nsx(ns, "sysctl", "-qw", f"{key}={value}")


def write_sys(ns, path, value):
    nsx(ns, "sh", "-c", f"echo {value} > {path}")


def mac(ns, dev):
    out = json.loads(ip(ns, "-j", "link", "show", "dev", dev).stdout)
    return out[0]["address"]


def rx_packets(ns, dev):
    return int(nsx(ns, "cat", f"/sys/class/net/{dev}/statistics/rx_packets").stdout)


def cpu_times():
    """Per-CPU (busy, total) jiffies from /proc/stat."""
    res = {}
    with open("/proc/stat") as f:
        for line in f:
            m = re.match(r"cpu(\d+)\s+(.*)", line)
            if m:
                v = [int(x) for x in m.group(2).split()]
                idle = v[3] + v[4]
                res[int(m.group(1))] = (sum(v[:8]) - idle, sum(v[:8]))
    return res


def proc_cpu(pid):
    """utime + stime of a process, jiffies (None when gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return None


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


class Lab:
    """The namespaces, links, the sink's XDP program and the per-config daemons."""

    def __init__(self, bins, work):
        self.bins = bins
        self.work = work
        self.procs = []
        self.lvsd = None
        self.created = []

    # --- topology -------------------------------------------------------------------
    def build(self):
        for k in ("gen", "dir", "sink"):
            run(["ip", "netns", "add", NS[k]])
            self.created.append(NS[k])
            ip(NS[k], "link", "set", "lo", "up")
        g, d, s = NS["gen"], NS["dir"], NS["sink"]
        ip(g, "link", "add", "g0", "type", "veth", "peer", "name", "d0", "netns", d)
        ip(d, "link", "add", "d1", "type", "veth", "peer", "name", "s0", "netns", s)
        ip(g, "link", "add", "g1", "type", "veth", "peer", "name", "s1", "netns", s)
        ip(g, "addr", "add", "10.10.1.2/24", "dev", "g0")
        ip(g, "addr", "add", "10.10.3.2/24", "dev", "g1")
        ip(d, "addr", "add", "10.10.1.1/24", "dev", "d0")
        ip(d, "addr", "add", "10.10.2.1/24", "dev", "d1")
        ip(d, "addr", "add", f"{FULLNAT_LADDR}/24", "dev", "d1")
        for r in RIPS:
            ip(s, "addr", "add", f"{r}/24", "dev", "s0")
        ip(s, "addr", "add", f"{SINK_DIRECT}/24", "dev", "s1")
        ip(s, "addr", "add", f"{VIP}/32", "dev", "lo")
        for ns, devs in ((g, ("g0", "g1")), (d, ("d0", "d1")), (s, ("s0", "s1"))):
            for dev in devs:
                ip(ns, "link", "set", dev, "up")
        ip(g, "route", "add", "default", "via", "10.10.1.1")
        ip(s, "route", "add", "default", "via", "10.10.2.1")
        sysctl(d, "net.ipv4.ip_forward", "1")
        for ns in (g, d, s):
            for conf in ("all", "default"):
                sysctl(ns, f"net.ipv4.conf.{conf}.rp_filter", "0")
        for dev in ("d0", "d1"):
            sysctl(d, f"net.ipv4.conf.{dev}.rp_filter", "0")
        # Many short connections from one client address.
        sysctl(g, "net.ipv4.ip_local_port_range", "1024 65000")
        sysctl(g, "net.ipv4.tcp_tw_reuse", "1")
        for ns in (g, s):
            sysctl(ns, "net.core.somaxconn", "8192")
            sysctl(ns, "net.ipv4.tcp_max_syn_backlog", "8192")
        sysctl(d, "net.core.somaxconn", "8192")
        # Static neighbours: no ARP on the measured paths.
        self.mac = {("gen", "g0"): mac(g, "g0"), ("gen", "g1"): mac(g, "g1"),
                    ("dir", "d0"): mac(d, "d0"), ("dir", "d1"): mac(d, "d1"),
                    ("sink", "s0"): mac(s, "s0"), ("sink", "s1"): mac(s, "s1")}
        ip(g, "neigh", "replace", "10.10.1.1", "lladdr", self.mac[("dir", "d0")], "dev", "g0",
           "nud", "permanent")
        ip(g, "neigh", "replace", SINK_DIRECT, "lladdr", self.mac[("sink", "s1")], "dev", "g1",
           "nud", "permanent")
        for r in RIPS:
            ip(d, "neigh", "replace", r, "lladdr", self.mac[("sink", "s0")], "dev", "d1",
               "nud", "permanent")
        ip(d, "neigh", "replace", "10.10.1.2", "lladdr", self.mac[("gen", "g0")], "dev", "d0",
           "nud", "permanent")
        ip(s, "neigh", "replace", "10.10.2.1", "lladdr", self.mac[("dir", "d1")], "dev", "s0",
           "nud", "permanent")
        # FULLNAT replies go to the local address (on-link for the sink: same neighbour).
        ip(s, "neigh", "replace", FULLNAT_LADDR, "lladdr", self.mac[("dir", "d1")], "dev", "s0",
           "nud", "permanent")
        # Receive processing: director interfaces on CPU 1, client/server side on CPU 0.
        for dev in ("d0", "d1"):
            write_sys(d, f"/sys/class/net/{dev}/queues/rx-0/rps_cpus", "2")
        write_sys(g, "/sys/class/net/g0/queues/rx-0/rps_cpus", "1")
        write_sys(s, "/sys/class/net/s0/queues/rx-0/rps_cpus", "1")
        # The sink: XDP drop of UDP / IPIP / GRE on the director's link. The ceiling link has
        # no XDP: its frames carry a foreign destination MAC, are steered (RPS) to CPU 1 like
        # the director's, and dropped there at the first protocol check (PACKET_OTHERHOST),
        # so CPU 0 does for the ceiling exactly what it does for the paths through the
        # director (generator and veth transmit) and nothing else.
        ip(s, "link", "set", "dev", "s0", "xdpdrv", "obj", self.bins["sink_xdp"], "sec", "xdp")
        write_sys(s, "/sys/class/net/s1/queues/rx-0/rps_cpus", "2")
        # The real servers: one nginx on the sink (both RIPs and the VIP), pinned to CPU 0.
        self.start_nginx_server()

    def destroy(self):
        self.stop_config()
        for p in self.procs:
            stop_proc(p)
        self.procs = []
        for ns in self.created:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self.created = []

    def spawn(self, ns, cmd, cpu=None, log_name=None, env=None):
        pin = ["taskset", "-c", str(cpu)] if cpu is not None else []
        out = open(os.path.join(self.work, log_name), "w") if log_name else subprocess.DEVNULL
        p = subprocess.Popen(["ip", "netns", "exec", ns, *pin, *cmd], stdin=subprocess.DEVNULL,
                             stdout=out, stderr=subprocess.STDOUT if log_name else out,
                             env=env, start_new_session=True)
        return p

    def start_nginx_server(self):
        conf = os.path.join(self.work, "nginx-server.conf")
        with open(conf, "w") as f:
            f.write(f"""worker_processes 1;
daemon off;
pid {self.work}/nginx-server.pid;
error_log {self.work}/nginx-server.err warn;
worker_rlimit_nofile 65536;
events {{ worker_connections 16384; }}
http {{
    access_log off;
    keepalive_requests 10000000;
    keepalive_timeout 60s;
    client_body_temp_path {self.work}/nginx-tmp;
    proxy_temp_path {self.work}/nginx-tmp;
    fastcgi_temp_path {self.work}/nginx-tmp;
    uwsgi_temp_path {self.work}/nginx-tmp;
    scgi_temp_path {self.work}/nginx-tmp;
    server {{
        listen 80 backlog=8192 reuseport;
        location / {{ return 200 "ok\\n"; }}
    }}
}}
""")
        os.makedirs(os.path.join(self.work, "nginx-tmp"), exist_ok=True)
        p = self.spawn(NS["sink"], ["nginx", "-c", conf, "-p", self.work], cpu=0,
                       log_name="nginx-server.log")
        self.procs.append(p)
        wait_tcp(NS["gen"], RIPS[0], 80)

    # --- configurations ---------------------------------------------------------------
    def start_config(self, name):
        self.config = name
        d = NS["dir"]
        if name == "nft":
            rules = f"""table ip lvsbench {{
    chain pre {{
        type nat hook prerouting priority dstnat; policy accept;
        ip daddr {VIP} udp dport {UDP_PORT} dnat to numgen inc mod 2 map {{ 0 : {RIPS[0]}, 1 : {RIPS[1]} }}
        ip daddr {VIP} tcp dport 80 dnat to numgen inc mod 2 map {{ 0 : {RIPS[0]}, 1 : {RIPS[1]} }}
    }}
    chain post {{
        type nat hook postrouting priority srcnat; policy accept;
    }}
}}
"""
            path = os.path.join(self.work, "nft.conf")
            with open(path, "w") as f:
                f.write(rules)
            nsx(d, "nft", "-f", path)
        elif name in ("haproxy", "nginx"):
            ip(d, "addr", "add", f"{VIP}/32", "dev", "lo")
            if name == "haproxy":
                conf = os.path.join(self.work, "haproxy.cfg")
                with open(conf, "w") as f:
                    f.write(f"""global
    maxconn 9000
    nbthread 1
defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend fe
    bind {VIP}:80 backlog 8192
    default_backend be
backend be
    balance roundrobin
    server s1 {RIPS[0]}:80
    server s2 {RIPS[1]}:80
""")
                cmd = ["haproxy", "-db", "-f", conf]
            else:
                conf = os.path.join(self.work, "nginx-stream.conf")
                with open(conf, "w") as f:
                    f.write(f"""load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes 1;
daemon off;
pid {self.work}/nginx-stream.pid;
error_log {self.work}/nginx-stream.err warn;
worker_rlimit_nofile 65536;
events {{ worker_connections 30000; }}
stream {{
    upstream be {{ server {RIPS[0]}:80; server {RIPS[1]}:80; }}
    server {{ listen {VIP}:80 backlog=8192; proxy_pass be; proxy_connect_timeout 2s; }}
}}
""")
                cmd = ["nginx", "-c", conf, "-p", self.work]
            self.proxy = self.spawn(d, cmd, cpu=1, log_name=f"{name}.log")
            wait_tcp(NS["gen"], VIP, 80)
        elif name.startswith("lvs-"):
            self.start_lvsd(fullnat=name == "lvs-fullnat")
            flag = {"lvs-nat": "-m", "lvs-dr": "-g", "lvs-tun": "-i", "lvs-fullnat": "--fullnat"}[name]
            tcp = name in ("lvs-nat", "lvs-dr")
            lines = [["-A", "-u", f"{VIP}:{UDP_PORT}", "-s", "rr"]]
            lines += [["-a", "-u", f"{VIP}:{UDP_PORT}", "-r", f"{r}:{UDP_PORT}", flag] for r in RIPS]
            if tcp:
                lines += [["-A", "-t", f"{VIP}:80", "-s", "rr"]]
                lines += [["-a", "-t", f"{VIP}:80", "-r", f"{r}:80", flag] for r in RIPS]
            for argv in lines:
                self.ipvsadm(*argv)

    def stop_config(self):
        name = getattr(self, "config", None)
        self.config = None
        d = NS["dir"]
        if name == "nft":
            nsx(d, "nft", "delete", "table", "ip", "lvsbench", check=False)
        elif name in ("haproxy", "nginx"):
            stop_proc(getattr(self, "proxy", None))
            self.proxy = None
            ip(d, "addr", "del", f"{VIP}/32", "dev", "lo", check=False)
        elif name and name.startswith("lvs-"):
            self.stop_lvsd()

    def ipvsadm(self, *argv, stdin=None, timeout=120):
        env = dict(os.environ, LVSD_SOCKET=self.socket)
        r = subprocess.run([self.bins["ipvsadm"], *argv], input=stdin, capture_output=True,
                           text=True, env=env, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"ipvsadm {' '.join(argv)}: {r.stderr.strip()}")
        return r

    def start_lvsd(self, ns=None, interfaces="d0,d1", fullnat=False):
        ns = ns or NS["dir"]
        self.socket = os.path.join(self.work, "lvsd.sock")
        if os.path.exists(self.socket):
            os.unlink(self.socket)
        env = dict(os.environ, LVSD_SOCKET=self.socket, RUST_LOG="info")
        args = [self.bins["lvsd"]] + (["--interfaces", interfaces] if interfaces else [])
        if fullnat:
            args += ["--fullnat-laddr", FULLNAT_LADDR]
        self.lvsd_log = os.path.join(self.work, "lvsd.log")
        self.lvsd = self.spawn(ns, args, cpu=1 if interfaces else None, log_name="lvsd.log",
                               env=env)
        deadline = time.time() + 15
        want = "serving" if interfaces else None
        while time.time() < deadline:
            if self.lvsd.poll() is not None:
                raise RuntimeError(f"lvsd exited: {read(self.lvsd_log)}")
            if os.path.exists(self.socket):
                text = read(self.lvsd_log)
                if want is None or want in text or "ERROR" in text:
                    break
            time.sleep(0.05)
        text = read(self.lvsd_log)
        if want and want not in text:
            raise RuntimeError(f"lvsd has no data plane: {text}")
        self.lvsd_pid = lvsd_pid(self.lvsd.pid)

    def stop_lvsd(self):
        stop_proc(self.lvsd)
        self.lvsd = None
        self.lvsd_pid = None


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def lvsd_pid(wrapper_pid):
    """`ip netns exec` and taskset exec the command: the pid is the daemon's own."""
    return wrapper_pid


def stop_proc(p):
    if p is None or p.poll() is not None:
        return
    try:
        os.killpg(p.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(timeout=5)


def wait_tcp(ns, addr, port, seconds=10):
    deadline = time.time() + seconds
    while time.time() < deadline:
        r = subprocess.run(["ip", "netns", "exec", ns, "bash", "-c",
                            f"exec 3<>/dev/tcp/{addr}/{port}"], capture_output=True, timeout=5)
        if r.returncode == 0:
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {addr}:{port}")


# --- workloads ---------------------------------------------------------------------------
def udp_run(lab, dst, dev, sink_dev, seconds, pps=0):
    """One generator run; returns the measurement dict."""
    g = NS["gen"]
    dst_mac = lab.mac[("dir", "d0")] if dev == "g0" else CEILING_MAC
    before_rx = rx_packets(NS["sink"], sink_dev)
    cpu0 = cpu_times()
    lvs0 = proc_cpu(lab.lvsd_pid) if lab.lvsd else None
    r = nsx(g, lab.bins["lvs-bench"], "udpgen", "--if", dev, "--src-mac", lab.mac[("gen", dev)],
            "--dst-mac", dst_mac, "--src", "10.10.1.2" if dev == "g0" else "10.10.3.2",
            "--dst", dst, "--dport", str(UDP_PORT), "--flows", "1000", "--pps", str(pps),
            "--seconds", str(seconds), "--max-packets", str(int(seconds * 20_000_000)),
            cpu=0, timeout=seconds + 30)
    time.sleep(0.05)
    cpu1 = cpu_times()
    lvs1 = proc_cpu(lab.lvsd_pid) if lab.lvsd else None
    after_rx = rx_packets(NS["sink"], sink_dev)
    out = json.loads(r.stdout)
    got = after_rx - before_rx
    if got == 0 and out["sent"] > 0:
        tail = read(lab.lvsd_log)[-400:] if lab.lvsd else ""
        raise RuntimeError(f"none of {out['sent']} frames reached the sink {tail}")
    secs = out["seconds"]
    res = {"sent": out["sent"], "received": got, "seconds": secs, "pps": got / secs,
           "sent_pps": out["sent"] / secs, "backend": out["backend"]}
    hz = os.sysconf("SC_CLK_TCK")
    mpkts = max(got, 1) / 1e6
    for c in cpu0:
        busy = (cpu1[c][0] - cpu0[c][0]) / hz
        res[f"cpu{c}_busy_s"] = busy
        res[f"cpu{c}_ms_per_mpkt"] = busy * 1000 / mpkts
    if lvs0 is not None and lvs1 is not None:
        res["lvsd_cpu_s"] = (lvs1 - lvs0) / hz
        res["lvsd_ms_per_mpkt"] = res["lvsd_cpu_s"] * 1000 / mpkts
    return res


def udp_target(name):
    return RIPS[0] if name == "fwd" else VIP


def tcp_target(name):
    return RIPS[0] if name == "fwd" else VIP


def wrk(lab, target, seconds, close):
    hdr = ["-H", "Connection: close"] if close else []
    conns = "32" if close else "64"
    r = nsx(NS["gen"], "wrk", "-t1", "-c", conns, "-d", f"{seconds}s", "--timeout", "2s",
            *hdr, f"http://{target}/", cpu=0, timeout=seconds + 30, check=False)
    text = r.stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    total = re.search(r"(\d+) requests in", text)
    return {"rate": float(m.group(1)) if m else 0.0,
            "requests": int(total.group(1)) if total else 0,
            "errors": sum(int(x) for x in errs.groups()) if errs else 0,
            "non2xx": int(non2xx.group(1)) if non2xx else 0}


def latency(lab, target, rate, seconds):
    r = nsx(NS["gen"], lab.bins["lvs-bench"], "latency", "--target", f"{target}:80",
            "--rate", str(rate), "--seconds", str(seconds),
            "--max-requests", str(int(rate * seconds) + 1), cpu=0, timeout=seconds + 60)
    return json.loads(r.stdout)


# --- control plane -------------------------------------------------------------------------
def control_plane(lab, mode):
    n = mode["ctl_services"]
    res = {"services": n, "reals_per_service": 10}
    run(["ip", "netns", "add", NS["ctl"]])
    lab.created.append(NS["ctl"])
    ip(NS["ctl"], "link", "set", "lo", "up")
    # lvsd wants an interface to serve: a veth pair inside the namespace (no traffic), so
    # the figures include the steering-map updates a real director does.
    ip(NS["ctl"], "link", "add", "c0", "type", "veth", "peer", "name", "c1")
    ip(NS["ctl"], "addr", "add", "10.10.8.1/24", "dev", "c0")
    for dev in ("c0", "c1"):
        ip(NS["ctl"], "link", "set", dev, "up")
    lab.start_lvsd(ns=NS["ctl"], interfaces="c0")
    try:
        rss0 = vmrss(lab.lvsd_pid)
        lines = []
        for i in range(n):
            vip = f"10.{20 + i // 65536}.{(i // 256) % 256}.{i % 256}:80"
            lines.append(f"-A -t {vip} -s wlc")
            for j in range(10):
                lines.append(f"-a -t {vip} -r 10.30.{j}.{1 + i % 250}:80 -m -w 1")
        text = "\n".join(lines) + "\n"
        t0 = time.perf_counter()
        lab.ipvsadm("-R", stdin=text, timeout=600)
        res["restore_s"] = time.perf_counter() - t0
        time.sleep(0.2)
        res["rss_before_mb"] = rss0 / 2**20
        res["rss_mb"] = vmrss(lab.lvsd_pid) / 2**20
        t0 = time.perf_counter()
        listing = lab.ipvsadm("-Sn", timeout=600).stdout
        res["save_s"] = time.perf_counter() - t0
        res["saved_lines"] = listing.count("\n")
        lat = []
        for k in range(mode["ctl_adds"]):
            i = (k * 7919) % n
            vip = f"10.{20 + i // 65536}.{(i // 256) % 256}.{i % 256}:80"
            t0 = time.perf_counter()
            lab.ipvsadm("-a", "-t", vip, "-r", f"10.31.{k // 250}.{1 + k % 250}:80", "-m")
            lat.append((time.perf_counter() - t0) * 1000)
        lat.sort()
        res["add_p50_ms"] = pct(lat, 50)
        res["add_p99_ms"] = pct(lat, 99)
        res["add_n"] = len(lat)
        # The process start of ipvsadm itself, for scale: a listing of an empty service.
        base = []
        for _ in range(min(20, mode["ctl_adds"])):
            t0 = time.perf_counter()
            subprocess.run([lab.bins["ipvsadm"], "--version"], capture_output=True, timeout=10)
            base.append((time.perf_counter() - t0) * 1000)
        base.sort()
        res["exec_p50_ms"] = pct(base, 50)
    finally:
        lab.stop_lvsd()
    return res


def vmrss(pid):
    for line in read(f"/proc/{pid}/status").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def pct(sorted_v, p):
    if not sorted_v:
        return 0
    k = max(1, -(-len(sorted_v) * p // 100))
    return sorted_v[int(k) - 1]


def conn_memory(lab, mode):
    out = []
    for n in mode["fills"]:
        for fwd in ("dr", "nat"):
            r = run([lab.bins["lvs-bench"], "connfill", "--fwd", fwd, "--conns", str(n)],
                    timeout=900)
            d = json.loads(r.stdout)
            d["fwd"] = fwd.upper()
            out.append(d)
            log(f"conn table {fwd} {n}: {d['rss_per_conn']:.1f} B/conn (RSS), "
                f"{d['heap_per_conn']:.1f} B/conn (heap estimate)")
    return out


# --- micro-benchmarks ------------------------------------------------------------------------
def micro(quick, env):
    """Runs in LVSBENCH_SRC (a clean export of a commit) when set, else in this tree."""
    src = os.environ.get("LVSBENCH_SRC") or ROOT
    res = {}
    scheds = "rr wrr wlc mh" if quick else "rr wrr lc wlc sed nq fo ovf twos dh sh mh lblc lblcr"
    dests = "10 1000" if quick else "10 100 1000"
    log("micro: scheduler instruction counts (scripts/icount)")
    r = run(["bash", "scripts/icount", *scheds.split()], cwd=src, timeout=3600,
            env=dict(env, DESTS=dests))
    res["icount"] = r.stdout.strip()
    log("micro: per-packet engine instruction counts (crates/lvs-datapath/icount.sh)")
    r = run(["bash", "crates/lvs-datapath/icount.sh"], cwd=src, timeout=3600, env=env)
    res["datapath_icount"] = r.stdout.strip()
    log("micro: criterion, conn table (quick)")
    r = run(["cargo", "bench", "--quiet", "-p", "lvs-core", "--bench", "conn_table", "--",
             "--warm-up-time", "1", "--measurement-time", "2", "--noplot"], cwd=src,
            timeout=3600, env=env, check=False)
    res["conn_table"] = criterion_lines(r.stdout + r.stderr)
    log("micro: criterion, per-packet engine (quick)")
    r = run(["cargo", "bench", "--quiet", "-p", "lvs-datapath", "--bench", "datapath", "--",
             "--warm-up-time", "1", "--measurement-time", "2", "--noplot"], cwd=src,
            timeout=3600, env=env, check=False)
    res["datapath"] = criterion_lines(r.stdout + r.stderr)
    return res


def criterion_lines(text):
    """(name, 'low mid high unit') rows from criterion's `time: [a b c]` lines."""
    rows = []
    name = None
    for line in text.splitlines():
        m = re.match(r"^(\S.*?)\s+time:\s+\[(.*)\]", line)
        if m:
            rows.append((m.group(1).strip(), m.group(2)))
            continue
        m = re.match(r"^(\S+)$", line.strip())
        if m and not line.startswith(" "):
            name = m.group(1)
        m = re.match(r"^\s+time:\s+\[(.*)\]", line)
        if m and name:
            rows.append((name, m.group(1)))
        m = re.match(r"^conn_table: (.*)", line)
        if m:
            rows.append(("memory", m.group(1)))
    return rows


# --- the run -----------------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true")
    g.add_argument("--full", action="store_true")
    ap.add_argument("--only", action="append", default=[],
                    help="a configuration (fwd nft haproxy nginx lvs-nat lvs-dr lvs-tun "
                         "lvs-fullnat) or part (udp cps rps lat ctl mem); repeatable")
    ap.add_argument("--micro", action="store_true", help="also run the micro-benchmarks")
    ap.add_argument("--bin", required=True, help="directory with lvsd, lvsadm, lvs-bench")
    ap.add_argument("--sink-xdp", required=True)
    ap.add_argument("--no-docs", action="store_true", help="do not rewrite docs/benchmarks.md")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs"))
    a = ap.parse_args()
    mode_name = "full" if a.full else "quick"
    mode = MODES[mode_name]
    only = set(sum((x.split(",") for x in a.only), []))
    configs = [c for c in CONFIGS if not only & set(CONFIGS) or c in only]
    parts = set(WORKLOADS) | {"ctl", "mem"}
    if only & parts:
        parts &= only
    unknown = only - set(CONFIGS) - set(WORKLOADS) - {"ctl", "mem"}
    if unknown:
        ap.error(f"unknown --only {sorted(unknown)}")

    work = tempfile.mkdtemp(prefix="lvsbench-")
    ipvsadm = os.path.join(work, "ipvsadm")
    os.symlink(os.path.join(a.bin, "lvsadm"), ipvsadm)
    bins = {"lvsd": os.path.join(a.bin, "lvsd"), "ipvsadm": ipvsadm,
            "lvs-bench": os.path.join(a.bin, "lvs-bench"), "sink_xdp": a.sink_xdp}
    lab = Lab(bins, work)

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    started = time.time()
    meta = machine_meta(mode_name)
    results = {"meta": meta, "mode": mode_name, "params": mode, "rounds": [], "ctl": None,
               "mem": None, "micro": None}
    try:
        need_lab = parts & set(WORKLOADS) or "ctl" in parts
        if need_lab:
            log(f"topology {PREFIX}*")
            lab.build()
        if parts & set(WORKLOADS):
            for rnd in range(mode["rounds"]):
                rr = {"round": rnd + 1, "load_start": loadavg(), "configs": {}}
                log(f"round {rnd + 1}/{mode['rounds']} (load {rr['load_start']})")
                # Pass 1: UDP, between two measurements of the generator's ceiling.
                # Pass 2: the TCP workloads. Each configuration is started and stopped in
                # each pass.
                passes = [["udp"], ["cps", "rps", "lat"]]
                for wanted in passes:
                    udp_pass = wanted == ["udp"]
                    if not set(wanted) & parts:
                        continue
                    if udp_pass:
                        rr["ceiling"] = udp_run(lab, SINK_DIRECT, "g1", "s1", mode["udp_s"])
                        log(f"  generator ceiling: {rr['ceiling']['pps']:,.0f} pps")
                    for c in configs:
                        wl = CONFIGS[c][1] & parts & set(wanted)
                        if not wl:
                            continue
                        m = rr["configs"].setdefault(c, {})
                        try:
                            lab.start_config(c)
                            if "udp" in wl:
                                udp_run(lab, udp_target(c), "g0", "s0", 0.3)  # warm-up
                                m["udp"] = udp_run(lab, udp_target(c), "g0", "s0",
                                                   mode["udp_s"])
                                m["udp"]["load"] = loadavg()
                            if "cps" in wl:
                                m["cps"] = wrk(lab, tcp_target(c), mode["tcp_s"], close=True)
                            if "rps" in wl:
                                m["rps"] = wrk(lab, tcp_target(c), mode["tcp_s"], close=False)
                            if "lat" in wl:
                                m["lat"] = latency(lab, tcp_target(c), mode["lat_rate"],
                                                   mode["lat_s"])
                        except (RuntimeError, subprocess.TimeoutExpired, ValueError) as e:
                            m["error"] = " ".join(str(e).split())[:300]
                            log(f"  {c}: ERROR {m['error']}")
                        finally:
                            lab.stop_config()
                        log("  " + summary_line(c, m, wanted))
                    if udp_pass:
                        rr["ceiling_end"] = udp_run(lab, SINK_DIRECT, "g1", "s1", mode["udp_s"])
                        log(f"  generator ceiling: {rr['ceiling_end']['pps']:,.0f} pps")
                if "udp" in parts and set(passes[1]) & parts:
                    # After the TCP pass too: a disturbance there shows as a lower ceiling.
                    rr["ceiling_after"] = udp_run(lab, SINK_DIRECT, "g1", "s1", mode["udp_s"])
                    log(f"  generator ceiling: {rr['ceiling_after']['pps']:,.0f} pps")
                rr["load_end"] = loadavg()
                results["rounds"].append(rr)
        if "ctl" in parts:
            log(f"control plane: ipvsadm -R of {mode['ctl_services']} services x 10 reals")
            results["ctl"] = control_plane(lab, mode)
            log(f"  {results['ctl']}")
        if "mem" in parts:
            results["mem"] = conn_memory(lab, mode)
    finally:
        lab.destroy()
        shutil.rmtree(work, ignore_errors=True)
    if a.micro:
        env = dict(os.environ)
        results["micro"] = micro(mode_name == "quick", env)
    results["wall_s"] = time.time() - started
    meta["load_end"] = loadavg()
    import report  # bench/report.py
    report.write(results, a.out, write_docs=not a.no_docs)
    log(f"done in {results['wall_s']:.0f} s")


def summary_line(c, m, wanted):
    m = {k: v for k, v in m.items() if k in wanted}
    parts = [c]
    if "udp" in m:
        parts.append(f"udp {m['udp']['pps']:,.0f} pps")
    if "cps" in m:
        parts.append(f"cps {m['cps']['rate']:,.0f} (err {m['cps']['errors']})")
    if "rps" in m:
        parts.append(f"rps {m['rps']['rate']:,.0f}")
    if "lat" in m:
        parts.append(f"lat p50 {m['lat']['p50_us']} us p99 {m['lat']['p99_us']} us")
    return ", ".join(parts)


def machine_meta(mode):
    def sh(*cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=10,
                                  cwd=ROOT).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""
    cpu = ""
    for line in read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = read("/proc/meminfo").splitlines()[0].split()[1]
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "kernel": os.uname().release,
        "cpu": f"{os.cpu_count()} x {cpu}",
        "mem_gib": round(int(mem) / 2**20),
        "commit": os.environ.get("LVSBENCH_COMMIT") or sh("git", "rev-parse", "--short", "HEAD"),
        "dirty": (not os.environ.get("LVSBENCH_COMMIT")
                  and bool(sh("git", "status", "--porcelain", "--untracked-files=no"))),
        "rustc": sh("rustc", "--version"),
        "load_start": loadavg(),
        "mode": mode,
        "tools": {"nft": sh("nft", "--version"), "haproxy": sh("haproxy", "-v").split("\n")[0],
                  "nginx": subprocess.run(["nginx", "-v"], capture_output=True,
                                          text=True).stderr.strip(),
                  "wrk": sh("wrk", "--version").split("\n")[0][:40]},
    }


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    try:
        main()
    except KeyboardInterrupt as e:
        log(f"interrupted ({e}); namespaces deleted")
        sys.exit(130)
