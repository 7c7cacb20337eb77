# decap_bulk.sh (run as: run_decap_lab.sh decap_bulk.sh): bulk TCP uploads through the kernel
# IPVS TUN director (ipip 4in4, gre csum 4in4, ipip 4in6, gue 6in6) into a real server that
# decapsulates with lvs_decap, with GRO off and on on the real server's veth (GRO merges the
# tunnelled segments before tc ingress sees them). The server answers with the byte count and
# SHA-256 of what it received.
. /lab/scenarios/lib.sh
modprobe ip_vs; modprobe ip_vs_rr
for m in ipip ip_gre ip6_tunnel ip6_gre fou sit; do rmmod $m 2>/dev/null; done
mkns c; mkns d; mkns g; mkns rs
vlink c c0 d d0; vlink c c1 g g0; vlink d d1 rs r0; vlink g g1 rs r1
ip -n c addr add 10.0.1.2/24 dev c0; ip -n c addr add fd01::2/64 dev c0 nodad
ip -n d addr add 10.0.1.1/24 dev d0; ip -n d addr add fd01::1/64 dev d0 nodad
ip -n d addr add 10.0.2.1/24 dev d1; ip -n d addr add fd02::1/64 dev d1 nodad
ip -n rs addr add 10.0.2.2/24 dev r0; ip -n rs addr add fd02::2/64 dev r0 nodad
ip -n c addr add 10.0.4.2/24 dev c1; ip -n c addr add fd04::2/64 dev c1 nodad
ip -n g addr add 10.0.4.254/24 dev g0; ip -n g addr add fd04::254/64 dev g0 nodad
ip -n g addr add 10.0.3.254/24 dev g1; ip -n g addr add fd03::254/64 dev g1 nodad
ip -n rs addr add 10.0.3.2/24 dev r1; ip -n rs addr add fd03::2/64 dev r1 nodad
for v in 10.0.0.100/32 10.0.0.101/32 fd00::100/128; do ip -n d addr add $v dev lo; ip -n rs addr add $v dev lo; done
ip -n c route add 10.0.0.0/24 via 10.0.1.1; ip -n c -6 route add fd00::/64 via fd01::1
ip -n g route add 10.0.1.0/24 via 10.0.4.2; ip -n g -6 route add fd01::/64 via fd04::2
ip -n rs route add default via 10.0.3.254; ip -n rs -6 route add default via fd03::254
for n in c d g rs; do ip netns exec $n sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0; done
for i in c0 c1; do ip netns exec c sysctl -qw net.ipv4.conf.$i.rp_filter=0; done
ip netns exec rs sysctl -qw net.ipv4.conf.r0.rp_filter=2 net.ipv4.conf.r1.rp_filter=0
for n in d g; do ip netns exec $n sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1; done
# The tunnel costs 20-52 bytes: the client's MSS must leave room (PMTU is not the subject).
ip -n c link set c0 mtu 1400
ip netns exec d ipvsadm -A -t 10.0.0.100:80 -s rr
ip netns exec d ipvsadm -a -t 10.0.0.100:80 -r 10.0.2.2:80 -i
ip netns exec d ipvsadm -A -t 10.0.0.101:80 -s rr
ip netns exec d ipvsadm -a -t 10.0.0.101:80 -r [fd02::2]:80 -i
ip netns exec d ipvsadm -A -t [fd00::100]:80 -s rr
ip netns exec d ipvsadm -a -t [fd00::100]:80 -r [fd02::2]:80 -i --tun-type gue --tun-port 6080 --tun-csum
ip -n rs link set r0 up
ip netns exec rs tc qdisc add dev r0 clsact
ip netns exec rs tc filter add dev r0 ingress bpf da obj /tmp/decap.o sec classifier
cat > /tmp/srv.py <<'PY'
import socket, threading, hashlib
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", 80)); s.listen(64)
def serve(c, a):
    h = hashlib.sha256(); n = 0
    try:
        while True:
            b = c.recv(65536)
            if not b: break
            h.update(b); n += len(b)
        c.sendall(f"{n} {h.hexdigest()[:16]}".encode())
    finally:
        c.close()
while True:
    c, a = s.accept(); threading.Thread(target=serve, args=(c, a)).start()
PY
ip netns exec rs python3 /tmp/srv.py &
sleep 2
cat > /tmp/cli.py <<'PY'
import socket, hashlib, os, sys
vip = sys.argv[1]
data = os.urandom(4 * 1024 * 1024)
fam = socket.AF_INET6 if ":" in vip else socket.AF_INET
s = socket.socket(fam); s.settimeout(30)
try:
    s.connect((vip, 80)); s.sendall(data); s.shutdown(socket.SHUT_WR)
    got = s.recv(200).decode()
    want = f"{len(data)} {hashlib.sha256(data).hexdigest()[:16]}"
    print("ok" if got == want else f"MISMATCH got {got!r} want {want!r}")
except Exception as e:
    print(f"failed: {e}")
PY
for gro in off on; do
    ip netns exec rs ethtool -K r0 gro $gro 2>&1 | grep -v "^$"
    echo "== r0 gro $gro: $(ip netns exec rs ethtool -k r0 | grep '^generic-receive-offload')"
    for t in "ipip 4in4:10.0.0.100:10.0.2.2:80:--tun-type ipip" \
             "gre csum 4in4:10.0.0.100:10.0.2.2:80:--tun-type gre --tun-csum" \
             "ipip 4in6:10.0.0.101:[fd02::2]:80:--tun-type ipip" \
             "gue csum 6in6:fd00::100::"; do
        name=${t%%:*}; rest=${t#*:}
        case "$name" in
            "gre csum 4in4") ip netns exec d ipvsadm -e -t 10.0.0.100:80 -r 10.0.2.2:80 -i --tun-type gre --tun-csum ;;
            "ipip 4in4") ip netns exec d ipvsadm -e -t 10.0.0.100:80 -r 10.0.2.2:80 -i --tun-type ipip ;;
        esac
        vip=$(echo "$rest" | cut -d: -f1); case "$name" in *6in6) vip=fd00::100 ;; esac
        echo "$name 4 MiB upload: $(ip netns exec c python3 /tmp/cli.py $vip)"
    done
done
ip netns exec rs ip -s link show r0 | head -6
