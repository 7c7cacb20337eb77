#!/bin/bash
# Kernel reference (ipvs-ref lab, Linux 6.1) for bin/lvsd/tests/e2e_hashfallback.rs:
# sh/mh with and without the fallback flag when a real server is edited to weight 0,
# and one-packet scheduling (-o) for UDP. NAT director, two real servers, UDP.
# Run: /work/shared/lab/ipvs-ref/run.sh crates/lvs-realserver/lab/hash_fallback_ops.sh
. /lab/scenarios/lib.sh
modprobe ip_vs; modprobe ip_vs_sh; modprobe ip_vs_mh; modprobe ip_vs_rr
# The addresses of the e2e (mh's table depends on the real servers' addresses and ports).
mkns c; mkns d; mkns r1; mkns r2; mkns sw
vlink c c0 d d0
mkbridge sw br0
vlink d d1 sw p0; vlink r1 r0 sw p1; vlink r2 r0 sw p2
for p in p0 p1 p2; do brport sw br0 $p; done
ip -n c addr add 10.10.0.2/24 dev c0
for i in $(seq 160 175); do ip -n c addr add 10.10.0.$i/32 dev c0; done
ip -n d addr add 10.10.0.100/24 dev d0
ip -n d addr add 10.30.0.1/24 dev d1
ip netns exec d sysctl -qw net.ipv4.ip_forward=1
ip -n r1 addr add 10.30.0.11/24 dev r0; ip -n r1 route add default via 10.30.0.1
ip -n r2 addr add 10.30.0.12/24 dev r0; ip -n r2 route add default via 10.30.0.1
cat > /tmp/udpd.py <<'PY'
import select, socket, sys
name = sys.argv[1].encode()
socks = []
for p in (53, 60, 61, 63, 64):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", p)); socks.append(s)
while True:
    for s in select.select(socks, [], [])[0]:
        _, peer = s.recvfrom(64); s.sendto(name, peer)
PY
ip netns exec r1 python3 /tmp/udpd.py RS1 & ip netns exec r2 python3 /tmp/udpd.py RS2 &
sleep 1
S() { ip netns exec d ipvsadm "$@"; }
for p in 53 60 61 63 64; do
  case $p in 53) a="-s rr -o";; 60) a="-s sh -b sh-fallback";; 61) a="-s sh";; 63) a="-s mh -b mh-fallback";; 64) a="-s mh";; esac
  S -A -u 10.10.0.100:$p $a
  S -a -u 10.10.0.100:$p -r 10.30.0.11:$p -m -w 1
  S -a -u 10.10.0.100:$p -r 10.30.0.12:$p -m -w 1
done
S -ln
cat > /tmp/cli.py <<'PY'
import socket, subprocess
def ask(src, port, connected=True):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((src, 0)); s.settimeout(2)
    s.connect(("10.10.0.100", port)); s.send(b"who")
    try: return s.recv(64).decode()
    except ConnectionRefusedError: return "REFUSED"
    except socket.timeout: return "TIMEOUT"
clients = ["10.10.0.%d" % i for i in range(160, 176)]
before = {}
for p in (60, 61, 63, 64):
    for c in clients:
        a, b = ask(c, p), ask(c, p)
        before[(p, c)] = a
        if a != b: print("port", p, c, "unstable", a, b)
    print("port %d before: RS1 <- %s" % (p, " ".join(c.split(".")[3] for c in clients if before[(p, c)] == "RS1")))
for p in (60, 61, 63, 64):
    subprocess.run(["ip", "netns", "exec", "d", "ipvsadm", "-e", "-u", "10.10.0.100:%d" % p, "-r", "10.30.0.11:%d" % p, "-m", "-w", "0"], check=True)
for p in (60, 61, 63, 64):
    out = {}
    for c in clients:
        out.setdefault((before[(p, c)], ask(c, p)), []).append(c.split(".")[3])
    print("port %d after RS1 weight 0: %s" % (p, "; ".join("%s->%s: %s" % (k[0], k[1], " ".join(v)) for k, v in sorted(out.items()))))
# OPS: one unconnected socket, six datagrams; print each reply's source and text.
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("10.10.0.2", 40053)); s.settimeout(2)
got = []
for i in range(6):
    s.sendto(b"who", ("10.10.0.100", 53))
    try:
        d, peer = s.recvfrom(64); got.append("%s from %s" % (d.decode(), peer[0]))
    except socket.timeout: got.append("TIMEOUT")
print("ops:", "; ".join(got))
PY
ip netns exec c python3 /tmp/cli.py
section "listings after"
S -ln --stats
S -lnc | grep -c ":53 " ; S -lnc | head -5
section "listing 3 s later (the 6.1 estimator copies the per-CPU counters every 2 s)"
sleep 3
S -ln --stats | head -6
