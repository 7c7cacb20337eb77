#!/bin/bash
# sched-hash-picks.sh - ask the real kernel (lab VM, Linux 6.1) which real
# server the hashing schedulers (sh, dh, mh) pick for many distinct clients,
# with weights, a weight-0 server, an edit to weight 0 and the scheduler flags.
#
# Run with /work/shared/lab/ipvs-ref/run.sh; the output is recorded as
# testdata/kernel/sched-hash-picks.out and replayed against lvs-core by
# crates/lvs-core/tests/sched_hash.rs (kernel_picks_*).
#
# Output lines the test reads:
#   CMD <ipvsadm -R line>          every configuration line, in order
#   PICK <vip> <vport> <src> <sport> <server address | failed:...>
# The rest (listings) is for humans.
#
# Topology (all inside the VM): client ns "hc" with many source addresses in
# 10.1.0.0/16 and fd01::/64 -- director ns "hd" (VIPs on lo, NAT) -- bridge
# hbr -- real servers hrK at 192.168.7.1K and fd07::1K (K = 1..5), each
# answering its own address (IPv4 on port 80, IPv6 on port 8080).
set -u
. /lab/scenarios/lib.sh
modprobe ip_vs
for s in sh dh mh; do modprobe ip_vs_$s; done

NS="hc hd hr1 hr2 hr3 hr4 hr5"
cleanup() { for n in $NS; do ip netns del $n 2>/dev/null; done; }
trap cleanup EXIT

mkns hd
mkns hc
vlink hc c0 hd d0
ip -n hd addr add 10.1.255.254/16 dev d0
ip -n hd link add hbr type bridge
ip -n hd link set hbr up
ip -n hd addr add 192.168.7.1/24 dev hbr
ip -n hd addr add fd07::1/64 dev hbr nodad
ip -n hd addr add fd01::ffff/64 dev d0 nodad
ip netns exec hd sysctl -qw net.ipv4.ip_forward=1
ip netns exec hd sysctl -qw net.ipv6.conf.all.forwarding=1
for k in 1 2 3 4 5; do
    mkns hr$k
    vlink hd b$k hr$k e0
    ip -n hd link set b$k master hbr
    ip -n hr$k addr add 192.168.7.1$k/24 dev e0
    ip -n hr$k route add default via 192.168.7.1
    ip -n hr$k addr add fd07::1$k/64 dev e0 nodad
    ip -n hr$k -6 route add default via fd07::1
    httpd hr$k 0.0.0.0 192.168.7.1$k 80
    rsd hr$k :: fd07::1$k 8080
done

# Client source addresses: 160 addresses spread over 10.1.0.0/16, and the
# VIPs: 10.0.0.1-6 (sh/mh variants) and 10.2.0.1-48 (one dh service each).
python3 - > /tmp/srcs <<'PY'
import random
r = random.Random(20240607)
seen = set()
while len(seen) < 160:
    a = "10.1.%d.%d" % (r.randrange(0, 255), r.randrange(1, 254))
    seen.add(a)
for a in sorted(seen, key=lambda s: tuple(map(int, s.split(".")))):
    print(a)
PY
python3 - > /tmp/srcs6 <<'PY'
import random
r = random.Random(20240608)
for _ in range(40):
    w = [r.randrange(0, 1 << 16) for _ in range(4)]
    print("fd01::%x:%x:%x:%x" % tuple(w))
PY
{ while read -r a; do echo "addr add $a/16 dev c0"; done < /tmp/srcs
  while read -r a; do echo "addr add $a/64 dev c0 nodad"; done < /tmp/srcs6
  echo "route add default via 10.1.255.254"
  echo "route add default via fd01::ffff"; } > /tmp/hc.batch
ip -n hc -batch /tmp/hc.batch
{ echo "addr add fd00::1/128 dev lo"
  for i in 1 2 3 4 5 6; do echo "addr add 10.0.0.$i/32 dev lo"; done
  for i in $(seq 1 48); do echo "addr add 10.2.0.$i/32 dev lo"; done; } > /tmp/hd.batch
ip -n hd -batch /tmp/hd.batch

R() { echo "192.168.7.1$1:80"; }
{
    # sh: weights 1 3 2 0 4 (added in this order: the list is 5 4 3 2 1), one
    # variant per flag set.
    for v in "1 -" "2 sh-fallback" "3 sh-port"; do
        set -- $v
        f=""; [ "$2" != - ] && f="-b $2"
        echo "-A -t 10.0.0.$1:80 -s sh $f"
        echo "-a -t 10.0.0.$1:80 -r $(R 1) -m -w 1"
        echo "-a -t 10.0.0.$1:80 -r $(R 2) -m -w 3"
        echo "-a -t 10.0.0.$1:80 -r $(R 3) -m -w 2"
        echo "-a -t 10.0.0.$1:80 -r $(R 4) -m -w 0"
        echo "-a -t 10.0.0.$1:80 -r $(R 5) -m -w 4"
    done
    # mh: weights 5 3 2 1, a server added with weight 0 (no slots), then RS3
    # edited to weight 0 (keeps its slots: last_weight stays 2).
    for v in "4 -" "5 mh-fallback" "6 mh-port"; do
        set -- $v
        f=""; [ "$2" != - ] && f="-b $2"
        echo "-A -t 10.0.0.$1:80 -s mh $f"
        echo "-a -t 10.0.0.$1:80 -r $(R 1) -m -w 5"
        echo "-a -t 10.0.0.$1:80 -r $(R 2) -m -w 3"
        echo "-a -t 10.0.0.$1:80 -r $(R 4) -m -w 0"
        echo "-a -t 10.0.0.$1:80 -r $(R 3) -m -w 2"
        echo "-a -t 10.0.0.$1:80 -r $(R 5) -m -w 1"
        echo "-e -t 10.0.0.$1:80 -r $(R 3) -m -w 0"
    done
    # IPv6: sh and mh, same shapes, sources folded over four words.
    echo "-A -t [fd00::1]:8080 -s sh"
    echo "-A -t [fd00::1]:8081 -s mh"
    for p in 8080 8081; do
        echo "-a -t [fd00::1]:$p -r [fd07::11]:8080 -m -w 1"
        echo "-a -t [fd00::1]:$p -r [fd07::12]:8080 -m -w 3"
        echo "-a -t [fd00::1]:$p -r [fd07::13]:8080 -m -w 2"
        echo "-a -t [fd00::1]:$p -r [fd07::14]:8080 -m -w 0"
        echo "-a -t [fd00::1]:$p -r [fd07::15]:8080 -m -w 4"
    done
    echo "-e -t [fd00::1]:8081 -r [fd07::13]:8080 -m -w 0"
    # dh: one service per VIP (dh keys on the destination address), same
    # servers, weights ignored except that weight 0 refuses.
    for i in $(seq 1 48); do
        echo "-A -t 10.2.0.$i:80 -s dh"
        echo "-a -t 10.2.0.$i:80 -r $(R 1) -m -w 1"
        echo "-a -t 10.2.0.$i:80 -r $(R 2) -m -w 7"
        echo "-a -t 10.2.0.$i:80 -r $(R 3) -m -w 0"
        echo "-a -t 10.2.0.$i:80 -r $(R 4) -m -w 2"
    done
} > /tmp/rules
sed 's/^/CMD /' /tmp/rules
ip netns exec hd ipvsadm -R < /tmp/rules || echo "RESTORE FAILED rc=$?"
# Listings without the 48 dh services.
only_main() { awk '/^(TCP|UDP)/ { show = ($2 !~ /^10\.2\.0\./) } !/^(TCP|UDP|  ->)/ || show'; }
section "listing (without the dh services)"
ip netns exec hd ipvsadm -Ln | only_main

# One client process: every source against each sh/mh VIP, then two sources
# against every dh VIP.
python3 - > /tmp/jobs <<'PY'
srcs = open("/tmp/srcs").read().split()
for v in range(1, 7):
    for a in srcs:
        print("10.0.0.%d 80 %s" % (v, a))
for p in (8080, 8081):
    for a in open("/tmp/srcs6").read().split():
        print("fd00::1 %d %s" % (p, a))
for i in range(1, 49):
    print("10.2.0.%d 80 %s" % (i, srcs[i - 1]))
    print("10.2.0.%d 80 %s" % (i, srcs[i + 49]))
PY
cat > /tmp/hashcli.py <<'PY'
import socket, sys
for line in open(sys.argv[1]):
    vip, port, src = line.split()
    s = socket.socket(socket.AF_INET6 if ":" in vip else socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(5)
    lport = 0
    try:
        s.bind((src, 0))
        lport = s.getsockname()[1]
        s.connect((vip, int(port)))
        s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        data = b""
        while True:
            c = s.recv(4096)
            if not c:
                break
            data += c
        body = data.split(b"\r\n\r\n", 1)[-1].decode(errors="replace").strip()
        if body.startswith("from "):
            body = body[5:]
    except OSError as e:
        body = "failed:%s" % (e.__class__.__name__,)
    finally:
        s.close()
    print("PICK %s %s %s %d %s" % (vip, port, src, lport, body), flush=True)
PY
section "picks"
ip netns exec hc python3 /tmp/hashcli.py /tmp/jobs
section "counters (without the dh services)"
ip netns exec hd ipvsadm -Ln --stats | only_main
