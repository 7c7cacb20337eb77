# keepalived-reload.sh - keepalived 2.2.7 SIGHUP: priority change and added VIP on a MASTER.
# Run with the reference lab: /work/shared/lab/ipvs-ref/run.sh keepalived-reload.sh
# Output: ../keepalived-reload.txt
. /lab/scenarios/lib.sh
cleanup() {
    [ -f /tmp/ka1.pid ] && kill "$(cat /tmp/ka1.pid)" 2>/dev/null
    kill $TD 2>/dev/null
    for ns in ka1 ka2; do ip netns del "$ns" 2>/dev/null; done
}
trap cleanup EXIT
mkns ka1; mkns ka2
vlink ka1 e0 ka2 e0
ip -n ka1 addr add 10.0.5.1/24 dev e0
ip -n ka2 addr add 10.0.5.2/24 dev e0
conf() {  # conf PRIO VIPS...
    local prio=$1; shift
    {
        echo "global_defs { router_id ka1 }"
        echo "vrrp_instance VI_1 {"
        echo "  state BACKUP"
        echo "  interface e0"
        echo "  virtual_router_id 51"
        echo "  priority $prio"
        echo "  version 3"
        echo "  advert_int 0.5"
        echo "  garp_master_delay 0"
        echo "  virtual_ipaddress {"
        for v in "$@"; do echo "    $v dev e0"; done
        echo "  }"
        echo "}"
    } > /tmp/ka1.conf
}
conf 100 10.0.5.100/32
ip netns exec ka2 tcpdump -U -n -v -i e0 'proto 112 or arp' > /out/td.txt 2>/dev/null &
TD=$!; sleep 1
ip netns exec ka1 keepalived -n -l -D --vrrp -f /tmp/ka1.conf -p /tmp/ka1.pid -r /tmp/ka1-vrrp.pid > /out/ka1.log 2>&1 &
for i in $(seq 1 100); do grep -q "Entering MASTER STATE" /out/ka1.log && break; sleep 0.2; done
sleep 1.5
echo "=== before reload"; ip -n ka1 -o addr show dev e0
echo "RELOAD MARK" >> /out/ka1.log
conf 150 10.0.5.100/32 10.0.5.101/32
kill -HUP "$(cat /tmp/ka1.pid)"
sleep 3
echo "=== after reload"; ip -n ka1 -o addr show dev e0
echo "=== ka1 log"; cat /out/ka1.log
kill $TD; sleep 0.5
echo "=== capture"; cat /out/td.txt
