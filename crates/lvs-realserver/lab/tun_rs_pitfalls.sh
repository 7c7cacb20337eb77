# tun_rs_pitfalls.sh: real-kernel check of the TUN real-server rules lvs-realserver diagnoses.
# Run: /work/shared/lab/ipvs-ref/run.sh crates/lvs-realserver/lab/tun_rs_pitfalls.sh
#
#   client c --c0/d0-- director d (VIP 10.0.0.100 on lo, ipvsadm -i) --d1/r0-- real server rs
#   client c --c1/g0-- router g --g1/r1-- real server rs (rs default route: via g)
#
# The real server uses the kernel's tunl0 (ipip module). Each step is one HTTP request from
# the client to the VIP through IPVS TUN; "ok" means the answer came back.
. /lab/scenarios/lib.sh
modprobe ip_vs; modprobe ip_vs_rr; modprobe ipip
mkns c; mkns d; mkns g; mkns rs
vlink c c0 d d0; vlink c c1 g g0; vlink d d1 rs r0; vlink g g1 rs r1
ip -n c addr add 10.0.1.2/24 dev c0; ip -n d addr add 10.0.1.1/24 dev d0
ip -n c addr add 10.0.4.2/24 dev c1; ip -n g addr add 10.0.4.254/24 dev g0
ip -n d addr add 10.0.2.1/24 dev d1; ip -n rs addr add 10.0.2.2/24 dev r0
ip -n g addr add 10.0.3.254/24 dev g1; ip -n rs addr add 10.0.3.2/24 dev r1
ip -n d addr add 10.0.0.100/32 dev lo
ip -n c route add 10.0.0.100/32 via 10.0.1.1
ip -n g route add 10.0.1.0/24 via 10.0.4.2
ip -n rs route add default via 10.0.3.254
for n in c d g rs; do ip netns exec $n sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0; done
for i in c0 c1; do ip netns exec c sysctl -qw net.ipv4.conf.$i.rp_filter=0; done
ip netns exec g sysctl -qw net.ipv4.ip_forward=1
ip netns exec d sysctl -qw net.ipv4.ip_forward=1
ip netns exec d ipvsadm -A -t 10.0.0.100:80 -s rr
ip netns exec d ipvsadm -a -t 10.0.0.100:80 -r 10.0.2.2:80 -i
# The real server: tunl0 up with the VIP, as the seeds do it.
ip -n rs link set tunl0 up
ip -n rs addr add 10.0.0.100/32 dev tunl0
ip netns exec rs sysctl -qw net.ipv4.conf.tunl0.rp_filter=0 net.ipv4.conf.r0.rp_filter=0 net.ipv4.conf.r1.rp_filter=0
httpd rs 10.0.0.100 "from RS"
cat > /tmp/steps.py <<'PY'
import socket, subprocess, sys
def sysctl(ns, kv):
    subprocess.run(["ip","netns","exec",ns,"sysctl","-qw",kv], check=True)
def ip(ns, *a):
    subprocess.run(["ip","-n",ns]+list(a), check=True)
def get(label):
    r = subprocess.run(["ip","netns","exec","c","python3","-c",
        "import socket;s=socket.create_connection(('10.0.0.100',80),timeout=2);"
        "s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n');print(s.recv(200).split(b'\\r\\n\\r\\n')[-1].decode().strip())"],
        capture_output=True, text=True)
    print(f"{label}: {'ok ' + r.stdout.strip() if r.returncode == 0 else 'no answer'}", flush=True)
get("baseline rp_filter 0 everywhere")
sysctl("rs", "net.ipv4.conf.tunl0.rp_filter=1"); get("tunl0 rp_filter=1 (strict), all=0")
sysctl("rs", "net.ipv4.conf.tunl0.rp_filter=2"); get("tunl0 rp_filter=2 (loose), all=0")
sysctl("rs", "net.ipv4.conf.tunl0.rp_filter=0"); sysctl("rs", "net.ipv4.conf.all.rp_filter=1"); get("tunl0 rp_filter=0, all=1 (max -> strict)")
sysctl("rs", "net.ipv4.conf.all.rp_filter=2"); get("tunl0 rp_filter=0, all=2 (max -> loose)")
sysctl("rs", "net.ipv4.conf.all.rp_filter=0")
ip("rs", "route", "replace", "default", "via", "10.0.2.1"); get("rs default gateway = director DIP")
ip("rs", "route", "replace", "default", "via", "10.0.3.254"); get("rs default gateway = router again")
ip("rs", "link", "set", "tunl0", "down"); get("tunl0 down (no decapsulation)")
PY
python3 /tmp/steps.py
ip netns exec d ipvsadm -Ln --stats
