# kernel-capture2.sh - more IPVS sync datagrams from the real kernel (Linux 6.1):
# IPv6, direct routing, fwmark persistence, the SIP persistence engine (PE_DATA /
# PE_NAME options, padding) and NAT FTP sequence adjustments (SEQ_DATA option,
# version 1 and version 0), plus the sync_maxlen clamping.
#
# Run with the reference lab:  /work/shared/lab/ipvs-ref/run.sh kernel-capture2.sh
#
# What the recorded run (kernel-capture2.out.txt) showed:
# - IPv6 entries are 72 bytes; with conntrack=1 the NFCT flag (bit 16) is sent;
# - a fwmark template is protocol 0, vaddr 0.0.0.<fwmark>, ports 0, fwmark set;
# - a SIP template carries PE_DATA (the Call-ID) then PE_NAME "sip": size 55, so one
#   padding byte precedes the next entry;
# - the FTP PASV rewrite did not set IN_SEQ/OUT_SEQ (6.1 adjusts sequence numbers
#   through conntrack), so no SEQ_DATA option was captured;
# - the DR connections failed in this topology (SYN_RECV only, never synced);
# - ipvsadm itself refuses --sync-maxlen 70000 ("illegal sync-maxlen specified"), so
#   the master was left stopped; a backup given 100 runs with 1024.
. /lab/scenarios/lib.sh

cleanup() {
    for ns in cl dir rs1 bk; do ip netns del "$ns" 2>/dev/null; done
}
trap cleanup EXIT

modprobe ip_vs
modprobe ip_vs_rr
modprobe ip_vs_ftp
modprobe ip_vs_pe_sip

mkns cl; mkns dir; mkns rs1; mkns bk
vlink cl c0 dir d0
vlink dir d1 rs1 r0
vlink dir d9 bk s0

ip -n cl addr add 10.0.1.2/24 dev c0
ip -n cl addr add fd00:1::2/64 dev c0 nodad
ip -n cl route add default via 10.0.1.1
ip -n cl -6 route add default via fd00:1::1
ip -n dir addr add 10.0.1.1/24 dev d0
ip -n dir addr add 10.0.1.100/32 dev d0
ip -n dir addr add 10.0.1.101/32 dev d0
ip -n dir addr add 10.0.1.102/32 dev d0
ip -n dir addr add fd00:1::1/64 dev d0 nodad
ip -n dir addr add fd00:1::100/128 dev d0 nodad
ip -n dir addr add 10.0.2.1/24 dev d1
ip -n dir addr add fd00:2::1/64 dev d1 nodad
ip -n dir addr add 10.0.9.1/24 dev d9
ip -n rs1 addr add 10.0.2.2/24 dev r0
ip -n rs1 addr add fd00:2::2/64 dev r0 nodad
ip -n rs1 addr add 10.0.1.102/32 dev lo
ip -n rs1 route add default via 10.0.2.1
ip -n rs1 -6 route add default via fd00:2::1
ip -n bk addr add 10.0.9.2/24 dev s0
ip netns exec dir sysctl -qw net.ipv4.ip_forward=1
ip netns exec dir sysctl -qw net.ipv6.conf.all.forwarding=1
ip netns exec dir sysctl -qw net.ipv4.vs.conntrack=1
ip netns exec dir iptables -A FORWARD -m conntrack --ctstate NEW,ESTABLISHED,RELATED -j ACCEPT

rsd rs1 0.0.0.0 RS1 80
rsd rs1 fd00:2::2 RS1v6 80

# A fake FTP server on rs1:21: greets, answers PASV with its own address (the
# director's ip_vs_ftp rewrites it to the VIP, which changes the length and so
# sets a sequence delta), then closes on QUIT.
ip netns exec rs1 python3 -c '
import socket, threading
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("0.0.0.0", 21)); ls.listen(8)
def h(c):
    c.sendall(b"220 fake ftp\r\n"); f = c.makefile("rb")
    for line in f:
        if line.startswith(b"PASV"): c.sendall(b"227 Entering Passive Mode (10,0,2,2,200,10).\r\n")
        elif line.startswith(b"QUIT"): c.sendall(b"221 bye\r\n"); break
        else: c.sendall(b"200 ok\r\n")
    c.close()
while True:
    c, a = ls.accept(); threading.Thread(target=h, args=(c,), daemon=True).start()
' >/dev/null 2>&1 &
sleep 1

svc() {  # svc NS : the same services on master and backup
    local ns=$1
    ip netns exec "$ns" ipvsadm -A -t [fd00:1::100]:80 -s rr
    ip netns exec "$ns" ipvsadm -a -t [fd00:1::100]:80 -r [fd00:2::2]:80 -m
    ip netns exec "$ns" ipvsadm -A -t 10.0.1.102:80 -s rr
    ip netns exec "$ns" ipvsadm -a -t 10.0.1.102:80 -r 10.0.2.2:80 -g
    ip netns exec "$ns" ipvsadm -A -f 6 -s rr -p 30
    ip netns exec "$ns" ipvsadm -a -f 6 -r 10.0.2.2:80 -m
    ip netns exec "$ns" ipvsadm -A -u 10.0.1.100:5060 -s rr -p 60 --pe sip
    ip netns exec "$ns" ipvsadm -a -u 10.0.1.100:5060 -r 10.0.2.2:5060 -m
    ip netns exec "$ns" ipvsadm -A -t 10.0.1.100:21 -s rr
    ip netns exec "$ns" ipvsadm -a -t 10.0.1.100:21 -r 10.0.2.2:21 -m
}
svc dir
svc bk
ip netns exec dir iptables -t mangle -A PREROUTING -d 10.0.1.101 -p tcp --dport 80 -j MARK --set-mark 6

sip() {  # sip SRCPORT CALLID N : N SIP OPTIONS datagrams with one Call-ID
    ip netns exec cl python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.0.1.2", int(sys.argv[1])))
m = ("OPTIONS sip:rs@10.0.1.100 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.1.2:%s\r\n"
     "From: <sip:c@10.0.1.2>;tag=1\r\nTo: <sip:rs@10.0.1.100>\r\nCall-ID: %s\r\n"
     "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n" % (sys.argv[1], sys.argv[2])).encode()
for i in range(int(sys.argv[3])):
    s.sendto(m, ("10.0.1.100", 5060)); time.sleep(0.05)
' "$1" "$2" "$3"
}

ftp() {  # ftp SRCPORT : control connection with USER, PASV, QUIT (no data connection)
    ip netns exec cl python3 -c '
import socket, sys
s = socket.socket(); s.bind(("10.0.1.2", int(sys.argv[1]))); s.connect(("10.0.1.100", 21))
f = s.makefile("rb"); print(f.readline().decode().strip())
for cmd in (b"USER anonymous\r\n", b"PASV\r\n", b"NOOP\r\n", b"QUIT\r\n"):
    s.sendall(cmd); print(cmd.decode().strip(), "->", f.readline().decode().strip())
s.close()
' "$1"
}

DRV=/lab/scenarios/conndrv.py
ip netns exec bk ipvsadm --start-daemon backup --mcast-interface s0 --syncid 9
ip netns exec dir ipvsadm --start-daemon master --mcast-interface d9 --syncid 9
sleep 1

section "phase v1"
ip netns exec bk tcpdump -U -n -i s0 -w /out/sync2-v1.pcap udp port 8848 2>/dev/null &
TD=$!; sleep 2
ip netns exec cl python3 $DRV --director dir --label v1-ipv6 --base-port 51000 fd00:1::100 c:1
ip netns exec cl python3 $DRV --director dir --label v1-dr --base-port 52000 10.0.1.102 c:1
ip netns exec cl python3 $DRV --director dir --label v1-fwm-persist --base-port 53000 10.0.1.101 c:1
sip 54000 lvsrs-call-1 3
ftp 55000
sleep 4
kill $TD; wait $TD 2>/dev/null

section "phase v0"
ip netns exec dir sysctl -qw net.ipv4.vs.sync_version=0
ip netns exec bk tcpdump -U -n -i s0 -w /out/sync2-v0.pcap udp port 8848 2>/dev/null &
TD=$!; sleep 2
ftp 56000
ip netns exec cl python3 $DRV --director dir --label v0-dr --base-port 57000 10.0.1.102 c:1
ip netns exec cl python3 $DRV --director dir --label v0-ipv6-not-synced --base-port 58000 fd00:1::100 c:1
sleep 4
kill $TD; wait $TD 2>/dev/null

section "maxlen clamping"
ip netns exec dir ipvsadm --stop-daemon master
ip netns exec dir ipvsadm --start-daemon master --mcast-interface d9 --syncid 9 --sync-maxlen 70000
ip netns exec bk ipvsadm --stop-daemon backup
ip netns exec bk ipvsadm --start-daemon backup --mcast-interface s0 --syncid 9 --sync-maxlen 100
show ip netns exec dir ipvsadm -L --daemon
show ip netns exec bk ipvsadm -L --daemon

section "master connection table"
show ip netns exec dir ipvsadm -lnc
section "backup connection table (built from sync)"
show ip netns exec bk ipvsadm -lnc
show ip netns exec bk cat /proc/net/ip_vs_conn
show ip netns exec bk ipvsadm -ln

for p in v1 v0; do
    section "decoded sync2-$p.pcap"
    python3 /lab/scenarios/syncdecode.py /out/sync2-$p.pcap
done
