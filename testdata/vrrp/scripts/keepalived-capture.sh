# keepalived-capture.sh - capture real keepalived (2.2.7) VRRP adverts.
#
# Run with the reference lab:  /work/shared/lab/ipvs-ref/run.sh keepalived-capture.sh
# Then extract:  python3 extract-adverts.py RUN_DIR/vrrp-*.pcap
#
# Two namespaces ka1 (10.0.5.1, fd00:5::1) and ka2 (10.0.5.2, fd00:5::2) joined by a
# veth pair; tcpdump runs in ka2. Phases:
#   v2     VRRPv2, auth PASS "lvsrs12", VRID 51, prio 150 / 100, advert_int 1, two VIPs;
#          ka2 starts first (becomes master alone), then ka1 starts and preempts; then
#          ka1 gets SIGTERM (priority-0 advert) and ka2 takes over again
#   v3     VRRPv3 IPv4, VRID 52, prio 200 / 100, advert_int 0.5, one VIP
#   v3ip6  VRRPv3 IPv6, VRID 53, prio 200 / 100, advert_int 1, VIP fd00:5::100
#   badpw  VRRPv2 with different passwords on the two sides (both log the mismatch)
. /lab/scenarios/lib.sh

cleanup() {
    for p in /tmp/ka*.pid; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null; done
    for ns in ka1 ka2; do ip netns del "$ns" 2>/dev/null; done
}
trap cleanup EXIT

mkns ka1; mkns ka2
vlink ka1 e0 ka2 e0
ip -n ka1 addr add 10.0.5.1/24 dev e0
ip -n ka2 addr add 10.0.5.2/24 dev e0
ip -n ka1 addr add fd00:5::1/64 dev e0 nodad
ip -n ka2 addr add fd00:5::2/64 dev e0 nodad
sleep 2   # link-local addresses finish DAD

conf() {  # conf FILE VRID PRIO VERSION ADVERT AUTH VIPS...
    local f=$1 vrid=$2 prio=$3 ver=$4 adv=$5 auth=$6; shift 6
    {
        echo "global_defs { router_id $(basename "$f" .conf) }"
        echo "vrrp_instance VI_$vrid {"
        echo "  state BACKUP"
        echo "  interface e0"
        echo "  virtual_router_id $vrid"
        echo "  priority $prio"
        echo "  version $ver"
        echo "  advert_int $adv"
        if [ "$auth" != none ]; then
            echo "  authentication {"
            echo "    auth_type PASS"
            echo "    auth_pass $auth"
            echo "  }"
        fi
        echo "  virtual_ipaddress {"
        for v in "$@"; do echo "    $v dev e0"; done
        echo "  }"
        echo "}"
    } > "$f"
}

start() {  # start NS CONF LOG
    ip netns exec "$1" keepalived -n -l -D --vrrp -f "$2" -p "/tmp/$1.pid" -r "/tmp/$1-vrrp.pid" \
        > "$3" 2>&1 &
}

stop() {  # stop NS : SIGTERM, wait for exit
    local pid
    pid=$(cat "/tmp/$1.pid" 2>/dev/null) || return 0
    kill "$pid" 2>/dev/null
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    rm -f "/tmp/$1.pid" "/tmp/$1-vrrp.pid"
}

waitlog() {  # waitlog FILE TEXT : wait (60 s at most) until FILE contains TEXT
    for i in $(seq 1 300); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.2; done
    echo "(timed out waiting for '$2' in $1)"
}

phase() {  # phase NAME SECONDS_AFTER_KA1_IS_MASTER SECONDS_AFTER_STOP
    local name=$1
    ip netns exec ka2 tcpdump -U -n -i e0 -w "/out/vrrp-$name.pcap" 'proto 112 or ip6 proto 112' \
        2>/dev/null &
    TD=$!; sleep 1
    start ka2 /tmp/ka2.conf "/out/ka2-$name.log"
    waitlog "/out/ka2-$name.log" "Entering BACKUP STATE"
    start ka1 /tmp/ka1.conf "/out/ka1-$name.log"
    waitlog "/out/ka1-$name.log" "Entering MASTER STATE"
    sleep "$2"
    stop ka1
    sleep "$3"
    stop ka2
    sleep 1
    kill $TD; wait $TD 2>/dev/null
    section "$name: ka1 log"; cat "/out/ka1-$name.log"
    section "$name: ka2 log"; cat "/out/ka2-$name.log"
}

keepalived --version 2>&1 | head -1

conf /tmp/ka1.conf 51 150 2 1 lvsrs12 10.0.5.100/24 10.0.5.101/24
conf /tmp/ka2.conf 51 100 2 1 lvsrs12 10.0.5.100/24 10.0.5.101/24
phase v2 4 4

conf /tmp/ka1.conf 52 200 3 0.5 none 10.0.5.100/24
conf /tmp/ka2.conf 52 100 3 0.5 none 10.0.5.100/24
phase v3 3 3

conf /tmp/ka1.conf 53 200 3 1 none fd00:5::100/64
conf /tmp/ka2.conf 53 100 3 1 none fd00:5::100/64
phase v3ip6 4 4

conf /tmp/ka1.conf 54 150 2 1 secretA 10.0.5.100/24
conf /tmp/ka2.conf 54 100 2 1 secretB 10.0.5.100/24
phase badpw 3 1

section "tcpdump summaries"
for p in v2 v3 v3ip6 badpw; do
    echo "--- $p"
    tcpdump -n -v -r "/out/vrrp-$p.pcap" 2>/dev/null | head -40
done
