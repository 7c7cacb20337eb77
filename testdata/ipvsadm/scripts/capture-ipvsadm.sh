#!/bin/bash
# capture-ipvsadm.sh - capture the real ipvsadm 1.31 (Linux 6.1 IPVS) outputs that the
# lvs-ipvsadm golden tests compare against.  Runs inside the ipvs-ref lab VM:
#
#     cd /work/shared/lab/ipvs-ref
#     ./run.sh /work/main/testdata/ipvsadm/scripts/capture-ipvsadm.sh "$(cat .../argv-cases.txt)"
#
# (run.sh passes extra arguments through; $1 is the argv case list.)  Every file the
# script writes under /out/golden is copied to testdata/ipvsadm/golden/ afterwards.
#
# All traffic stays inside namespaces created here (cl, dir, rs1, rs2), deleted at the end.
. /lab/scenarios/lib.sh
set -u
CASES="${1:-}"
G=/out/golden
mkdir -p "$G"

# gold NAME CMD... : exact stdout / stderr / exit status of CMD into $G/NAME.{out,err,rc}
gold() {
    local n="$1"; shift
    "$@" > "$G/$n.out" 2> "$G/$n.err"
    echo $? > "$G/$n.rc"
    printf '\n$ %s   [%s rc=%s]\n' "$*" "$n" "$(cat "$G/$n.rc")"
    cat "$G/$n.out" "$G/$n.err"
}

# cap CMD... from lib.sh, plus the exit status kept in /tmp/cap.rc
cap() {
    printf '\n$ %s\n' "$*"
    "$@" > /tmp/cap.out 2> /tmp/cap.err
    local rc=$? what f data
    echo $rc > /tmp/cap.rc
    for what in stdout stderr; do
        f=/tmp/cap.out; [ $what = stderr ] && f=/tmp/cap.err
        [ -s $f ] || continue
        IFS= read -r -d '' data < $f
        printf '[%s]\n%s' $what "$data"
        [[ "$data" == *$'\n' ]] || printf '\n[no newline at end of %s]\n' $what
    done
    printf '[rc=%d]\n' $rc
}

cleanup() {
    for ns in cl dir rs1 rs2 syncns; do ip netns del $ns 2>/dev/null; done
}
trap cleanup EXIT

section "0. ipvsadm without the ip_vs module (modprobe disabled)"
# The kernel would autoload ip_vs through modprobe; point both modprobe paths at false.
old_modprobe=$(cat /proc/sys/kernel/modprobe)
echo /bin/false > /proc/sys/kernel/modprobe
unshare -m bash -c 'mount --bind /bin/false /sbin/modprobe
    ipvsadm -Ln > /out/golden/noipvs_list.out 2> /out/golden/noipvs_list.err; echo $? > /out/golden/noipvs_list.rc
    ipvsadm -h > /out/golden/noipvs_help.out 2> /out/golden/noipvs_help.err; echo $? > /out/golden/noipvs_help.rc'
echo "$old_modprobe" > /proc/sys/kernel/modprobe
cat $G/noipvs_list.out $G/noipvs_list.err; echo "rc=$(cat $G/noipvs_list.rc)"
cat $G/noipvs_help.err | head -3; echo "rc=$(cat $G/noipvs_help.rc)"
lsmod | grep -q '^ip_vs ' && echo "WARNING: ip_vs got loaded anyway"

modprobe ip_vs
for m in ip_vs_rr ip_vs_wrr ip_vs_wlc ip_vs_sh ip_vs_mh ip_vs_lc ip_vs_fo ip_vs_pe_sip; do modprobe $m; done
ls /proc/sys/net/ipv4/vs/

section "1. argv battery (root namespace of the VM, no traffic)"
# Names used by the name-resolution cases.
cat >> /etc/hosts <<'EOF'
10.0.0.1 vip1.example
10.0.0.11 rs1.example rs1
10.0.0.12 this-is-a-very-long-real-server-name.example.net
10.0.0.5 a-very-long-virtual-service-hostname.example.org
10.9.0.2 client.example
2001:db8::1 vip6.example
2001:db8::11 rs6-with-a-long-name.example.com
EOF
cp /etc/hosts $G/etc-hosts
cp /etc/services $G/etc-services

reset_base() {
    printf -- '-C\n--set 900 120 300\n-A -t 10.0.0.1:80 -s wlc\n-a -t 10.0.0.1:80 -r 10.0.0.11:80 -g -w 1\n' \
        | ipvsadm -R > /dev/null 2>&1
}
reset_base
{
    # Reset before a case only when the previous one succeeded (failures change nothing).
    while IFS= read -r line; do
        case "$line" in ''|'#'*) continue ;; esac
        # shellcheck disable=SC2086
        set -f
        cap ipvsadm $line < /dev/null
        set +f
        grep -q '^0$' /tmp/cap.rc 2>/dev/null && reset_base
    done <<< "$CASES"
    ipvsadm --stop-daemon master > /dev/null 2>&1
    ipvsadm --stop-daemon backup > /dev/null 2>&1
} > $G/argv.log
grep -c '^\$ ' $G/argv.log

section "1b. argv0 forms, save/restore wrappers, restore input handling"
{
    reset_base
    cap /sbin/ipvsadm -h
    cap /sbin/ipvsadm --bogus
    reset_base
    cap ipvsadm-save
    cap ipvsadm-save -n
    cap ipvsadm-save -x
    cap ipvsadm-save foo
    reset_base
    CAPIN=$'-A -t 10.0.0.20:80 -s rr\n-a -t 10.0.0.20:80 -r 10.0.0.21 -w 70000\n-A -t 10.0.0.21:80'
    capin ipvsadm -R
    cap ipvsadm -Sn
    reset_base
    CAPIN=$'-A -t 10.0.0.1:80\n-A -t 10.0.0.22:80\n-a -t 10.0.0.99:80 -r 10.0.0.21\n-A -t 10.0.0.23:80'
    capin ipvsadm -R
    cap ipvsadm -Sn
    reset_base
    CAPIN=$'# a comment\n-A -t 10.0.0.24:80'
    capin ipvsadm -R
    cap ipvsadm -Sn
    reset_base
    CAPIN=$'\n\n   \nipvsadm -A -t 10.0.0.25:80 ipvsadm -s rr\n\t-a\t-t 10.0.0.25:80   -r 10.0.0.26 -m\n-A -t 10.0.0.27:80 # trailing\n'
    capin ipvsadm -R
    cap ipvsadm -Sn
    reset_base
    CAPIN=$'-A -t 10.0.0.28:80\n-L -n'
    capin ipvsadm -R
    reset_base
    CAPIN=$'-A -t 10.0.0.29:80\n-R'
    capin ipvsadm -R
    reset_base
    CAPIN=$'# comment\n-A -t 10.0.0.30:80 -s rr\n\n-a -t 10.0.0.30:80 -r 10.0.0.31 -m'
    capin ipvsadm-restore
    cap ipvsadm -Sn
    reset_base
    CAPIN=$'-A -t 10.0.0.32:80 -s rr\n-a -t 10.0.0.32:80 -r 10.0.0.33 -x 5 -y 2 -m\n-e -t 10.0.0.32:80 -r 10.0.0.33 -x 7 -y 3 -m'
    capin ipvsadm -R
    cap ipvsadm -Ln --thresholds
    cap ipvsadm -Sn
    # "ipvsadm" with no argument at all lists everything
    reset_base
    cap ipvsadm
} > $G/argv2.log
cat $G/argv2.log

section "2. topology for the listings: cl -- dir -- br0 -- rs1, rs2"
ipvsadm -C
mkns cl; mkns dir; mkns rs1; mkns rs2
vlink cl vc0 dir vd0
ip -n cl addr add 10.9.0.2/24 dev vc0
ip -n cl route add default via 10.9.0.1
ip -n cl addr add 2001:db8:9::2/64 dev vc0 nodad
ip -n cl -6 route add default via 2001:db8:9::1
ip -n dir addr add 10.9.0.1/24 dev vd0
ip -n dir addr add 2001:db8:9::1/64 dev vd0 nodad
mkbridge dir br0
vlink dir vb1 rs1 vr1
vlink dir vb2 rs2 vr2
brport dir br0 vb1; brport dir br0 vb2
ip -n dir addr add 10.0.0.254/24 dev br0
ip -n dir addr add 2001:db8::fe/64 dev br0 nodad
ip -n dir addr add 10.0.0.1/32 dev lo
ip -n dir addr add 10.0.0.5/32 dev lo
ip -n dir addr add 2001:db8::1/128 dev lo
ip netns exec dir sysctl -qw net.ipv4.ip_forward=1
ip netns exec dir sysctl -qw net.ipv6.conf.all.forwarding=1
ip -n rs1 addr add 10.0.0.11/24 dev vr1; ip -n rs1 route add default via 10.0.0.254
ip -n rs1 addr add 2001:db8::11/64 dev vr1 nodad; ip -n rs1 -6 route add default via 2001:db8::fe
ip -n rs2 addr add 10.0.0.12/24 dev vr2; ip -n rs2 route add default via 10.0.0.254
rsd rs1 0.0.0.0 RS1 80
rsd rs1 0.0.0.0 RS1 8000
rsd rs1 2001:db8::11 RS1v6 80
rsd rs2 0.0.0.0 RS2 8080
D() { ip netns exec dir "$@"; }
D modprobe ip_vs

# The configured service set (mirrored as data in golden/state.json).  Added in an
# unsorted order so that the listings' sorting shows.
D ipvsadm --set 3600 3600 3600
D ipvsadm -A -t 10.0.0.1:443 -s wlc -p 600 -M 255.255.255.0
D ipvsadm -a -t 10.0.0.1:443 -r 10.0.0.12:8080 -m -w 2
D ipvsadm -a -t 10.0.0.1:443 -r 10.0.0.11:80 -m -w 1
D ipvsadm -A -t 10.0.0.1:80 -s rr
D ipvsadm -a -t 10.0.0.1:80 -r 10.0.0.12:8080 -m -w 1 -x 100 -y 50
D ipvsadm -a -t 10.0.0.1:80 -r 10.0.0.11:80 -m -w 2
D ipvsadm -a -t 10.0.0.1:80 -r 10.0.0.13 -g -w 0
D ipvsadm -a -t 10.0.0.1:80 -r 10.0.0.1 -m -w 0
D ipvsadm -A -t 10.0.0.1:8443 -s rr
D ipvsadm -a -t 10.0.0.1:8443 -r 10.0.0.11 -i --tun-type gue --tun-port 6080 --tun-csum
D ipvsadm -a -t 10.0.0.1:8443 -r 10.0.0.12 -i --tun-type gre --tun-nocsum
D ipvsadm -a -t 10.0.0.1:8443 -r 10.0.0.13 -i
D ipvsadm -a -t 10.0.0.1:8443 -r 10.0.0.14 -i --tun-type gue --tun-port 7000 --tun-remcsum
D ipvsadm -a -t 10.0.0.1:8443 -r 10.0.0.15 -i --tun-type gre --tun-csum
D ipvsadm -a -t 10.0.0.1:8443 -r 10.0.0.16 -m -x 2000000000 -y 1000000000
D ipvsadm -A -u 10.0.0.1:53 -s sh -b sh-fallback,sh-port -o
D ipvsadm -a -u 10.0.0.1:53 -r 10.0.0.11:5353 -m
D ipvsadm -A -u 10.0.0.1:54 -s sh -b sh-port -p 30 -M 255.255.0.0 -o --pe sip
D ipvsadm -A -u 10.0.0.1:55 -s rr --pe sip
D ipvsadm -A -t 10.0.0.1:81 -s rr -b flag-1,flag-3
D ipvsadm -A -t 10.0.0.1:82 -s mh -b mh-fallback,mh-port
D ipvsadm -A -t 10.0.0.1:83 -s rr -M 255.255.0.0
D ipvsadm -A -u 10.0.0.1:5060 -s rr -p 1800 --pe sip
D ipvsadm -a -u 10.0.0.1:5060 -r 10.0.0.12 -m
D ipvsadm -A --sctp-service 10.0.0.1:5672 -s mh -b mh-port
D ipvsadm -a --sctp-service 10.0.0.1:5672 -r 10.0.0.11 -m
D ipvsadm -A -f 7 -s lc -p 1200
D ipvsadm -a -f 7 -r 10.0.0.11:80 -m
D ipvsadm -A -f 9 -s rr -p -o
D ipvsadm -A -f 4294967295 -s rr -o
D ipvsadm -A -f 8 -6 -s wrr -p 120 -M 96
D ipvsadm -a -f 8 -6 -r [2001:db8::11]:0 -g -w 4
D ipvsadm -A -t [2001:db8::1]:80 -s wrr -p 300 -M 64
D ipvsadm -a -t [2001:db8::1]:80 -r [2001:db8::11]:80 -m -w 3
D ipvsadm -a -t [2001:db8::1]:80 -r [2001:db8::12]:8080 -m -w 65535
D ipvsadm -a -t [2001:db8::1]:80 -r 10.0.0.11 -i
D ipvsadm -a -t [2001:db8::1]:80 -r 10.0.0.12 -i --tun-type gue --tun-port 5555
D ipvsadm -a -t [2001:db8::1]:80 -r [2001:db8:1234:5678:9abc:def0:1234:5678]:65535 -m -w 2
D ipvsadm -A -t [2001:db8::1]:8080 -s rr
D ipvsadm -a -t [2001:db8::1]:8080 -r [2001:db8::11]:80 -m
D ipvsadm -A -t 10.0.0.5:8080 -s fo
D ipvsadm -a -t 10.0.0.5:8080 -r 10.0.0.12:8080 -m -w 7
D ipvsadm -a -t 10.0.0.5:8080 -r 10.0.0.11:8080 -m -w 70
D ipvsadm -A -t 10.0.0.2:0 -s wlc -p 3600
D ipvsadm -A -t 10.0.0.3:21 -s lc
D ipvsadm -A -u 10.0.0.1:80 -s wlc
D iptables -t mangle -A PREROUTING -d 10.0.0.1 -p tcp --dport 8000 -j MARK --set-mark 7

section "3. traffic"
# short connections (TIME_WAIT), persistent service, fwmark service, SIP PE, UDP, IPv6
ip netns exec cl python3 /lab/scenarios/conndrv.py --director dir --port 80 --src 10.9.0.2 --base-port 40000 10.0.0.1 c:4
ip netns exec cl python3 /lab/scenarios/conndrv.py --director dir --port 443 --src 10.9.0.2 --base-port 41000 10.0.0.1 c:3
ip netns exec cl python3 /lab/scenarios/conndrv.py --director dir --port 8000 --src 10.9.0.2 --base-port 42000 10.0.0.1 c:2
T_SHORT=$(date +%s)
ip netns exec cl python3 - <<'PY'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.9.0.2", 5060))
for cid in ("a84b4c76e66710@pc33.example", "b84b4c76e66710@pc34.example"):
    msg = ("INVITE sip:bob@10.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.9.0.2:5060\r\n"
           "Call-ID: %s\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n" % cid)
    s.sendto(msg.encode(), ("10.0.0.1", 5060))
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("10.9.0.2", 43000))
u.sendto(b"x" * 100, ("10.0.0.1", 53))
PY
rm -f /tmp/held /tmp/done /tmp/held6
ip netns exec cl python3 /lab/scenarios/conndrv.py --director dir --port 80 --src 10.9.0.2 --base-port 44000 \
    10.0.0.1 h:2 touch:/tmp/held waitfile:/tmp/done > /tmp/hold.log 2>&1 &
HOLD4=$!
ip netns exec cl python3 /lab/scenarios/conndrv.py --director dir --port 8080 --src 2001:db8:9::2 --base-port 45000 \
    2001:db8::1 h:1 touch:/tmp/held6 waitfile:/tmp/done > /tmp/hold6.log 2>&1 &
HOLD6=$!
for i in $(seq 1 150); do [ -e /tmp/held ] && [ -e /tmp/held6 ] && break; sleep 0.2; done
cat /tmp/hold.log /tmp/hold6.log
sleep 5
# Freeze the estimator so that counters and rates stay put while we capture.
D sysctl -w net.ipv4.vs.run_estimation=0

section "4a. connection listings (TIME_WAIT entries still present)"
# Keep a /proc/net/ip_vs_conn snapshot that matches the listing
# (retry until the snapshots before and after the listing agree).
conn_gold() {
    local n="$1"; shift
    local try a b
    for try in 1 2 3 4 5 6; do
        a=$(D cat /proc/net/ip_vs_conn)
        D "$@" > "$G/$n.out" 2> "$G/$n.err"; echo $? > "$G/$n.rc"
        b=$(D cat /proc/net/ip_vs_conn)
        [ "$a" = "$b" ] && break
    done
    printf '%s\n' "$a" > "$G/$n.proc"
    printf '\n$ %s   [%s rc=%s try=%s]\n' "$*" "$n" "$(cat "$G/$n.rc")" "$try"
    cat "$G/$n.out" "$G/$n.err"
}
conn_gold conn_Lnc ipvsadm -Lnc
conn_gold conn_Lc ipvsadm -Lc
conn_gold conn_Lnc_pconn ipvsadm -Lnc --persistent-conn
conn_gold conn_Lc_pconn ipvsadm -Lc --persistent-conn
D cat /proc/net/ip_vs_conn_sync > $G/proc_ip_vs_conn_sync.txt
# a listing while short-lived entries still count
for try in 1 2 3 4; do
    D cat /proc/net/ip_vs > $G/early_Ln.proc
    D ipvsadm -Ln > $G/early_Ln.out 2> $G/early_Ln.err; echo $? > $G/early_Ln.rc
    D cat /proc/net/ip_vs > /tmp/early2
    cmp -s /tmp/early2 $G/early_Ln.proc && break
done
cat $G/early_Ln.out

section "4b. listings (after the TIME_WAIT entries are gone: counts stay put)"
while [ $(( $(date +%s) - T_SHORT )) -lt 128 ]; do sleep 2; done
D cat /proc/net/ip_vs_conn > $G/proc_ip_vs_conn_stable.txt
D cat /proc/net/ip_vs > $G/proc_ip_vs_before.txt
gold list_noargs D ipvsadm
gold list_L D ipvsadm -L
gold list_l D ipvsadm -l
gold list_Ln D ipvsadm -Ln
gold list_Ln_nosort D ipvsadm -Ln --nosort
gold list_Ln_exact D ipvsadm -Ln --exact
gold list_stats D ipvsadm -L --stats
gold list_Ln_stats D ipvsadm -Ln --stats
gold list_Ln_stats_exact D ipvsadm -Ln --stats --exact
gold list_Ln_stats_nosort D ipvsadm -Ln --stats --nosort
gold list_rate D ipvsadm -L --rate
gold list_Ln_rate D ipvsadm -Ln --rate
gold list_Ln_rate_exact D ipvsadm -Ln --rate --exact
gold list_Ln_stats_rate D ipvsadm -Ln --stats --rate
gold list_Ln_thresholds D ipvsadm -Ln --thresholds
gold list_thresholds D ipvsadm -L --thresholds
gold list_Ln_pconn D ipvsadm -Ln --persistent-conn
gold list_pconn D ipvsadm -L --persistent-conn
gold list_Ln_thresholds_pconn D ipvsadm -Ln --thresholds --persistent-conn
gold list_Ln_tuninfo D ipvsadm -Ln --tun-info
gold list_tuninfo D ipvsadm -L --tun-info
gold list_Ln_stats_tuninfo D ipvsadm -Ln --stats --tun-info
gold list_Ln_pconn_tuninfo D ipvsadm -Ln --persistent-conn --tun-info
gold list_Ln_rate_thresholds D ipvsadm -Ln --rate --thresholds
gold save D ipvsadm -S
gold save_n D ipvsadm -Sn
gold save_long D ipvsadm --save --numeric
gold one_Ln_t80 D ipvsadm -Ln -t 10.0.0.1:80
gold one_L_thttp D ipvsadm -L -t 10.0.0.1:http
gold one_L_tname D ipvsadm -L -t vip1.example:80
gold one_Ln_stats_t80 D ipvsadm -Ln --stats -t 10.0.0.1:80
gold one_Ln_rate_u53 D ipvsadm -Ln --rate -u 10.0.0.1:53
gold one_Ln_thr_t8443 D ipvsadm -Ln --thresholds -t 10.0.0.1:8443
gold one_Ln_tun_t8443 D ipvsadm -Ln --tun-info -t 10.0.0.1:8443
gold one_Ln_f7 D ipvsadm -Ln -f 7
gold one_Ln_f8v6 D ipvsadm -Ln -f 8 -6
gold one_Ln_fmax D ipvsadm -Ln -f 4294967295
gold one_Ln_t6 D ipvsadm -Ln -t [2001:db8::1]:80
gold one_L_t6 D ipvsadm -L -t [2001:db8::1]:80
gold one_Ln_sctp D ipvsadm -Ln --sctp-service 10.0.0.1:5672
gold one_Ln_missing D ipvsadm -Ln -t 10.0.0.1:84
gold one_Ln_missing_f D ipvsadm -Ln -f 99
gold one_Ln_pconn_u5060 D ipvsadm -Ln --persistent-conn -u 10.0.0.1:5060
gold one_Ln_exact_t80 D ipvsadm -Ln --exact --stats -t 10.0.0.1:80
gold timeout D ipvsadm -L --timeout
gold timeout_n D ipvsadm -Ln --timeout
gold daemon_none D ipvsadm -L --daemon
D cat /proc/net/ip_vs > $G/proc_ip_vs_after.txt
D cat /proc/net/ip_vs_stats > $G/proc_ip_vs_stats.txt
D cat /proc/net/ip_vs_conn > $G/proc_ip_vs_conn_after.txt
cmp $G/proc_ip_vs_before.txt $G/proc_ip_vs_after.txt && echo "counts stable during the captures"
cmp $G/proc_ip_vs_conn_stable.txt $G/proc_ip_vs_conn_after.txt >/dev/null || echo "NOTE: connection table changed during the captures"
conn_gold conn_Lnc_late ipvsadm -Lnc

section "5. sync daemons (own namespace: the kernel refuses sync with mixed-family dests)"
mkns syncns
ip -n syncns link add vs0 type veth peer name vs1
ip -n syncns link set vs0 up; ip -n syncns link set vs1 up
S() { ip netns exec syncns "$@"; }
S modprobe ip_vs
gold d_start_master S ipvsadm --start-daemon master --mcast-interface vs0 --syncid 5 --sync-maxlen 1400 --mcast-group 224.0.0.99 --mcast-port 9000 --mcast-ttl 2
gold d_start_backup S ipvsadm --start-daemon backup --mcast-interface vs1 --syncid 6
gold daemon S ipvsadm -L --daemon
gold daemon_n S ipvsadm -Ln --daemon
gold d_again S ipvsadm --start-daemon master --mcast-interface vs0
gold d_stop_backup_syncid S ipvsadm --stop-daemon backup --syncid 99
gold daemon_after_stop S ipvsadm --daemon -L
gold d_start_master6 S ipvsadm --start-daemon backup --mcast-interface vs1 --mcast-group ff02::9 --mcast-port 9001
gold daemon6 S ipvsadm -L --daemon
S ipvsadm --stop-daemon master; S ipvsadm --stop-daemon backup
gold d_start_default S ipvsadm --start-daemon master
gold d_start_lo S ipvsadm --start-daemon master --mcast-interface lo
gold d_start_plain S ipvsadm --start-daemon master --mcast-interface vs0
gold daemon_plain S ipvsadm -L --daemon
S ipvsadm --stop-daemon master
ip netns del syncns

section "6. zero and flush"
touch /tmp/done
wait $HOLD4 $HOLD6
gold zero_all D ipvsadm -Z
gold after_zero D ipvsadm -Ln --stats
gold flush D ipvsadm -C
gold empty_Ln D ipvsadm -Ln
gold empty_stats D ipvsadm -Ln --stats
gold empty_save D ipvsadm -S
gold empty_Lnc D ipvsadm -Lnc
echo done
