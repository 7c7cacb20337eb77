# wirecap.sh: capture real-kernel packets for lvs-wire known-packet tests.
. /lab/scenarios/lib.sh
set -x
modprobe ip_vs; modprobe ip_vs_rr; modprobe sctp 2>&1; modprobe 8021q; modprobe ip_vs_proto_sctp 2>/dev/null
mkns c; mkns d; mkns rs
vlink c c0 d d0 02:00:00:00:0c:00
vlink d d1 rs r0 02:00:00:00:0d:01
ip -n d link set d0 address 02:00:00:00:0d:00
ip -n rs link set r0 address 02:00:00:00:0e:00
ip -n c addr add 10.0.1.2/24 dev c0; ip -n c addr add fd01::2/64 dev c0 nodad
ip -n d addr add 10.0.1.1/24 dev d0; ip -n d addr add fd01::1/64 dev d0 nodad
ip -n d addr add 10.0.2.1/24 dev d1; ip -n d addr add fd02::1/64 dev d1 nodad
ip -n rs addr add 10.0.2.2/24 dev r0; ip -n rs addr add fd02::2/64 dev r0 nodad
ip -n d link set d1 mtu 1400
ip -n rs link set r0 mtu 1400
ip -n d addr add 10.0.0.100/32 dev lo; ip -n d addr add 10.0.0.101/32 dev lo; ip -n d addr add fd00::100/128 dev lo
ip -n c route add default via 10.0.1.1; ip -n c -6 route add default via fd01::1
ip -n rs route add default via 10.0.2.1; ip -n rs -6 route add default via fd02::1
ip netns exec d sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
# VLAN 100 between c and d
ip -n c link add link c0 name c0.100 type vlan id 100; ip -n c link set c0.100 up
ip -n d link add link d0 name d0.100 type vlan id 100; ip -n d link set d0.100 up
ip -n c addr add 192.168.100.2/24 dev c0.100; ip -n d addr add 192.168.100.1/24 dev d0.100
ip netns exec d ipvsadm -A -t 10.0.0.100:80 -s rr
ip netns exec d ipvsadm -a -t 10.0.0.100:80 -r 10.0.2.2:80 -i --tun-type gue --tun-port 6080 --tun-remcsum
ip netns exec d ipvsadm -A -t [fd00::100]:80 -s rr
ip netns exec d ipvsadm -a -t [fd00::100]:80 -r [fd02::2]:80 -i
ip netns exec d ipvsadm -A -t 10.0.0.101:80 -s rr
ip netns exec d ipvsadm -a -t 10.0.0.101:80 -r [fd02::2]:80 -i --tun-type gue --tun-port 6080 --tun-csum
ip netns exec d ipvsadm -A -u 10.0.0.100:53 -s rr
ip netns exec d ipvsadm -a -u 10.0.0.100:53 -r 10.0.2.2:53 -i
ip netns exec d ipvsadm -A -u [fd00::100]:53 -s rr
ip netns exec d ipvsadm -a -u [fd00::100]:53 -r [fd02::2]:53 -i
ip netns exec d ipvsadm -Ln
# The director completes its checksums in software (no offload to the veth),
# so captured outer GUE/GRE checksums and SCTP CRCs are final values.
ip netns exec d ethtool -K d1 tx off
ip netns exec d ethtool -K d0 tx off
ip netns exec c ethtool -k c0 | grep -i -E "checksum|sctp"
ip netns exec rs tcpdump -i r0 -U -s 0 -w /out/rs.pcap 2>/tmp/tdr.log &
TR=$!
ip netns exec c tcpdump -i c0 -U -s 0 -w /out/c.pcap 2>/tmp/tdc.log &
TC=$!
sleep 3
cat > /tmp/drv.py <<'PY'
import socket, subprocess, time, sys
def d(*a):
    r = subprocess.run(["ip","netns","exec","d","ipvsadm"]+list(a), capture_output=True, text=True)
    print("ipvsadm", *a, "->", r.returncode, r.stdout.strip(), r.stderr.strip(), flush=True)
def syn(fam, dst, sport):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0" if fam == socket.AF_INET else "::", sport))
    s.setblocking(False)
    try: s.connect((dst, 80))
    except BlockingIOError: pass
    time.sleep(0.4); s.close(); print("syn", dst, sport, flush=True)
def offload(on):
    r = subprocess.run(["ethtool","-K","c0","tx","on" if on else "off"], capture_output=True, text=True)
    print("offload", on, r.returncode, r.stderr.strip(), flush=True)
V4, V6 = "10.0.0.100", "fd00::100"
R4 = "10.0.2.2:80"
# pass A: default offloads (client skb is CHECKSUM_PARTIAL)
syn(socket.AF_INET, V4, 41001)                      # gue remcsum
offload(False)
# pass B: software checksums
d("-e","-t",V4+":80","-r",R4,"-i","--tun-type","ipip"); syn(socket.AF_INET, V4, 42001)
d("-e","-t",V4+":80","-r",R4,"-i","--tun-type","gue","--tun-port","6080","--tun-nocsum"); syn(socket.AF_INET, V4, 42002)
d("-e","-t",V4+":80","-r",R4,"-i","--tun-type","gue","--tun-port","6080","--tun-csum"); syn(socket.AF_INET, V4, 42003)
d("-e","-t",V4+":80","-r",R4,"-i","--tun-type","gue","--tun-port","6080","--tun-remcsum"); syn(socket.AF_INET, V4, 42004)
d("-e","-t",V4+":80","-r",R4,"-i","--tun-type","gre","--tun-nocsum"); syn(socket.AF_INET, V4, 42005)
d("-e","-t",V4+":80","-r",R4,"-i","--tun-type","gre","--tun-csum"); syn(socket.AF_INET, V4, 42006)
syn(socket.AF_INET6, V6, 43001)                      # 6in6 ipip
d("-e","-t","[fd00::100]:80","-r","[fd02::2]:80","-i","--tun-type","gue","--tun-port","6080","--tun-csum"); syn(socket.AF_INET6, V6, 43002)
d("-e","-t","[fd00::100]:80","-r","[fd02::2]:80","-i","--tun-type","gre","--tun-csum"); syn(socket.AF_INET6, V6, 43003)
syn(socket.AF_INET, "10.0.0.101", 44001)             # 4 in 6 gue csum
d("-e","-t","10.0.0.101:80","-r","[fd02::2]:80","-i","--tun-type","ipip"); syn(socket.AF_INET, "10.0.0.101", 44002)
# UDP too big with DF -> frag needed
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("0.0.0.0", 45001))
u.setsockopt(socket.IPPROTO_IP, 10, 2)   # IP_MTU_DISCOVER = IP_PMTUDISC_DO
try: u.sendto(bytes(range(256))*5 + bytes(170), (V4, 53))
except OSError as e: print("udp4", e)
time.sleep(0.5)
u6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u6.bind(("::", 45002))
u6.setsockopt(socket.IPPROTO_IPV6, 23, 2)  # IPV6_MTU_DISCOVER = DO
try: u6.sendto(bytes(range(256))*5 + bytes(170), (V6, 53))
except OSError as e: print("udp6", e)
time.sleep(0.5)
# small UDP with checksum, v4 and v6
u.sendto(b"hello lvs-wire", ("10.0.1.1", 9)); u6.sendto(b"hello lvs-wire", ("fd01::1", 9))
# fragmented UDP (no DF): 3000 bytes
f = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); f.bind(("0.0.0.0", 45003))
f.setsockopt(socket.IPPROTO_IP, 10, 0)  # DONT
f.sendto(bytes(i % 251 for i in range(3000)), ("10.0.1.1", 9))
f6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); f6.bind(("::", 45004))
f6.setsockopt(socket.IPPROTO_IPV6, 23, 0)
f6.sendto(bytes(i % 251 for i in range(3000)), ("fd01::1", 9))
time.sleep(0.5)
# SCTP INIT to d (no listener -> ABORT)
try:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 132); s.setblocking(False)
    try: s.connect(("10.0.1.1", 9))
    except (BlockingIOError, OSError) as e: print("sctp", e)
    time.sleep(0.5); s.close()
    s6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM, 132); s6.setblocking(False)
    try: s6.connect(("fd01::1", 9))
    except (BlockingIOError, OSError) as e: print("sctp6", e)
    time.sleep(0.5); s6.close()
except OSError as e: print("sctp fail", e)
PY
ip netns exec c python3 /tmp/drv.py
ip netns exec c ping -c1 -W1 10.0.1.1
ip netns exec c ping -c1 -W1 192.168.100.1
ip netns exec c ping -6 -c1 -W1 fd01::1
ip netns exec c ping -c1 -W1 -s 2000 10.0.1.1
ip netns exec c ping -6 -c1 -W1 -s 2000 fd01::1
sleep 1
kill -INT $TR $TC; wait $TR $TC
cat /tmp/tdr.log /tmp/tdc.log
ip netns exec d ipvsadm -Ln --stats
ip netns del c; ip netns del d; ip netns del rs
ls -l /out
