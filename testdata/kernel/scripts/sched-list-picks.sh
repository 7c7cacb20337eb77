#!/bin/bash
# sched-list-picks.sh - ask the real kernel (lab VM, Linux 6.1) which real server
# the list-walking schedulers (rr wrr lc wlc sed nq fo ovf) pick, step by step,
# with destinations added/edited/deleted mid-stream.
#
# Run with /work/shared/lab/ipvs-ref/run.sh; the output is recorded as
# testdata/kernel/sched-list-picks.out and replayed against lvs-core by
# crates/lvs-core/tests/sched_list.rs (kernel_transcript_replay).
#
# Topology (all inside the VM): client ns 10.0.1.2 -- director ns 10.0.1.1 (VIP,
# NAT) -- rsK ns 10.0.2K.2 (K = 1..4), each real server answers "from RSK".
# Every case uses its own virtual port, so no case revives another's trashed
# destinations. Every configuration change goes through conndrv's "ipvs:" step,
# so the transcript holds each ipvsadm command in order with the picks.
set -u
. /lab/scenarios/lib.sh
modprobe ip_vs
for s in rr wrr lc wlc sed nq fo ovf; do modprobe ip_vs_$s; done

cleanup() {
    for n in client director rs1 rs2 rs3 rs4; do ip netns del $n 2>/dev/null; done
}
trap cleanup EXIT

mkns director
mkns client
vlink client c0 director d0
ip -n client addr add 10.0.1.2/24 dev c0
ip -n director addr add 10.0.1.1/24 dev d0
ip netns exec director sysctl -qw net.ipv4.ip_forward=1
for k in 1 2 3 4; do
    mkns rs$k
    vlink director r$k rs$k e0
    ip -n director addr add 10.0.2$k.1/24 dev r$k
    ip -n rs$k addr add 10.0.2$k.2/24 dev e0
    ip -n rs$k route add default via 10.0.2$k.1
    rsd rs$k 0.0.0.0 RS$k 80
    echo "# rs $k 10.0.2$k.2"
done

VIP=10.0.1.1
BASE=20000
# case NAME PORT STEP... : one conndrv process per case (held connections are
# closed when it exits).
case_() {
    local name=$1 port=$2; shift 2
    section "case $name vport $port"
    ip netns exec client python3 /lab/scenarios/conndrv.py --label "$name" --port "$port" \
        --src 10.0.1.2 --base-port $BASE "$VIP" "$@"
    BASE=$((BASE + 200))
}
R() { echo "10.0.2$1.2:80"; }
S() { echo "-t $VIP:$1"; }

# rr: delete the current dest (cursor moves back), re-add (head), add, quiesce,
# delete the head dest while it is current.
P=8001
case_ rr $P "ipvs:-A $(S $P) -s rr" \
    "ipvs:-a $(S $P) -r $(R 1) -m" "ipvs:-a $(S $P) -r $(R 2) -m" "ipvs:-a $(S $P) -r $(R 3) -m" \
    c:5 mark:"|" "ipvs:-d $(S $P) -r $(R 2)" c:4 mark:"|" \
    "ipvs:-a $(S $P) -r $(R 2) -m" c:4 mark:"|" "ipvs:-a $(S $P) -r $(R 4) -m" c:4 mark:"|" \
    "ipvs:-e $(S $P) -r $(R 3) -m -w 0" c:6 mark:"|" c:1 "ipvs:-d $(S $P) -r $(R 4)" c:3 \
    "ipvs:-ln $(S $P)"

# wrr: one-by-one adds (first sweep is plain rr), edits and deletes mid-stream,
# a gcd > 1 after an edit.
P=8002
case_ wrr-adds $P "ipvs:-A $(S $P) -s wrr" \
    "ipvs:-a $(S $P) -r $(R 1) -m -w 4" "ipvs:-a $(S $P) -r $(R 2) -m -w 3" \
    "ipvs:-a $(S $P) -r $(R 3) -m -w 2" c:12 mark:"|" \
    "ipvs:-e $(S $P) -r $(R 2) -m -w 1" c:9 mark:"|" "ipvs:-d $(S $P) -r $(R 1)" c:6 mark:"|" \
    "ipvs:-e $(S $P) -r $(R 2) -m -w 4" c:5 mark:"|" "ipvs:-a $(S $P) -r $(R 4) -m -w 6" c:14 \
    "ipvs:-ln $(S $P)"

# wrr initialised over existing dests (scheduler switched with -E): cw starts
# at the max weight, the reference's A A B A B C A B C.
P=8003
case_ wrr-init $P "ipvs:-A $(S $P) -s rr" \
    "ipvs:-a $(S $P) -r $(R 3) -m -w 2" "ipvs:-a $(S $P) -r $(R 2) -m -w 3" \
    "ipvs:-a $(S $P) -r $(R 1) -m -w 4" "ipvs:-E $(S $P) -s wrr" c:18 \
    "ipvs:-ln $(S $P)"

# wrr with an upper threshold: RS1 overloads after 2 connections and stays so
# while they linger (TIME_WAIT); raising -x to 0 clears OVERLOAD.
P=8004
case_ wrr-overload $P "ipvs:-A $(S $P) -s wrr" \
    "ipvs:-a $(S $P) -r $(R 1) -m -w 3 -x 2" "ipvs:-a $(S $P) -r $(R 2) -m -w 1" \
    "ipvs:-a $(S $P) -r $(R 3) -m -w 1" c:10 mark:"|" \
    "ipvs:-e $(S $P) -r $(R 1) -m -w 3 -x 0" c:6 "ipvs:-ln $(S $P)"

# lc: held (active) and short (inactive) connections, ties by list order,
# quiescing.
P=8005
case_ lc $P "ipvs:-A $(S $P) -s lc" \
    "ipvs:-a $(S $P) -r $(R 1) -m" "ipvs:-a $(S $P) -r $(R 2) -m" "ipvs:-a $(S $P) -r $(R 3) -m" \
    h:2 c:4 mark:"|" close:1 c:4 mark:"|" "ipvs:-e $(S $P) -r $(R 1) -m -w 0" c:3 \
    "ipvs:-ln $(S $P)"

# wlc: weights 1 2 3.
P=8006
case_ wlc $P "ipvs:-A $(S $P) -s wlc" \
    "ipvs:-a $(S $P) -r $(R 1) -m -w 1" "ipvs:-a $(S $P) -r $(R 2) -m -w 2" \
    "ipvs:-a $(S $P) -r $(R 3) -m -w 3" h:7 c:4 mark:"|" close:1,2,3 c:4 mark:"|" \
    "ipvs:-e $(S $P) -r $(R 3) -m -w 1" h:3 "ipvs:-ln $(S $P)"

# sed: only active connections count, (act + 1) / weight.
P=8007
case_ sed $P "ipvs:-A $(S $P) -s sed" \
    "ipvs:-a $(S $P) -r $(R 1) -m -w 1" "ipvs:-a $(S $P) -r $(R 2) -m -w 2" \
    "ipvs:-a $(S $P) -r $(R 3) -m -w 3" h:8 c:3 mark:"|" close:2,3 h:3 "ipvs:-ln $(S $P)"

# nq: first idle dest in list order, else sed.
P=8008
case_ nq $P "ipvs:-A $(S $P) -s nq" \
    "ipvs:-a $(S $P) -r $(R 1) -m -w 3" "ipvs:-a $(S $P) -r $(R 2) -m -w 1" \
    "ipvs:-a $(S $P) -r $(R 3) -m -w 2" h:8 c:2 mark:"|" close:1 h:2 "ipvs:-ln $(S $P)"

# fo: highest weight, ties to the list head; quiescing and overload.
P=8009
case_ fo $P "ipvs:-A $(S $P) -s fo" \
    "ipvs:-a $(S $P) -r $(R 1) -m -w 2" "ipvs:-a $(S $P) -r $(R 2) -m -w 3 -x 3" \
    "ipvs:-a $(S $P) -r $(R 3) -m -w 3" c:2 mark:"|" "ipvs:-e $(S $P) -r $(R 3) -m -w 0" c:5 \
    mark:"|" "ipvs:-e $(S $P) -r $(R 2) -m -w 1 -x 3" c:2 "ipvs:-ln $(S $P)"

# ovf: fills the highest weight up to weight + 1 active connections, ties to
# the list head, then overflows; nothing left -> refused.
P=8010
case_ ovf $P "ipvs:-A $(S $P) -s ovf" \
    "ipvs:-a $(S $P) -r $(R 1) -m -w 2" "ipvs:-a $(S $P) -r $(R 2) -m -w 1" \
    "ipvs:-a $(S $P) -r $(R 3) -m -w 2" h:9 mark:"|" c:2 mark:"|" close:1 h:2 \
    "ipvs:-ln $(S $P)"
