# Lab (shared/lab/ipvs-ref, Linux 6.1): a persistence template's state after an established
# connection (ASSURED), and SYN_RECV counted as ActiveConn. Output: ops_template_synrecv.out.
. /lab/scenarios/lib.sh
modprobe ip_vs
mkns c; mkns d; mkns r1
vlink c c0 d d0
vlink d d1 r1 r0
ip -n c addr add 172.16.10.22/24 dev c0
ip -n c addr add 172.16.10.23/32 dev c0
ip -n d addr add 172.16.10.21/24 dev d0
ip -n d addr add 192.168.100.17/24 dev d1
ip -n r1 addr add 192.168.100.39/24 dev r0
ip -n r1 route add default via 192.168.100.17
ip netns exec d sysctl -qw net.ipv4.ip_forward=1
rsd r1 192.168.100.39 RS1 80
D="ip netns exec d ipvsadm"
$D -A -t 172.16.10.21:80 -s rr -p 60 -M 255.255.255.0
$D -a -t 172.16.10.21:80 -r 192.168.100.39 -m
# a service whose real server does not exist: the SYN stays unanswered
$D -A -t 172.16.10.21:81 -s rr
$D -a -t 172.16.10.21:81 -r 192.168.100.99 -m
cat > /tmp/p.py <<'PY'
import socket, subprocess
def ipvs(*a):
    print("$ ipvsadm", " ".join(a))
    print(subprocess.run(["ip", "netns", "exec", "d", "ipvsadm", *a], capture_output=True, text=True).stdout, flush=True)
s = socket.socket(); s.bind(("172.16.10.23", 0)); s.settimeout(3)
s.connect(("172.16.10.21", 80)); s.sendall(b"x\n"); print(s.recv(100)); s.close()
t = socket.socket(); t.settimeout(1.5)
try:
    t.connect(("172.16.10.21", 81))
except Exception as e:
    print("81:", repr(e))
ipvs("-lnc"); ipvs("-ln"); ipvs("-ln", "--persistent-conn")
PY
ip netns exec c python3 /tmp/p.py
