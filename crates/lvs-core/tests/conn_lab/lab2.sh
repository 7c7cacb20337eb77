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
cat > /tmp/steps2.py <<'PYEOF'
import struct, socket as S
def ipvs(a): return ("sh", "ipvsadm " + a)
def sysctl(k, v): return ("sh", "sysctl -qw net.ipv4.vs.%s=%s" % (k, v))

# ---- SCTP: raw packets (IPVS reads only the chunk types) ----
enter("cl"); SC = S.socket(S.AF_INET, S.SOCK_RAW, 132)
enter("rs"); SR_ = S.socket(S.AF_INET, S.SOCK_RAW, 132)
enter("dir")
CH = {"DATA": 0, "INIT": 1, "INIT_ACK": 2, "SACK": 3, "ABORT": 6, "SHUTDOWN": 7, "SHUTDOWN_ACK": 8, "COOKIE_ECHO": 10, "COOKIE_ACK": 11, "SHUTDOWN_COMPLETE": 14}
def sctp(sock, sport, dst, dport, ch):
    pkt = struct.pack("!HHII", sport, dport, 0x1234, 0) + struct.pack("!BBH", CH[ch], 0, 4)
    sock.sendto(pkt, (dst, 0)); time.sleep(0.15)
def srun(title, steps):
    print("== " + title, flush=True)
    for st in steps:
        if st[0] == "c":
            sctp(SC, st[1], VIP, st[2], st[3]); print("  in  %-17s -> %s" % (st[3], show(st[1])), flush=True)
        elif st[0] == "r":
            sctp(SR_, st[2], C, st[1], st[3]); print("  out %-17s -> %s" % (st[3], show(st[1])), flush=True)
        else:
            run("", [st])
srun("SCTP DR", [("c", 41001, 90, c) for c in ["DATA", "INIT", "INIT", "COOKIE_ECHO", "DATA", "SHUTDOWN", "SHUTDOWN_COMPLETE"]])
srun("SCTP NAT", [("c", 41002, 91, "INIT"), ("r", 41002, 91, "INIT_ACK"), ("c", 41002, 91, "COOKIE_ECHO"), ("r", 41002, 91, "COOKIE_ACK"),
    ("c", 41002, 91, "DATA"), ("r", 41002, 91, "SACK"), ("c", 41002, 91, "SHUTDOWN"), ("r", 41002, 91, "SHUTDOWN_ACK"), ("c", 41002, 91, "SHUTDOWN_COMPLETE")])
srun("SCTP reject", [("c", 41003, 91, "INIT"), ("r", 41003, 91, "ABORT")])

# ---- FIN_WAIT reuse with two servers: which server gets the new SYN ----
run("reuse FIN_WAIT (DR, 2 servers): mode 1 then mode 3", [("c", 40061, 86, "S"), ("c", 40061, 86, "A"), ("c", 40061, 86, "FA"),
    ("sh", "ipvsadm -lnc | grep 40061"), ("c", 40061, 86, "S"), ("sh", "ipvsadm -lnc | grep 40061"),
    ("c", 40061, 86, "A"), ("c", 40061, 86, "FA"), sysctl("conn_reuse_mode", 3), ("c", 40061, 86, "S"), ("sh", "ipvsadm -lnc | grep 40061"), sysctl("conn_reuse_mode", 1),
    ("sh", "ipvsadm -ln --stats -t 10.0.0.1:86")])

# ---- flush of connections to a deleted server ----
run("expire_nodest_conn flush on delete", [sysctl("expire_nodest_conn", 1), ("c", 40071, 87, "S"), ("c", 40071, 87, "A"), ("c", 40072, 87, "S"),
    ("sh", "ipvsadm -lnc | grep ':87 '"), ("sh", "ipvsadm -d -t 10.0.0.1:87 -r 10.0.1.1:87; sleep 1; echo after:; ipvsadm -lnc | grep ':87 '; ipvsadm -ln -t 10.0.0.1:87"),
    sysctl("expire_nodest_conn", 0)])

# ---- template invalidation (expire_quiescent_template) ----
run("quiescent template", [("c", 40081, 88, "S"), ("c", 40081, 88, "A"), ("sh", "ipvsadm -lnc | grep ':88 '"),
    ("sh", "for d in 10.0.1.1 10.0.1.2; do ipvsadm -lnc | grep -q \"40081 .*$d:88\" && ipvsadm -e -t 10.0.0.1:88 -r $d:88 -w 0 && echo quiesced $d; done"),
    ("c", 40082, 88, "S"), ("sh", "ipvsadm -lnc | grep ':88 '"), sysctl("expire_quiescent_template", 1), ("c", 40083, 88, "S"),
    ("sh", "ipvsadm -lnc | grep -E ':88 |65535'; ipvsadm -ln -t 10.0.0.1:88 --persistent-conn"), sysctl("expire_quiescent_template", 0)])

# ---- port 0 without persistence, created over generic netlink ----
def genl_new_service(port, flags):
    s = S.socket(S.AF_NETLINK, S.SOCK_RAW, 16)
    s.bind((0, 0))
    def attr(t, data):
        l = 4 + len(data); return struct.pack("=HH", l, t) + data + b"\0" * ((4 - l % 4) % 4)
    def msg(fam, cmd, payload, flags=0x5):
        body = struct.pack("=BBH", cmd, 1, 0) + payload
        return struct.pack("=IHHII", 16 + len(body), fam, flags, 1, 0) + body
    s.send(msg(0x10, 3, attr(2, b"IPVS\0")))
    r = s.recv(65536); off = 20; fam = None
    while off < len(r):
        l, t = struct.unpack_from("=HH", r, off)
        if t == 1: fam = struct.unpack_from("=H", r, off + 4)[0]
        off += (l + 3) & ~3
    svc = attr(1, struct.pack("=H", 2)) + attr(2, struct.pack("=H", 6)) + attr(3, S.inet_aton(VIP) + b"\0" * 12) \
        + attr(4, struct.pack("!H", port)) + attr(6, b"rr\0") + attr(7, struct.pack("=II", flags, 0xffffffff)) \
        + attr(8, struct.pack("=I", 0)) + attr(9, struct.pack("=I", 0xffffffff))
    s.send(msg(fam, 1, attr(1 | 0x8000, svc)))
    r = s.recv(65536)
    print("  genl new service rc:", struct.unpack_from("=i", r, 16)[0], flush=True)
enter("cl"); IC = S.socket(S.AF_INET, S.SOCK_RAW, S.IPPROTO_ICMP); IC.settimeout(1.5)
enter("dir")
print("== port 0 service without persistence", flush=True)
genl_new_service(0, 0)
run("", [ipvs("-a -t 10.0.0.1:0 -r 10.0.1.1:0 -g"), ipvs("-ln -t 10.0.0.1:0"), ("c", 40091, 443, "S")])
try:
    while True:
        d = IC.recv(2048); ihl = (d[0] & 15) * 4
        print("  client got ICMP type %d code %d from %s" % (d[ihl], d[ihl + 1], S.inet_ntoa(d[12:16])), flush=True)
except OSError as e:
    print("  (no more ICMP: %s)" % e, flush=True)
run("", [("sh", "ipvsadm -lnc | grep 40091 || echo no entry; dmesg | grep -i 'port zero' | tail -2")])
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
$D -A --sctp-service 10.0.0.1:90 -s rr; $D -a --sctp-service 10.0.0.1:90 -r 10.0.1.1:90 -g
$D -A --sctp-service 10.0.0.1:91 -s rr; $D -a --sctp-service 10.0.0.1:91 -r 10.0.1.1:91 -m
for p in 86 87; do $D -A -t 10.0.0.1:$p -s rr; $D -a -t 10.0.0.1:$p -r 10.0.1.1:$p -g; $D -a -t 10.0.0.1:$p -r 10.0.1.2:$p -g; done
$D -A -t 10.0.0.1:88 -s rr -p 300; $D -a -t 10.0.0.1:88 -r 10.0.1.1:88 -g; $D -a -t 10.0.0.1:88 -r 10.0.1.2:88 -g
ip netns exec rs iptables -A INPUT -p sctp -j DROP; ip netns exec cl iptables -A INPUT -p sctp -j DROP
ip netns exec dir sysctl net.ipv4.vs.conn_reuse_mode net.ipv4.vs.expire_nodest_conn
python3 /tmp/craft.py /tmp/steps2.py
