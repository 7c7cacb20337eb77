# Lab (shared/lab/ipvs-ref, Linux 6.1): fwmark 10 (set by tc skbedit at ingress, standing in for
# the mangle rule: the VM has no iptables) covering TCP 80 and 443, -A -f 10 -s rr -p, NAT to two
# servers; two clients. Output: fwmark_persist.out. Used by e2e_fwmark.rs.
. /lab/scenarios/lib.sh
modprobe ip_vs
mkns c; mkns d; mkns r1; mkns r2
vlink c c0 d d0
ip netns exec d ip link add br0 type bridge
ip netns exec d ip link set br0 up
vlink d p1 r1 r0
vlink d p2 r2 r0
ip netns exec d ip link set p1 master br0
ip netns exec d ip link set p2 master br0
ip -n c addr add 172.16.10.22/24 dev c0
ip -n c addr add 172.16.10.30/32 dev c0
ip -n d addr add 172.16.10.21/24 dev d0
ip -n d addr add 192.168.100.17/24 dev br0
ip -n r1 addr add 192.168.100.39/24 dev r0
ip -n r2 addr add 192.168.100.23/24 dev r0
ip -n r1 route add default via 192.168.100.17
ip -n r2 route add default via 192.168.100.17
ip netns exec d sysctl -qw net.ipv4.ip_forward=1
ip netns exec d tc qdisc add dev d0 clsact
for p in 80 443; do
ip netns exec d tc filter add dev d0 ingress protocol ip flower ip_proto tcp dst_ip 172.16.10.21 dst_port $p action skbedit mark 10
done
cat > /tmp/srv.py <<'PY'
import socket, socketserver, threading, sys
name, addr = sys.argv[1], sys.argv[2]
class H(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            self.wfile.write(name.encode() + b"\n")
class S(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
for port in (80, 443):
    s = S((addr, port), H)
    threading.Thread(target=s.serve_forever, daemon=True).start()
threading.Event().wait()
PY
ip netns exec r1 python3 /tmp/srv.py RS1 192.168.100.39 &
ip netns exec r2 python3 /tmp/srv.py RS2 192.168.100.23 &
sleep 2
D="ip netns exec d ipvsadm"
$D -A -f 10 -s rr -p
$D -a -f 10 -r 192.168.100.39 -m
$D -a -f 10 -r 192.168.100.23 -m
cat > /tmp/probe.py <<'PY'
import socket, subprocess
def ipvs(*a):
    print("$ ipvsadm", " ".join(a))
    print(subprocess.run(["ip", "netns", "exec", "d", "ipvsadm", *a], capture_output=True, text=True).stdout, flush=True)
held = []
for src, port in (("172.16.10.22", 80), ("172.16.10.22", 443), ("172.16.10.30", 80), ("172.16.10.30", 443)):
    try:
        s = socket.socket(); s.settimeout(3); s.bind((src, 0)); s.connect(("172.16.10.21", port))
        s.sendall(b"who\n"); print(src, port, s.recv(100), flush=True); held.append(s)
    except Exception as e:
        print(src, port, "error", repr(e), flush=True)
ipvs("-ln"); ipvs("-lnc"); ipvs("-ln", "--stats")
PY
ip netns exec c python3 /tmp/probe.py
