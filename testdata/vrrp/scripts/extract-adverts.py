#!/usr/bin/env python3
"""Write the IP packets of VRRP adverts (protocol 112) in a pcap as hex, one per line.

usage: extract-adverts.py [--title TEXT] FILE.pcap > ../keepalived-NAME.txt

Each line is the whole IPv4 packet (header included) or the whole IPv6 packet
(40-byte header then the VRRP message). Classic pcap, Ethernet or Linux cooked.
"""
import socket
import struct
import sys


def packets(path):
    d = open(path, "rb").read()
    e = "<" if d[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    linktype = struct.unpack(e + "I", d[20:24])[0]
    off = 24
    while off + 16 <= len(d):
        _, _, incl, _ = struct.unpack(e + "IIII", d[off:off + 16])
        yield linktype, d[off + 16:off + 16 + incl]
        off += 16 + incl


def l3(linktype, pkt):
    if linktype == 1:
        et, o = struct.unpack(">H", pkt[12:14])[0], 14
    elif linktype == 113:
        et, o = struct.unpack(">H", pkt[14:16])[0], 16
    elif linktype == 276:
        et, o = struct.unpack(">H", pkt[0:2])[0], 20
    else:
        return None
    return et, pkt[o:]


args = sys.argv[1:]
title = None
if args[:1] == ["--title"]:
    title, args = args[1], args[2:]
print("# %s" % (title or args[0]))
print("# one VRRP advert per line: the whole IP packet in hex")
n = 0
for lt, pkt in packets(args[0]):
    r = l3(lt, pkt)
    if not r:
        continue
    et, ip = r
    if et == 0x0800 and ip[9] == 112:
        tot = struct.unpack(">H", ip[2:4])[0]
        ip = ip[:tot]
        desc = "%s > %s ttl %d" % (socket.inet_ntop(socket.AF_INET, ip[12:16]),
                                   socket.inet_ntop(socket.AF_INET, ip[16:20]), ip[8])
    elif et == 0x86dd and ip[6] == 112:
        plen = struct.unpack(">H", ip[4:6])[0]
        ip = ip[:40 + plen]
        desc = "%s > %s hlim %d" % (socket.inet_ntop(socket.AF_INET6, ip[8:24]),
                                    socket.inet_ntop(socket.AF_INET6, ip[24:40]), ip[7])
    else:
        continue
    n += 1
    print("# advert %d: %s" % (n, desc))
    print(ip.hex())
