cat > /tmp/craft.py <<'PYEOF'
#!/usr/bin/env python3
"""Send crafted TCP segments from the client and real-server namespaces and
print the director's IPVS connection entry after each (one process, setns)."""
import ctypes, os, socket, struct, subprocess, sys, time

libc = ctypes.CDLL("libc.so.6", use_errno=True)
def enter(ns):
    fd = os.open("/var/run/netns/" + ns, os.O_RDONLY)
    if libc.setns(fd, 0x40000000) != 0:
        raise OSError(ctypes.get_errno(), "setns")
    os.close(fd)

enter("cl"); CL = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
enter("rs"); RS = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
enter("dir")

def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff

F = {"F": 1, "S": 2, "R": 4, "P": 8, "A": 16}
def seg(src, sport, dst, dport, flags):
    fl = sum(F[c] for c in flags)
    hdr = struct.pack("!HHIIBBHHH", sport, dport, 1000, 2000 if fl & 16 else 0, 5 << 4, fl, 8192, 0, 0)
    ph = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(hdr))
    c = csum(ph + hdr)
    return hdr[:16] + struct.pack("!H", c) + hdr[18:]

def conns():
    out = []
    with open("/proc/net/ip_vs_conn") as f:
        next(f)
        for line in f:
            p = line.split()
            out.append((p[0], int(p[2], 16), int(p[4], 16), p[5], int(p[6], 16), p[7], int(p[8])))
    return out

def show(cport):
    rows = [r for r in conns() if r[1] == cport]
    return " ".join("%s(%s,%ds)" % (r[5], r[3][-2:] + ":" + str(r[6]), r[6]) for r in rows) or "-"

VIP = "10.0.0.1"; C = "10.9.0.1"
def cl(cport, vport, flags):
    CL.sendto(seg(C, cport, VIP, vport, flags), (VIP, 0)); time.sleep(0.15)
def rs(rip, rport, cport, flags):
    RS.sendto(seg(rip, rport, C, cport, flags), (C, 0)); time.sleep(0.15)

def run(title, steps):
    print("== " + title, flush=True)
    for st in steps:
        if st[0] == "c":
            _, cport, vport, flags = st; cl(cport, vport, flags)
            print("  in  %-3s -> %s" % (flags, show(cport)), flush=True)
        elif st[0] == "r":
            _, rip, rport, cport, flags = st; rs(rip, rport, cport, flags)
            print("  out %-3s -> %s" % (flags, show(cport)), flush=True)
        elif st[0] == "sh":
            r = subprocess.run(st[1], shell=True, capture_output=True, text=True)
            print("  $ %s\n%s%s" % (st[1], r.stdout, r.stderr), end="", flush=True)
        elif st[0] == "sleep":
            time.sleep(st[1])

scen = sys.argv[1]
exec(open(scen).read())
PYEOF
cat > /tmp/steps.py <<'PYEOF'
def ipvs(a): return ("sh", "ipvsadm " + a)
def sysctl(k, v): return ("sh", "sysctl -qw net.ipv4.vs.%s=%s" % (k, v))
run("DR INPUT_ONLY: SYN ACK PA FA A", [("c", 40001, 80, f) for f in ["S", "A", "PA", "FA", "A"]])
run("DR: SYN RST ACK RST", [("c", 40002, 80, f) for f in ["S", "R", "A", "R"]] + [ipvs("-ln")])
run("DR sloppy: A from nothing; P from nothing", [sysctl("sloppy_tcp", 1), ("c", 40003, 80, "A"), ("c", 40004, 80, "P"), sysctl("sloppy_tcp", 0), ipvs("-ln")])
run("DR secure_tcp=3: S A; RS-less S S", [sysctl("secure_tcp", 3), ("c", 40006, 80, "S"), ("c", 40006, 80, "A"), ("c", 40007, 80, "S"), ("c", 40007, 80, "S"), sysctl("secure_tcp", 0)])
run("DR reuse: FIN_WAIT + SYN (mode 1), then mode 3", [("c", 40008, 80, "S"), ("c", 40008, 80, "A"), ("c", 40008, 80, "FA"), ("c", 40008, 80, "S"),
    ("c", 40008, 80, "A"), ("c", 40008, 80, "FA"), sysctl("conn_reuse_mode", 3), ("c", 40008, 80, "S"), sysctl("conn_reuse_mode", 1)])
R = "10.0.1.1"
run("NAT: in S, out SA, in A, in FA, out A, out FA, in A",
    [("c", 40011, 81, "S"), ("r", R, 81, 40011, "SA"), ("c", 40011, 81, "A"), ("c", 40011, 81, "FA"),
     ("r", R, 81, 40011, "A"), ("r", R, 81, 40011, "FA"), ("c", 40011, 81, "A")])
run("NAT: server closes first", [("c", 40012, 81, "S"), ("r", R, 81, 40012, "SA"), ("c", 40012, 81, "A"), ("r", R, 81, 40012, "FA"),
    ("c", 40012, 81, "FA"), ("r", R, 81, 40012, "A")])
run("NAT TIME_WAIT + SYN reuse", [("c", 40012, 81, "S")])
run("expire_nodest_conn: conn to deleted dest", [("c", 40031, 83, "S"), ("c", 40031, 83, "A"), ("sh", "ipvsadm -lnc | grep ':83 ' "),
    ("sh", "for d in 10.0.1.1 10.0.1.2; do ipvsadm -lnc | grep -q \"40031 .*$d:83\" && ipvsadm -d -t 10.0.0.1:83 -r $d:83 && echo deleted $d; done"),
    ("c", 40031, 83, "A"), sysctl("expire_nodest_conn", 1), ("c", 40031, 83, "A"), ("c", 40031, 83, "S"), sysctl("expire_nodest_conn", 0)])
run("weight 0 + expire_nodest_conn + conn_reuse_mode 0: SYN on ESTABLISHED", [sysctl("conn_reuse_mode", 0), ("c", 40041, 84, "S"), ("c", 40041, 84, "A"),
    ("sh", "for d in 10.0.1.1 10.0.1.2; do ipvsadm -lnc | grep -q \"40041 .*$d:84\" && ipvsadm -e -t 10.0.0.1:84 -r $d:84 -w 0 && echo quiesced $d; done"),
    ("c", 40041, 84, "S"), sysctl("expire_nodest_conn", 1), ("c", 40041, 84, "S"), sysctl("expire_nodest_conn", 0), sysctl("conn_reuse_mode", 1)])
run("persistence -p 30: template re-armed at expiry", [("c", 40051, 85, "S"), ("c", 40051, 85, "A"), ("sh", "ipvsadm -lnc | grep ':85 '"),
    ("sleep", 31), ("sh", "ipvsadm -lnc | grep ':85 '"), ("c", 40052, 85, "S"), ("sh", "ipvsadm -lnc | grep ':85 '")])
run("--set limits", [("sh", "ipvsadm --set 8589934 0 0; echo rc=$?; ipvsadm --set 8589935 0 0; echo rc=$?; ipvsadm -L --timeout; ipvsadm --set 900 120 300")])
PYEOF
. /lab/scenarios/lib.sh
set -u
cleanup() { for n in cl dir rs; do ip netns del $n 2>/dev/null; done; }
trap cleanup EXIT
modprobe ip_vs; modprobe ip_vs_rr
mkns cl; mkns dir; mkns rs
vlink cl eth0 dir c0
vlink dir r0 rs eth0
ip -n cl addr add 10.9.0.1/24 dev eth0; ip -n cl route add default via 10.9.0.254
ip -n dir addr add 10.9.0.254/24 dev c0; ip -n dir addr add 10.0.1.254/24 dev r0; ip -n dir addr add 10.0.0.1/32 dev lo
ip -n rs addr add 10.0.1.1/24 dev eth0; ip -n rs addr add 10.0.1.2/24 dev eth0; ip -n rs route add default via 10.0.1.254
ip netns exec dir sysctl -qw net.ipv4.ip_forward=1
ip netns exec cl iptables -A INPUT -p tcp -j DROP
ip netns exec rs iptables -A INPUT -p tcp -j DROP
D="ip netns exec dir ipvsadm"
$D -A -t 10.0.0.1:80 -s rr; $D -a -t 10.0.0.1:80 -r 10.0.1.1:80 -g
$D -A -t 10.0.0.1:81 -s rr; $D -a -t 10.0.0.1:81 -r 10.0.1.1:81 -m
$D -A -t 10.0.0.1:83 -s rr; $D -a -t 10.0.0.1:83 -r 10.0.1.1:83 -g; $D -a -t 10.0.0.1:83 -r 10.0.1.2:83 -g
$D -A -t 10.0.0.1:84 -s rr; $D -a -t 10.0.0.1:84 -r 10.0.1.1:84 -g; $D -a -t 10.0.0.1:84 -r 10.0.1.2:84 -g
$D -A -t 10.0.0.1:85 -s rr -p 30; $D -a -t 10.0.0.1:85 -r 10.0.1.1:85 -g
ip netns exec dir sysctl net.ipv4.vs.conn_reuse_mode net.ipv4.vs.expire_nodest_conn
python3 /tmp/craft.py /tmp/steps.py
