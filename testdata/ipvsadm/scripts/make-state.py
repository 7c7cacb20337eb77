#!/usr/bin/env python3
"""make-state.py - build golden/state.json, the IPVS state the golden listings were
captured from, as lvs-proto data (the input our formatters are fed).

Sources, all from the same lab run (capture-ipvsadm.sh):
  * configuration: the `ipvsadm -A/-a` commands of capture-ipvsadm.sh, transcribed
    below (CONFIG);
  * service and destination order, ActiveConn and InActConn: the kernel's
    /proc/net/ip_vs snapshot taken right before the listings
    (golden/proc_ip_vs_before.txt; identical to the one after them);
  * PersistConn: the persistence templates (NONE/ASSURED entries) of the kernel's
    /proc/net/ip_vs_conn snapshot (golden/proc_ip_vs_conn_stable.txt);
  * counters and rates: `ipvsadm -Ln --stats --exact` and `--rate --exact`
    (the only interface exposing per-service counters; the estimator was frozen
    with net.ipv4.vs.run_estimation=0, so every listing saw the same numbers).

usage: make-state.py GOLDEN_DIR > GOLDEN_DIR/state.json
"""
import ipaddress
import json
import re
import sys

G = sys.argv[1]

# (key, scheduler, persistent timeout or None, netmask, ops, flags, pe, dests)
# dests: addr, port as the kernel keeps it, fwd, weight, u, l, tunnel
T = lambda kind, port=0, csum="nocsum": {"tunnel": {"kind": kind, "port": port, "csum": csum}}


def tcp(a, p):
    return {"addr": {"protocol": "tcp", "addr": a, "port": p}}


def udp(a, p):
    return {"addr": {"protocol": "udp", "addr": a, "port": p}}


def sctp(a, p):
    return {"addr": {"protocol": "sctp", "addr": a, "port": p}}


def fwm(m, fam="inet"):
    return {"fwmark": {"mark": m, "family": fam}}


V4 = 0xFFFFFFFF
CONFIG = [
    (tcp("10.0.0.1", 443), "wlc", 600, 0xFFFFFF00, False, "", None, [
        ("10.0.0.12", 8080, "masq", 2, 0, 0), ("10.0.0.11", 80, "masq", 1, 0, 0)]),
    (tcp("10.0.0.1", 80), "rr", None, V4, False, "", None, [
        ("10.0.0.12", 8080, "masq", 1, 100, 50), ("10.0.0.11", 80, "masq", 2, 0, 0),
        ("10.0.0.13", 80, "route", 0, 0, 0), ("10.0.0.1", 80, "masq", 0, 0, 0)]),
    (tcp("10.0.0.1", 8443), "rr", None, V4, False, "", None, [
        ("10.0.0.11", 8443, T("gue", 6080, "csum"), 1, 0, 0),
        ("10.0.0.12", 8443, T("gre", 0, "nocsum"), 1, 0, 0),
        ("10.0.0.13", 8443, T("ipip"), 1, 0, 0),
        ("10.0.0.14", 8443, T("gue", 7000, "remcsum"), 1, 0, 0),
        ("10.0.0.15", 8443, T("gre", 0, "csum"), 1, 0, 0),
        ("10.0.0.16", 8443, "masq", 1, 2000000000, 1000000000)]),
    (udp("10.0.0.1", 53), "sh", None, V4, True, "12", None, [
        ("10.0.0.11", 5353, "masq", 1, 0, 0)]),
    (udp("10.0.0.1", 54), "sh", 30, 0xFFFF0000, True, "2", "sip", []),
    (udp("10.0.0.1", 55), "rr", None, V4, False, "", "sip", []),
    (tcp("10.0.0.1", 81), "rr", None, V4, False, "13", None, []),
    (tcp("10.0.0.1", 82), "mh", None, V4, False, "12", None, []),
    (tcp("10.0.0.1", 83), "rr", None, 0xFFFF0000, False, "", None, []),
    (udp("10.0.0.1", 5060), "rr", 1800, V4, False, "", "sip", [
        ("10.0.0.12", 5060, "masq", 1, 0, 0)]),
    (sctp("10.0.0.1", 5672), "mh", None, V4, False, "2", None, [
        ("10.0.0.11", 5672, "masq", 1, 0, 0)]),
    (fwm(7), "lc", 1200, V4, False, "", None, [("10.0.0.11", 80, "masq", 1, 0, 0)]),
    (fwm(9), "rr", 360, V4, True, "", None, []),
    (fwm(4294967295), "rr", None, V4, True, "", None, []),
    (fwm(8, "inet6"), "wrr", 120, 96, False, "", None, [("2001:db8::11", 0, "route", 4, 0, 0)]),
    (tcp("2001:db8::1", 80), "wrr", 300, 64, False, "", None, [
        ("2001:db8::11", 80, "masq", 3, 0, 0), ("2001:db8::12", 8080, "masq", 65535, 0, 0),
        ("10.0.0.11", 80, T("ipip"), 1, 0, 0), ("10.0.0.12", 80, T("gue", 5555, "nocsum"), 1, 0, 0),
        ("2001:db8:1234:5678:9abc:def0:1234:5678", 65535, "masq", 2, 0, 0)]),
    (tcp("2001:db8::1", 8080), "rr", None, 128, False, "", None, [("2001:db8::11", 80, "masq", 1, 0, 0)]),
    (tcp("10.0.0.5", 8080), "fo", None, V4, False, "", None, [
        ("10.0.0.12", 8080, "masq", 7, 0, 0), ("10.0.0.11", 8080, "masq", 70, 0, 0)]),
    (tcp("10.0.0.2", 0), "wlc", 3600, V4, False, "", None, []),
    (tcp("10.0.0.3", 21), "lc", None, V4, False, "", None, []),
    (udp("10.0.0.1", 80), "wlc", None, V4, False, "", None, []),
]


def hexaddr(s):
    """/proc/net/ip_vs address: 8 hex digits (IPv4) or [full IPv6]."""
    if s.startswith("["):
        return str(ipaddress.IPv6Address(s[1:-1]))
    return str(ipaddress.IPv4Address(int(s, 16)))


def svc_id(key):
    if "fwmark" in key:
        return ("FWM", key["fwmark"]["mark"])
    a = key["addr"]
    return (a["protocol"].upper(), str(ipaddress.ip_address(a["addr"])), a["port"])


# --- order, active and inactive counts from /proc/net/ip_vs
order, counts = [], {}
cur = None
for line in open(G + "/proc_ip_vs_before.txt").read().splitlines()[3:]:
    f = line.split()
    if line.startswith("  ->"):
        ap = f[1]
        i = ap.rfind(":")
        d = (hexaddr(ap[:i]), int(ap[i + 1:], 16))
        counts[cur].append((d, int(f[4]), int(f[5])))
    else:
        if f[0] == "FWM":
            cur = ("FWM", int(f[1], 16))
        else:
            i = f[1].rfind(":")
            cur = (f[0], hexaddr(f[1][:i]), int(f[1][i + 1:], 16))
        order.append(cur)
        counts[cur] = []

# --- persistence templates per (service, dest address) from /proc/net/ip_vs_conn
templates = {}
for line in open(G + "/proc_ip_vs_conn_stable.txt").read().splitlines()[1:]:
    f = line.split()
    if f[7] not in ("NONE", "ASSURED"):
        continue
    if f[0] == "IP":
        sid = ("FWM", int(f[3], 16))
    else:
        sid = (f[0], hexaddr(f[3]), int(f[4], 16))
    templates[(sid, hexaddr(f[5]))] = templates.get((sid, hexaddr(f[5])), 0) + 1

# --- counters and rates from the --exact listings (numeric, sorted)
def numbers(name):
    rows = {}
    svc = None
    for line in open(G + "/" + name).read().splitlines()[3:]:
        if line.startswith("  -> "):
            f = line[5:].split()
            ap = f[0]
            i = ap.rfind(":")
            a = ap[:i].strip("[]")
            rows[(svc, (str(ipaddress.ip_address(a)), int(ap[i + 1:])))] = [int(x) for x in f[1:]]
        else:
            f = line.split()
            if f[0] == "FWM":
                m = int(f[1]) & 0xFFFFFFFF
                svc = ("FWM", m)
                nums = f[3:] if f[2] == "IPv6" else f[2:]
            else:
                ap = f[1]
                i = ap.rfind(":")
                svc = (f[0], str(ipaddress.ip_address(ap[:i].strip("[]"))), int(ap[i + 1:]))
                nums = f[2:]
            rows[(svc, None)] = [int(x) for x in nums]
    return rows


stats = numbers("list_Ln_stats_exact.out")
rates = numbers("list_Ln_rate_exact.out")


def st(sid, d):
    s, r = stats[(sid, d)], rates[(sid, d)]
    return dict(zip(["conns", "inpkts", "outpkts", "inbytes", "outbytes"], s),
                **dict(zip(["cps", "inpps", "outpps", "inbps", "outbps"], r)))


def fwd_json(fwd):
    return fwd if isinstance(fwd, dict) else fwd


def flags_json(f):
    return {"flag1": "1" in f, "flag2": "2" in f, "flag3": "3" in f}


by_id = {}
for key, sched, pers, mask, ops, flags, pe, dests in CONFIG:
    sid = svc_id(key)
    kd = {}
    dl = []
    for (a, p, fwd, w, u, l) in dests:
        da = str(ipaddress.ip_address(a))
        kd[(da, p)] = {"addr": da, "port": p, "fwd": fwd_json(fwd), "weight": w,
                       "u_threshold": u, "l_threshold": l}
    entries = []
    for (d, act, inact) in counts[sid]:
        spec = kd.pop(d)
        entries.append({"spec": spec, "active_conns": act, "inact_conns": inact,
                        "persist_conns": templates.get((sid, d[0]), 0), "stats": st(sid, d)})
    assert not kd, (sid, kd)
    by_id[sid] = {"spec": {"key": key, "scheduler": sched, "persistent": pers is not None,
                           "timeout": pers or 0, "netmask": mask, "ops": ops,
                           "sched_flags": flags_json(flags), "pe_name": pe},
                  "stats": st(sid, None), "dests": entries}

assert set(by_id) == set(order), set(by_id) ^ set(order)
json.dump({"info": {"version": 0x010201, "conn_tab_size": 4096},
           "services": [by_id[s] for s in order]}, sys.stdout, indent=1)
print()
