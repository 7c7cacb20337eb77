# h12: IPv6 fwmark NAT service, destination port 0: which port does the RS see?
. /lab/scenarios/lib.sh
modprobe ip_vs; modprobe ip_vs_rr
cleanup() { ip netns del c 2>/dev/null; ip netns del d 2>/dev/null; ip netns del rs 2>/dev/null; }
trap cleanup EXIT
which ip6tables iptables nft
mkns c; mkns d; mkns rs
vlink c c0 d d0
vlink d d1 rs r0
ip -n c addr add fd01::2/64 dev c0 nodad
ip -n d addr add fd01::1/64 dev d0 nodad
ip -n d addr add fd02::1/64 dev d1 nodad
ip -n rs addr add fd02::2/64 dev r0 nodad
ip -n d addr add fd00::100/128 dev lo
ip -n c -6 route add default via fd01::1
ip -n rs -6 route add default via fd02::1
ip netns exec d sysctl -qw net.ipv6.conf.all.forwarding=1
ip netns exec d ip6tables -t mangle -A PREROUTING -d fd00::100 -p tcp -m multiport --dports 80,443 -j MARK --set-mark 10 || \
  ip netns exec d nft 'add table ip6 m; add chain ip6 m pre { type filter hook prerouting priority -150; }; add rule ip6 m pre ip6 daddr fd00::100 tcp dport { 80, 443 } meta mark set 10'
ip netns exec d ipvsadm -A -f 10 -6 -s rr
ip netns exec d ipvsadm -a -f 10 -6 -r fd02::2 -m
ip netns exec d ipvsadm -Ln
rsd rs :: RS 80
rsd rs :: RS 443
ip netns exec c python3 - <<'PY'
import socket
for port in (80, 443):
    s = socket.create_connection(("fd00::100", port), timeout=3)
    print(port, "local", s.getsockname()[:2], "peer", s.getpeername()[:2], flush=True)
    s.close()
PY
ip netns exec d ipvsadm -Lnc
