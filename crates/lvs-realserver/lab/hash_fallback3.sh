#!/bin/bash
# Kernel reference (ipvs-ref lab, Linux 6.1) for the three-server case of
# bin/lvsd/tests/e2e_hashfallback.rs: where sh-fallback and mh-fallback send the
# clients of a real server edited to weight 0, and that the others stay. NAT
# director, real servers 10.30.0.11-13 (the e2e's addresses and ports), UDP.
# Run: /work/shared/lab/ipvs-ref/run.sh crates/lvs-realserver/lab/hash_fallback3.sh
. /lab/scenarios/lib.sh
modprobe ip_vs; modprobe ip_vs_sh; modprobe ip_vs_mh
mkns c; mkns d; mkns sw; mkns r1; mkns r2; mkns r3
vlink c c0 d d0
mkbridge sw br0
vlink d d1 sw p0; vlink r1 r0 sw p1; vlink r2 r0 sw p2; vlink r3 r0 sw p3
for p in p0 p1 p2 p3; do brport sw br0 $p; done
ip -n c addr add 10.10.0.2/24 dev c0
for i in $(seq 160 175); do ip -n c addr add 10.10.0.$i/32 dev c0; done
ip -n d addr add 10.10.0.100/24 dev d0
ip -n d addr add 10.30.0.1/24 dev d1
ip netns exec d sysctl -qw net.ipv4.ip_forward=1
for i in 1 2 3; do
  ip -n r$i addr add 10.30.0.1$i/24 dev r0; ip -n r$i route add default via 10.30.0.1
done
cat > /tmp/udpd.py <<'PY'
import select, socket, sys
name = sys.argv[1].encode()
socks = []
for p in (70, 71, 73, 74):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", p)); socks.append(s)
while True:
    for s in select.select(socks, [], [])[0]:
        _, peer = s.recvfrom(64); s.sendto(name, peer)
PY
for i in 1 2 3; do ip netns exec r$i python3 /tmp/udpd.py RS$i & done
sleep 1
S() { ip netns exec d ipvsadm "$@"; }
for p in 70 71 73 74; do
  case $p in 70) a="-s sh -b sh-fallback";; 71) a="-s sh";; 73) a="-s mh -b mh-fallback";; 74) a="-s mh";; esac
  S -A -u 10.10.0.100:$p $a
  for i in 1 2 3; do S -a -u 10.10.0.100:$p -r 10.30.0.1$i:$p -m -w 1; done
done
S -ln
cat > /tmp/cli.py <<'PY'
import socket, subprocess
def ask(src, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((src, 0)); s.settimeout(2)
    s.connect(("10.10.0.100", port)); s.send(b"who")
    try: return s.recv(64).decode()
    except ConnectionRefusedError: return "REFUSED"
    except socket.timeout: return "TIMEOUT"
clients = ["10.10.0.%d" % i for i in range(160, 176)]
def line(p):
    return " ".join("%s=%s" % (c.split(".")[3], ask(c, p)) for c in clients)
for p in (70, 71, 73, 74):
    print("port %d before: %s" % (p, line(p)))
for p in (70, 71, 73, 74):
    subprocess.run(["ip", "netns", "exec", "d", "ipvsadm", "-e", "-u", "10.10.0.100:%d" % p, "-r", "10.30.0.11:%d" % p, "-m", "-w", "0"], check=True)
for p in (70, 71, 73, 74):
    print("port %d after: %s" % (p, line(p)))
PY
ip netns exec c python3 /tmp/cli.py
