# decap_kernel_director.sh (run through run_decap_lab.sh, which prepends /tmp/decap.o):
# the real kernel's IPVS TUN director (ipip, gue 6080 nocsum/csum, gre nocsum/csum; 4in4,
# 6in6, 4in6, 6in4) sends to a real server that has no tunnel driver loaded and decapsulates
# with lvs_decap attached by tc; each line is one HTTP request from the client to the VIP.
#
#   client c --c0/d0-- director d (VIPs on lo) --d1/r0-- real server rs
#   client c --c1/g0-- router g --g1/r1-- real server rs (replies go this way)
. /lab/scenarios/lib.sh
modprobe ip_vs; modprobe ip_vs_rr
for m in ipip ip_gre ip6_tunnel ip6_gre fou sit; do rmmod $m 2>/dev/null; done
echo "tunnel modules loaded: $(lsmod | grep -cE '^(ipip|ip_gre|fou|ip6_tunnel|sit) ')"
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
for v in 10.0.0.100/32 10.0.0.101/32 fd00::100/128 fd00::101/128; do ip -n d addr add $v dev lo; ip -n rs addr add $v dev lo; done
ip -n c route add 10.0.0.0/24 via 10.0.1.1; ip -n c -6 route add fd00::/64 via fd01::1
ip -n g route add 10.0.1.0/24 via 10.0.4.2; ip -n g -6 route add fd01::/64 via fd04::2
ip -n rs route add default via 10.0.3.254; ip -n rs -6 route add default via fd03::254
for n in c d g rs; do ip netns exec $n sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0; done
for i in c0 c1; do ip netns exec c sysctl -qw net.ipv4.conf.$i.rp_filter=0; done
ip netns exec rs sysctl -qw net.ipv4.conf.r0.rp_filter=2 net.ipv4.conf.r1.rp_filter=0
ip netns exec rs sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
for n in d g; do ip netns exec $n sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1; done
ip netns exec d ipvsadm -A -t 10.0.0.100:80 -s rr
ip netns exec d ipvsadm -a -t 10.0.0.100:80 -r 10.0.2.2:80 -i
ip netns exec d ipvsadm -A -t [fd00::100]:80 -s rr
ip netns exec d ipvsadm -a -t [fd00::100]:80 -r [fd02::2]:80 -i
ip netns exec d ipvsadm -A -t 10.0.0.101:80 -s rr
ip netns exec d ipvsadm -a -t 10.0.0.101:80 -r [fd02::2]:80 -i
ip netns exec d ipvsadm -A -t [fd00::101]:80 -s rr
ip netns exec d ipvsadm -a -t [fd00::101]:80 -r 10.0.2.2:80 -i 2>&1 || echo "(6in4 service refused)"
cat > /tmp/srv.py <<'PY'
import socket, threading
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", 80)); s.listen(64)
def serve(c, a):
    try:
        c.recv(1000); c.sendall(b"HTTP/1.0 200 OK\r\n\r\nfrom RS to " + a[0].encode() + b"\n")
    finally:
        c.close()
while True:
    c, a = s.accept(); threading.Thread(target=serve, args=(c, a)).start()
PY
ip netns exec rs python3 /tmp/srv.py &
sleep 2
cat > /tmp/steps.py <<'PY'
import subprocess
def d(*a):
    r = subprocess.run(["ip","netns","exec","d","ipvsadm"]+list(a), capture_output=True, text=True)
    if r.returncode: print("ipvsadm", a, r.stderr.strip(), flush=True)
def get(label, vip):
    fam = "AF_INET6" if ":" in vip else "AF_INET"
    r = subprocess.run(["ip","netns","exec","c","python3","-c",
        f"import socket;s=socket.socket(socket.{fam});s.settimeout(2);s.connect(('{vip}',80));"
        "s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n');import time;b=b''\n"
        "while True:\n x=s.recv(200)\n if not x: break\n b+=x\n"
        "print(b.split(b'\\r\\n\\r\\n')[-1].decode().strip())"],
        capture_output=True, text=True)
    print(f"{label}: {'ok, ' + r.stdout.strip() if r.returncode == 0 else 'no answer'}", flush=True)
def tc(*a):
    r = subprocess.run(["ip","netns","exec","rs","tc"]+list(a), capture_output=True, text=True)
    print("tc", " ".join(a), "->", r.returncode, r.stderr.strip(), flush=True)
get("4in4 ipip, no decap", "10.0.0.100")
tc("qdisc","add","dev","r0","clsact")
tc("filter","add","dev","r0","ingress","bpf","da","obj","/tmp/decap.o","sec","classifier")
print(subprocess.run(["ip","netns","exec","rs","tc","filter","show","dev","r0","ingress"], capture_output=True, text=True).stdout.strip(), flush=True)
variants = [("ipip", []), ("gue nocsum", ["--tun-type","gue","--tun-port","6080","--tun-nocsum"]),
            ("gue csum", ["--tun-type","gue","--tun-port","6080","--tun-csum"]),
            ("gre nocsum", ["--tun-type","gre","--tun-nocsum"]), ("gre csum", ["--tun-type","gre","--tun-csum"])]
for svc, rs, vip, fam in [("10.0.0.100:80","10.0.2.2:80","10.0.0.100","4in4"),
                          ("[fd00::100]:80","[fd02::2]:80","fd00::100","6in6"),
                          ("10.0.0.101:80","[fd02::2]:80","10.0.0.101","4in6"),
                          ("[fd00::101]:80","10.0.2.2:80","fd00::101","6in4")]:
    for name, opts in variants:
        d("-e","-t",svc,"-r",rs,"-i",*(opts if opts else ["--tun-type","ipip"]))
        get(f"{fam} {name}", vip)
PY
python3 /tmp/steps.py
ip netns exec d ipvsadm -Ln
