# Lab (shared/lab/ipvs-ref, Linux 6.1): UDP NAT counters/listing, and what -D / -d do to
# held NAT connections (expire_nodest_conn=0). Output: ops_nodest.out. Used by e2e_ops.rs.
. /lab/scenarios/lib.sh
modprobe ip_vs
mkns c; mkns d; mkns r1
vlink c c0 d d0
vlink d d1 r1 r0
ip -n c addr add 172.16.10.22/24 dev c0
ip -n d addr add 172.16.10.21/24 dev d0
ip -n d addr add 192.168.100.17/24 dev d1
ip -n r1 addr add 192.168.100.39/24 dev r0
ip -n r1 route add default via 192.168.100.17
ip netns exec d sysctl -qw net.ipv4.ip_forward=1
ip netns exec d sysctl net.ipv4.vs.expire_nodest_conn
cat > /tmp/srv.py <<'PY'
import socket, socketserver, threading
class H(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            self.wfile.write(b"RS1 " + line)
class S(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
for port in (80, 81):
    s = S(("192.168.100.39", port), H)
    threading.Thread(target=s.serve_forever, daemon=True).start()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("192.168.100.39", 53))
while True:
    d, a = u.recvfrom(2000)
    u.sendto(b"RS1", a)
PY
ip netns exec r1 python3 /tmp/srv.py &
sleep 2
D="ip netns exec d ipvsadm"
$D -A -u 172.16.10.21:53 -s rr
$D -a -u 172.16.10.21:53 -r 192.168.100.39 -m
$D -A -t 172.16.10.21:80 -s rr
$D -a -t 172.16.10.21:80 -r 192.168.100.39 -m
$D -A -t 172.16.10.21:81 -s rr
$D -a -t 172.16.10.21:81 -r 192.168.100.39 -m
cat > /tmp/probe.py <<'PY'
import socket, subprocess
def ipvs(*a):
    print("$ ipvsadm", " ".join(a))
    print(subprocess.run(["ip", "netns", "exec", "d", "ipvsadm", *a], capture_output=True, text=True).stdout, flush=True)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(3)
u.sendto(b"who", ("172.16.10.21", 53)); print("udp", u.recvfrom(100), flush=True)
ipvs("-ln", "--stats"); ipvs("-lnc")
def held(port):
    s = socket.create_connection(("172.16.10.21", port), timeout=3)
    s.sendall(b"hello\n"); print(port, s.recv(100), flush=True); return s
a = held(80); b = held(81)
ipvs("-ln"); ipvs("-lnc")
ipvs("-D", "-t", "172.16.10.21:80")
ipvs("-d", "-t", "172.16.10.21:81", "-r", "192.168.100.39:81")
ipvs("-lnc")
for name, s in (("held conn after -D", a), ("held conn after -d", b)):
    s.settimeout(4)
    try:
        s.sendall(b"more\n"); print(name, "recv", s.recv(100), flush=True)
    except Exception as e:
        print(name, "error", repr(e), flush=True)
ipvs("-lnc")
for port in (80, 81):
    try:
        t = socket.create_connection(("172.16.10.21", port), timeout=3); print("new conn", port, "connected")
    except Exception as e:
        print("new conn", port, repr(e), flush=True)
PY
ip netns exec c python3 /tmp/probe.py
