#!/usr/bin/env python3
"""Write the UDP payloads of IPVS sync datagrams in a pcap as hex, one per line.

usage: extract-payloads.py [--port N] [--title TEXT] FILE.pcap > ../kernel-NAME.txt

Classic pcap, link types Ethernet (1) and Linux cooked (113, 276); IPv4/IPv6.
Lines starting with '#' are comments (source, datagram number, sender and TTL).
"""
import socket
import struct
import sys


def packets(path):
    d = open(path, "rb").read()
    magic = d[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        sys.exit("%s: not a classic pcap file" % path)
    linktype = struct.unpack(e + "I", d[20:24])[0]
    off = 24
    while off + 16 <= len(d):
        _, _, incl, _ = struct.unpack(e + "IIII", d[off:off + 16])
        yield linktype, d[off + 16:off + 16 + incl]
        off += 16 + incl


def l3(linktype, pkt):
    if linktype == 1:
        et, o = struct.unpack(">H", pkt[12:14])[0], 14
        while et in (0x8100, 0x88a8):
            et, o = struct.unpack(">H", pkt[o + 2:o + 4])[0], o + 4
    elif linktype == 113:
        et, o = struct.unpack(">H", pkt[14:16])[0], 16
    elif linktype == 276:
        et, o = struct.unpack(">H", pkt[0:2])[0], 20
    else:
        return None
    return et, pkt[o:]


def main():
    args = sys.argv[1:]
    port, title = 8848, None
    while args and args[0].startswith("--"):
        k, v = args[0], args[1]
        args = args[2:]
        if k == "--port":
            port = int(v)
        elif k == "--title":
            title = v
    print("# %s" % (title or args[0]))
    print("# one sync datagram per line: the UDP payload in hex")
    n = 0
    for lt, pkt in packets(args[0]):
        r = l3(lt, pkt)
        if not r:
            continue
        et, ip = r
        if et == 0x0800 and ip[9] == 17:
            src, ttl = socket.inet_ntop(socket.AF_INET, ip[12:16]), ip[8]
            udp = ip[(ip[0] & 15) * 4:]
        elif et == 0x86dd and ip[6] == 17:
            src, ttl = socket.inet_ntop(socket.AF_INET6, ip[8:24]), ip[7]
            udp = ip[40:]
        else:
            continue
        _, dport, ulen = struct.unpack(">HHH", udp[:6])
        if dport != port:
            continue
        n += 1
        print("# datagram %d from %s ttl %d, %d bytes" % (n, src, ttl, ulen - 8))
        print(udp[8:ulen].hex())


main()
