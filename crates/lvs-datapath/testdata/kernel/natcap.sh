# natcap.sh: what Linux 6.1 IPVS does to NAT and DR packets, captured on
# both sides of the director, for lvs-datapath's kernel replay tests.
# Run: /work/shared/lab/ipvs-ref/run.sh natcap.sh ; copy /out/*.pcap here.
. /lab/scenarios/lib.sh
modprobe ip_vs; modprobe ip_vs_rr
mkns c; mkns d; mkns rs
vlink c c0 d d0 02:00:00:00:0c:00
vlink d d1 rs r0 02:00:00:00:0d:01
ip -n d link set d0 address 02:00:00:00:0d:00
ip -n rs link set r0 address 02:00:00:00:0e:00
ip -n c addr add 10.0.1.2/24 dev c0; ip -n c addr add fd01::2/64 dev c0 nodad
ip -n d addr add 10.0.1.1/24 dev d0; ip -n d addr add fd01::1/64 dev d0 nodad
ip -n d addr add 10.0.2.1/24 dev d1; ip -n d addr add fd02::1/64 dev d1 nodad
ip -n rs addr add 10.0.2.2/24 dev r0; ip -n rs addr add fd02::2/64 dev r0 nodad
for a in 10.0.0.100 10.0.0.102 10.0.0.103; do ip -n d addr add $a/32 dev lo; done
ip -n d addr add fd00::100/128 dev lo
ip -n c route add default via 10.0.1.1; ip -n c -6 route add default via fd01::1
ip -n rs route add default via 10.0.2.1; ip -n rs -6 route add default via fd02::1
ip netns exec d sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
ip netns exec d sysctl -qw net.ipv4.vs.conntrack=0
# NAT TCP and UDP, v4 and v6; DR; a service without destinations.
ip netns exec d ipvsadm -A -t 10.0.0.100:80 -s rr
ip netns exec d ipvsadm -a -t 10.0.0.100:80 -r 10.0.2.2:8080 -m
ip netns exec d ipvsadm -A -u 10.0.0.100:53 -s rr
ip netns exec d ipvsadm -a -u 10.0.0.100:53 -r 10.0.2.2:5353 -m
ip netns exec d ipvsadm -A -t [fd00::100]:80 -s rr
ip netns exec d ipvsadm -a -t [fd00::100]:80 -r [fd02::2]:8080 -m
ip netns exec d ipvsadm -A -t 10.0.0.102:80 -s rr
ip netns exec d ipvsadm -a -t 10.0.0.102:80 -r 10.0.2.2:80 -g
ip netns exec d ipvsadm -A -t 10.0.0.103:80 -s rr
ip netns exec d ipvsadm -Ln
for ns_if in "c c0" "d d0" "d d1" "rs r0"; do set -- $ns_if; ip netns exec $1 ethtool -K $2 tx off >/dev/null 2>&1; done
ip netns exec rs python3 - <<'PY' &
import socket, threading
def tcp(fam, addr):
    s = socket.socket(fam, socket.SOCK_STREAM); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, 8080)); s.listen(8)
    while True:
        c, _ = s.accept(); c.recv(100); c.sendall(b"from RS"); c.close()
threading.Thread(target=tcp, args=(socket.AF_INET, "0.0.0.0"), daemon=True).start()
threading.Thread(target=tcp, args=(socket.AF_INET6, "::"), daemon=True).start()
import time; time.sleep(60)
PY
RSPID=$!
sleep 2
ip netns exec rs tcpdump -i r0 -U -s 0 -w /out/rs.pcap 2>/tmp/tdr.log &
TR=$!
ip netns exec c tcpdump -i c0 -U -s 0 -w /out/c.pcap 2>/tmp/tdc.log &
TC=$!
sleep 3
ip netns exec c python3 - <<'PY'
import socket, time
def http(fam, dst, sport):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0" if fam == socket.AF_INET else "::", sport)); s.settimeout(3)
    try:
        s.connect((dst, 80)); s.sendall(b"GET /"); print("got", s.recv(100), flush=True)
    except OSError as e: print("tcp", dst, e, flush=True)
    s.close(); time.sleep(0.5)
http(socket.AF_INET, "10.0.0.100", 46001)           # NAT v4
http(socket.AF_INET6, "fd00::100", 46002)           # NAT v6
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("0.0.0.0", 46003))
u.sendto(b"query", ("10.0.0.100", 53)); time.sleep(1)  # NAT UDP -> RS port unreachable
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM); s.bind(("0.0.0.0", 46004)); s.setblocking(False)
try: s.connect(("10.0.0.102", 80))                  # DR SYN (RS has no VIP: ignored)
except BlockingIOError: pass
time.sleep(1); s.close()
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM); s.bind(("0.0.0.0", 46005)); s.settimeout(2)
try: s.connect(("10.0.0.103", 80))                  # no destination
except OSError as e: print("nodest", e, flush=True)
s.close()
PY
sleep 1
kill -INT $TR $TC; wait $TR $TC
kill $RSPID 2>/dev/null
ip netns exec d ipvsadm -Lnc
ip netns del c; ip netns del d; ip netns del rs
ls -l /out
