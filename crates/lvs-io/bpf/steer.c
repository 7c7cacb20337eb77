// SPDX-License-Identifier: MIT OR GPL-2.0
//
// lvs-io XDP steering program.
//
// Decides, per received frame, whether it belongs to the userspace LVS engine (redirect into
// the AF_XDP socket bound to this rx queue) or to the kernel (XDP_PASS: ARP, SSH, neighbour
// discovery, anything that is not virtual-service traffic).
//
// Frames steered to the engine:
//   * packets to a virtual service:  (DST, proto, daddr, dport)
//   * packets to a port-0 service:   (DST, proto, daddr, 0)   (also FULLNAT local addresses)
//   * packets to an "all of it" VIP: (DST, 0, daddr, 0)
//   * NAT replies from real servers: (SRC, proto, saddr, sport)
//   * non-first fragments and packets whose ports cannot be read: any address with a
//     (VIP, 0, daddr, 0) entry (userspace adds one per service address)
//   * ICMP / ICMPv6 errors whose quoted packet matches one of the above, seen from our side
//     (the quoted packet is one we sent: its source is the VIP / local address, or its
//     destination is a real server)
// Other ICMP / ICMPv6 (echo, neighbour discovery) and everything else: XDP_PASS. If no AF_XDP socket is bound on the rx queue the redirect falls
// back to XDP_PASS too (bpf_redirect_map's default action).
//
// IPv4 and IPv6 (up to 4 extension headers), up to two VLAN tags (802.1Q / 802.1ad).

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define KIND_DST 0
#define KIND_SRC 1
#define KIND_VIP 2

#define FAM_V4 4
#define FAM_V6 6

#define STAT_PASS 0
#define STAT_REDIRECT 1
#define STAT_MAX 2

#define ETH_P_8021Q_ 0x8100
#define ETH_P_8021AD_ 0x88A8
#define ETH_P_IP_ 0x0800
#define ETH_P_IPV6_ 0x86DD

#define PROTO_ICMP 1
#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_SCTP 132
#define PROTO_ICMPV6 58

// Must match `SteerKey` in src/steer.rs (24 bytes, no implicit padding).
struct steer_key {
	__u8 kind;
	__u8 proto;
	__u16 port; // network byte order
	__u8 family;
	__u8 pad[3];
	__u8 addr[16]; // IPv4 in the first 4 bytes, rest zero
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct steer_key);
	__type(value, __u32);
} steer SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

struct vlan_hdr_ {
	__be16 tci;
	__be16 proto;
};

struct ipv4_hdr_ {
	__u8 ihl_ver;
	__u8 tos;
	__be16 tot_len;
	__be16 id;
	__be16 frag_off;
	__u8 ttl;
	__u8 protocol;
	__be16 check;
	__u8 saddr[4];
	__u8 daddr[4];
};

struct ipv6_hdr_ {
	__be32 vtc_flow;
	__be16 payload_len;
	__u8 nexthdr;
	__u8 hop_limit;
	__u8 saddr[16];
	__u8 daddr[16];
};

// What the program learnt about one IP packet (outer or the one quoted in an ICMP error).
struct flow {
	__u8 family;
	__u8 proto;
	__u8 has_ports; // ports were readable (not a non-first fragment, header present)
	__u8 icmp_err;  // outer ICMP/ICMPv6 error type (quoted packet follows)
	__be16 sport;
	__be16 dport;
	__u8 saddr[16];
	__u8 daddr[16];
	void *l4;
};

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);
	if (v)
		*v += 1;
}

static __always_inline int lookup(__u8 kind, __u8 proto, __be16 port, __u8 family, const __u8 *addr)
{
	struct steer_key k = {};
	k.kind = kind;
	k.proto = proto;
	k.port = port;
	k.family = family;
	__builtin_memcpy(k.addr, addr, 16);
	return bpf_map_lookup_elem(&steer, &k) != 0;
}

static __always_inline int is_icmp_error(__u8 proto, __u8 type)
{
	if (proto == PROTO_ICMP)
		return type == 3 || type == 4 || type == 11 || type == 12;
	if (proto == PROTO_ICMPV6)
		return type >= 1 && type <= 4;
	return 0;
}

// Parses an IP header at `p` (of `family`) and the ports behind it. Returns 0 on success, -1 if
// the packet is truncated or not IP.
static __always_inline int parse_ip(void *p, void *end, __u8 family, struct flow *f)
{
	void *l4;
	int frag_later = 0;

	f->family = family;
	if (family == FAM_V4) {
		struct ipv4_hdr_ *ip = p;
		if ((void *)(ip + 1) > end)
			return -1;
		__u8 ihl = ip->ihl_ver & 0x0f;
		if ((ip->ihl_ver >> 4) != 4 || ihl < 5)
			return -1;
		__builtin_memcpy(f->saddr, ip->saddr, 4);
		__builtin_memcpy(f->daddr, ip->daddr, 4);
		f->proto = ip->protocol;
		if (ip->frag_off & bpf_htons(0x1fff))
			frag_later = 1;
		l4 = p + ihl * 4;
	} else {
		struct ipv6_hdr_ *ip6 = p;
		if ((void *)(ip6 + 1) > end)
			return -1;
		if ((bpf_ntohl(ip6->vtc_flow) >> 28) != 6)
			return -1;
		__builtin_memcpy(f->saddr, ip6->saddr, 16);
		__builtin_memcpy(f->daddr, ip6->daddr, 16);
		__u8 nh = ip6->nexthdr;
		l4 = (void *)(ip6 + 1);
#pragma unroll
		for (int i = 0; i < 4; i++) {
			if (nh == 0 || nh == 43 || nh == 60) { // hop-by-hop, routing, destination opts
				__u8 *eh = l4;
				if ((void *)(eh + 2) > end)
					return -1;
				nh = eh[0];
				l4 += (eh[1] + 1) * 8;
			} else if (nh == 44) { // fragment header: 8 bytes
				__u8 *fh = l4;
				if ((void *)(fh + 8) > end)
					return -1;
				nh = fh[0];
				if (((fh[2] << 8) | fh[3]) & 0xfff8)
					frag_later = 1;
				l4 += 8;
			} else {
				break;
			}
		}
		f->proto = nh;
	}
	f->l4 = l4;
	if (frag_later)
		return 0;
	if (f->proto == PROTO_TCP || f->proto == PROTO_UDP || f->proto == PROTO_SCTP) {
		__be16 *ports = l4;
		if ((void *)(ports + 2) > end)
			return 0;
		f->sport = ports[0];
		f->dport = ports[1];
		f->has_ports = 1;
	} else if (f->proto == PROTO_ICMP || f->proto == PROTO_ICMPV6) {
		__u8 *icmp = l4;
		if ((void *)(icmp + 8) > end)
			return 0;
		if (is_icmp_error(f->proto, icmp[0]))
			f->icmp_err = 1;
	}
	return 0;
}

// Packet travelling towards us: service traffic or a NAT reply.
static __always_inline int match_inbound(struct flow *f)
{
	if (f->has_ports) {
		if (f->dport && lookup(KIND_DST, f->proto, f->dport, f->family, f->daddr))
			return 1;
		if (lookup(KIND_DST, f->proto, 0, f->family, f->daddr))
			return 1;
		if (f->sport && lookup(KIND_SRC, f->proto, f->sport, f->family, f->saddr))
			return 1;
	} else if (lookup(KIND_VIP, 0, 0, f->family, f->daddr)) {
		return 1;
	}
	return lookup(KIND_DST, 0, 0, f->family, f->daddr);
}

// Packet quoted in an ICMP error: one we (the engine) sent, so its roles are reversed.
static __always_inline int match_quoted(struct flow *q)
{
	if (q->has_ports && q->sport && lookup(KIND_DST, q->proto, q->sport, q->family, q->saddr))
		return 1;
	if (lookup(KIND_DST, q->proto, 0, q->family, q->saddr))
		return 1;
	if (lookup(KIND_DST, 0, 0, q->family, q->saddr))
		return 1;
	if (q->has_ports && q->dport && lookup(KIND_SRC, q->proto, q->dport, q->family, q->daddr))
		return 1;
	return 0;
}

SEC("xdp")
int lvs_steer(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	void *p;
	__u16 h_proto;
	struct flow f = {};
	int hit = 0;

	if ((void *)(eth + 1) > end)
		goto pass;
	h_proto = eth->h_proto;
	p = eth + 1;
#pragma unroll
	for (int i = 0; i < 2; i++) {
		if (h_proto == bpf_htons(ETH_P_8021Q_) || h_proto == bpf_htons(ETH_P_8021AD_)) {
			struct vlan_hdr_ *vh = p;
			if ((void *)(vh + 1) > end)
				goto pass;
			h_proto = vh->proto;
			p = vh + 1;
		}
	}
	if (h_proto == bpf_htons(ETH_P_IP_)) {
		if (parse_ip(p, end, FAM_V4, &f) < 0)
			goto pass;
	} else if (h_proto == bpf_htons(ETH_P_IPV6_)) {
		if (parse_ip(p, end, FAM_V6, &f) < 0)
			goto pass;
	} else {
		goto pass;
	}

	if (f.proto == PROTO_ICMP || f.proto == PROTO_ICMPV6) {
		// Echo, neighbour discovery, router advertisements...: the kernel owns them. Errors
		// go to the engine when they quote a packet of ours.
		if (f.icmp_err) {
			struct flow q = {};
			if (parse_ip(f.l4 + 8, end, f.family, &q) == 0 && match_quoted(&q))
				hit = 1;
		}
	} else if (match_inbound(&f)) {
		hit = 1;
	}
	if (!hit)
		goto pass;
	count(STAT_REDIRECT);
	return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS);
pass:
	count(STAT_PASS);
	return XDP_PASS;
}

char _license[] SEC("license") = "Dual MIT/GPL";
