# h12: PMTU value per tunnel type (GRE/GUE/mixed IPIP) and one-packet NAT replies.
. /lab/scenarios/lib.sh
modprobe ip_vs; modprobe ip_vs_rr
cleanup() { ip netns del c 2>/dev/null; ip netns del d 2>/dev/null; ip netns del rs 2>/dev/null; }
trap cleanup EXIT
mkns c; mkns d; mkns rs
vlink c c0 d d0
vlink d d1 rs r0
ip -n c addr add 10.0.1.2/24 dev c0; ip -n c addr add fd01::2/64 dev c0 nodad
ip -n d addr add 10.0.1.1/24 dev d0; ip -n d addr add fd01::1/64 dev d0 nodad
ip -n d addr add 10.0.2.1/24 dev d1; ip -n d addr add fd02::1/64 dev d1 nodad
ip -n rs addr add 10.0.2.2/24 dev r0; ip -n rs addr add fd02::2/64 dev r0 nodad
ip -n d link set d1 mtu 1400; ip -n rs link set r0 mtu 1400
for a in 110 111 112 113 120; do ip -n d addr add 10.0.0.$a/32 dev lo; done
ip -n d addr add fd00::110/128 dev lo; ip -n d addr add fd00::111/128 dev lo
ip -n c route add default via 10.0.1.1; ip -n c -6 route add default via fd01::1
ip -n rs route add default via 10.0.2.1; ip -n rs -6 route add default via fd02::1
ip netns exec d sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
A() { ip netns exec d ipvsadm "$@" || echo "ipvsadm $* failed"; }
A -A -u 10.0.0.110:53 -s rr; A -a -u 10.0.0.110:53 -r 10.0.2.2:53 -i --tun-type gre --tun-csum
A -A -u 10.0.0.111:53 -s rr; A -a -u 10.0.0.111:53 -r 10.0.2.2:53 -i --tun-type gue --tun-port 6080 --tun-nocsum
A -A -u 10.0.0.112:53 -s rr; A -a -u 10.0.0.112:53 -r 10.0.2.2:53 -i --tun-type gre --tun-nocsum
A -A -u 10.0.0.113:53 -s rr; A -a -u 10.0.0.113:53 -r [fd02::2]:53 -i
A -A -u [fd00::110]:53 -s rr; A -a -u [fd00::110]:53 -r [fd02::2]:53 -i --tun-type gre --tun-nocsum
A -A -u [fd00::111]:53 -s rr; A -a -u [fd00::111]:53 -r [fd02::2]:53 -i --tun-type gue --tun-port 6080 --tun-csum
A -A -u 10.0.0.120:53 -s rr -o; A -a -u 10.0.0.120:53 -r 10.0.2.2:53 -m
ip netns exec d ipvsadm -Ln
cat > /tmp/echo.py <<'PY'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 53))
while True:
    d, a = s.recvfrom(2000); s.sendto(b"answer", a)
PY
ip netns exec rs python3 /tmp/echo.py &
EP=$!
ip netns exec c tcpdump -i c0 -U -s 0 -w /tmp/c.pcap 2>/tmp/td.log &
TC=$!
sleep 3
cat > /tmp/drv.py <<'PY'
import socket, time
for dst in ["10.0.0.110", "10.0.0.111", "10.0.0.112", "10.0.0.113"]:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.setsockopt(socket.IPPROTO_IP, 10, 2)
    try: u.sendto(bytes(1450), (dst, 53))
    except OSError as e: print(dst, e)
    time.sleep(0.3)
for dst in ["fd00::110", "fd00::111"]:
    u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    u.setsockopt(socket.IPPROTO_IPV6, 23, 2)
    try: u.sendto(bytes(1450), (dst, 53))
    except OSError as e: print(dst, e)
    time.sleep(0.3)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("0.0.0.0", 40000)); u.settimeout(2)
for i in range(2):
    u.sendto(b"query", ("10.0.0.120", 53))
    try: print("ops reply from", u.recvfrom(100)[1], flush=True)
    except OSError as e: print("ops", e)
PY
ip netns exec c python3 /tmp/drv.py
sleep 1
kill -INT $TC; wait $TC; kill $EP
python3 - <<'PY'
import struct
b = open("/tmp/c.pcap", "rb").read()[24:]
while len(b) >= 16:
    n = struct.unpack("<I", b[8:12])[0]; p = b[16:16+n]; b = b[16+n:]
    et = struct.unpack(">H", p[12:14])[0]; ip = p[14:]
    if et == 0x0800:
        ihl = (ip[0] & 15) * 4; src = ".".join(map(str, ip[12:16])); dst = ".".join(map(str, ip[16:20]))
        if ip[9] == 1:
            ic = ip[ihl:]; print("icmp4", src, "->", dst, "type", ic[0], "code", ic[1], "mtu", struct.unpack(">H", ic[6:8])[0], "len", len(ip))
        elif ip[9] == 17:
            sp, dp = struct.unpack(">HH", ip[ihl:ihl+4]); print("udp4", src, sp, "->", dst, dp, "len", len(ip))
    elif et == 0x86dd and ip[6] == 58:
        ic = ip[40:]; print("icmp6 type", ic[0], "code", ic[1], "mtu", struct.unpack(">I", ic[4:8])[0], "len", len(ip))
PY
ip netns exec d ipvsadm -Lnc
