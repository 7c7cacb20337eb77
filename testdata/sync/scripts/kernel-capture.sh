# kernel-capture.sh - capture real IPVS connection-sync datagrams (Linux 6.1).
#
# Run with the reference lab:  /work/shared/lab/ipvs-ref/run.sh kernel-capture.sh
# Then extract the payloads:   python3 extract-payloads.py RUN_DIR/sync-*.pcap
#
# Topology (all inside namespaces created here, deleted at the end):
#   cl (client) --- dir (master director, NAT) --- rs1, rs2 (real servers)
#                    |
#                    +--- bk (kernel backup director, tcpdump on the sync link)
#
# Phases (each one tcpdump file):
#   v1      sync_version=1, syncid 7: short and held TCP connections (rr), a persistent
#           service (templates), UDP, a fwmark service, an IPv6 service
#   v0      sync_version=0: the same kinds of traffic in the old format
#   maxlen  sync_version=1 restarted with --sync-maxlen 100 (two entries per message)
# The kernel backup (bk) then lists what it built from the messages.
. /lab/scenarios/lib.sh

cleanup() {
    for ns in cl dir rs1 rs2 bk; do ip netns del "$ns" 2>/dev/null; done
}
trap cleanup EXIT

modprobe ip_vs
modprobe ip_vs_rr

mkns cl; mkns dir; mkns rs1; mkns rs2; mkns bk
vlink cl c0 dir d0
vlink dir d1 rs1 r0
vlink dir d2 rs2 r0
vlink dir d9 bk s0

ip -n cl addr add 10.0.1.2/24 dev c0
ip -n cl addr add fd00:1::2/64 dev c0 nodad
ip -n cl route add default via 10.0.1.1
ip -n cl -6 route add default via fd00:1::1
ip -n dir addr add 10.0.1.1/24 dev d0
ip -n dir addr add 10.0.1.100/32 dev d0
ip -n dir addr add 10.0.1.101/32 dev d0
ip -n dir addr add fd00:1::1/64 dev d0 nodad
ip -n dir addr add fd00:1::100/128 dev d0 nodad
ip -n dir addr add 10.0.2.1/24 dev d1
ip -n dir addr add fd00:2::1/64 dev d1 nodad
ip -n dir addr add 10.0.3.1/24 dev d2
ip -n dir addr add 10.0.9.1/24 dev d9
ip -n rs1 addr add 10.0.2.2/24 dev r0
ip -n rs1 addr add fd00:2::2/64 dev r0 nodad
ip -n rs1 route add default via 10.0.2.1
ip -n rs1 -6 route add default via fd00:2::1
ip -n rs2 addr add 10.0.3.2/24 dev r0
ip -n rs2 route add default via 10.0.3.1
ip -n bk addr add 10.0.9.2/24 dev s0
ip netns exec dir sysctl -qw net.ipv4.ip_forward=1
ip netns exec dir sysctl -qw net.ipv6.conf.all.forwarding=1

rsd rs1 0.0.0.0 RS1 80
# NOTE: this IPv6 server fails to start (port clash with the 0.0.0.0:80 one), so the
# IPv6 connection of phase v1 is refused and not synced; kernel-capture2.sh covers IPv6.
rsd rs1 :: RS1v6 80
rsd rs2 0.0.0.0 RS2 80

svc() {  # svc NS : the same services on master and backup
    local ns=$1
    ip netns exec "$ns" ipvsadm -A -t 10.0.1.100:80 -s rr
    ip netns exec "$ns" ipvsadm -a -t 10.0.1.100:80 -r 10.0.2.2:80 -m
    ip netns exec "$ns" ipvsadm -a -t 10.0.1.100:80 -r 10.0.3.2:80 -m
    ip netns exec "$ns" ipvsadm -A -t 10.0.1.100:8080 -s rr -p 60
    ip netns exec "$ns" ipvsadm -a -t 10.0.1.100:8080 -r 10.0.2.2:80 -m
    ip netns exec "$ns" ipvsadm -A -u 10.0.1.100:53 -s rr
    ip netns exec "$ns" ipvsadm -a -u 10.0.1.100:53 -r 10.0.2.2:53 -m
    ip netns exec "$ns" ipvsadm -A -f 5 -s rr
    ip netns exec "$ns" ipvsadm -a -f 5 -r 10.0.3.2:80 -m
    ip netns exec "$ns" ipvsadm -A -t [fd00:1::100]:80 -s rr
    ip netns exec "$ns" ipvsadm -a -t [fd00:1::100]:80 -r [fd00:2::2]:80 -m
}
svc dir
svc bk
ip netns exec dir iptables -t mangle -A PREROUTING -d 10.0.1.101 -p tcp --dport 80 -j MARK --set-mark 5

# UDP: N datagrams from one source port (the real server does not answer; only
# client-to-server packets count for sync).
udp() {
    ip netns exec cl python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.0.1.2", int(sys.argv[1])))
for i in range(int(sys.argv[2])):
    s.sendto(b"q%d" % i, ("10.0.1.100", 53)); time.sleep(0.05)
' "$1" "$2"
}

DRV=/lab/scenarios/conndrv.py
ip netns exec bk ipvsadm --start-daemon backup --mcast-interface s0 --syncid 7
ip netns exec dir ipvsadm --start-daemon master --mcast-interface d9 --syncid 7
sleep 1

section "phase v1"
ip netns exec bk tcpdump -U -n -i s0 -w /out/sync-v1.pcap udp port 8848 2>/dev/null &
TD=$!; sleep 2
ip netns exec cl python3 $DRV --director dir --label v1-rr --base-port 41000 10.0.1.100 \
    c:2 h:2 sleep:0.5 close:1 sleep:0.5
ip netns exec cl python3 $DRV --director dir --label v1-persist --port 8080 --base-port 42000 \
    10.0.1.100 c:2
udp 43000 4
ip netns exec cl python3 $DRV --director dir --label v1-fwmark --base-port 44000 10.0.1.101 c:1
ip netns exec cl python3 $DRV --director dir --label v1-ipv6 --base-port 45000 fd00:1::100 c:1
sleep 4
kill $TD; wait $TD 2>/dev/null

section "phase v0"
ip netns exec dir sysctl -qw net.ipv4.vs.sync_version=0
ip netns exec bk tcpdump -U -n -i s0 -w /out/sync-v0.pcap udp port 8848 2>/dev/null &
TD=$!; sleep 2
ip netns exec cl python3 $DRV --director dir --label v0-rr --base-port 46000 10.0.1.100 c:2
ip netns exec cl python3 $DRV --director dir --label v0-persist --port 8080 --base-port 47000 \
    10.0.1.100 c:1
udp 48000 4
sleep 4
kill $TD; wait $TD 2>/dev/null

section "phase maxlen"
ip netns exec dir sysctl -qw net.ipv4.vs.sync_version=1
ip netns exec dir ipvsadm --stop-daemon master
ip netns exec dir ipvsadm --start-daemon master --mcast-interface d9 --syncid 7 --sync-maxlen 100
ip netns exec bk tcpdump -U -n -i s0 -w /out/sync-maxlen.pcap udp port 8848 2>/dev/null &
TD=$!; sleep 2
ip netns exec cl python3 $DRV --director dir --label maxlen-rr --base-port 49000 10.0.1.100 c:3
sleep 4
kill $TD; wait $TD 2>/dev/null

section "daemons"
show ip netns exec dir ipvsadm -L --daemon
show ip netns exec bk ipvsadm -L --daemon
section "master connection table"
show ip netns exec dir ipvsadm -lnc
section "backup connection table (built from sync)"
show ip netns exec bk ipvsadm -lnc
show ip netns exec bk cat /proc/net/ip_vs_conn
show ip netns exec bk ipvsadm -ln

for p in v1 v0 maxlen; do
    section "decoded sync-$p.pcap"
    python3 /lab/scenarios/syncdecode.py /out/sync-$p.pcap
done
