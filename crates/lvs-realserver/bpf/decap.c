// SPDX-License-Identifier: MIT OR GPL-2.0
//
// lvs-realserver tunnel decapsulator (tc ingress, cls_bpf direct action).
//
// For real servers of a TUN (-i) virtual service on kernels that have no ipip / ip6_tunnel /
// gre / fou drivers. It strips the outer headers the director adds and hands the inner packet
// to the stack as if it had arrived bare on this interface:
//
//   * IPIP: IPv4-in-IPv4 (protocol 4), IPv6-in-IPv6 and IPv6-in-IPv4 (protocol 41),
//     IPv4-in-IPv6 (next header 4);
//   * GUE: UDP to `gue_port`, variant 0 with no flags (hlen optional words skipped) carrying
//     protocol 4 or 41, or variant 1 (direct IP after the UDP header);
//   * GRE: version 0 without routing, any of the C / K / S optional words, protocol 0x0800 or
//     0x86DD.
//
// Only packets whose outer destination is one of the configured local addresses are touched
// (all tunnelled packets when none is configured); non-first and first fragments, IPv6 outer
// headers followed by extension headers, GUE control messages, GUE with flags (remote checksum
// offload), and anything else pass unchanged (TC_ACT_OK). Outer checksums are not verified;
// the inner packet's own checksums are checked by the stack as usual.
//
// The outer header is removed with bpf_skb_adjust_room(BPF_ADJ_ROOM_MAC); when the inner
// family differs from the outer one the DECAP_L3 flag switches skb->protocol and the Ethernet
// type is rewritten, so the stack delivers it to the right protocol handler.

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#ifndef BPF_F_ADJ_ROOM_DECAP_L3_IPV4
#define BPF_F_ADJ_ROOM_DECAP_L3_IPV4 (1ULL << 7)
#endif
#ifndef BPF_F_ADJ_ROOM_DECAP_L3_IPV6
#define BPF_F_ADJ_ROOM_DECAP_L3_IPV6 (1ULL << 8)
#endif

#define ETH_HLEN_ 14
#define ETH_P_IP_ 0x0800
#define ETH_P_IPV6_ 0x86DD
#define PROTO_IPIP 4
#define PROTO_UDP 17
#define PROTO_IPV6 41
#define PROTO_GRE 47

#define MAX_LOCAL4 8
#define MAX_LOCAL6 4

#ifndef GUE_PORT_INIT
#define GUE_PORT_INIT 0
#endif

// Configuration, set by the loader before the program is loaded (read-only afterwards).
// GUE destination port in host order; 0 disables GUE decapsulation.
volatile const __u16 gue_port = GUE_PORT_INIT;
// Non-zero: skip the DECAP_L3 flags (Linux 6.3+) and switch families the pre-6.3 way.
volatile const __u8 force_compat = 0;
// Local IPv4 addresses (network order) and how many are set.
volatile const __u32 n_local4 = 0;
volatile const __u32 local4[MAX_LOCAL4] = {};
// Local IPv6 addresses and how many are set.
volatile const __u32 n_local6 = 0;
volatile const __u8 local6[MAX_LOCAL6][16] = {};

// Counters: 0 ipip, 1 gue, 2 gre, 3 passed unchanged.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} decap_stats SEC(".maps");

static __always_inline void count(__u32 i)
{
	__u64 *v = bpf_map_lookup_elem(&decap_stats, &i);
	if (v)
		*v += 1;
}

static __always_inline int pass(void)
{
	count(3);
	return TC_ACT_OK;
}

static __always_inline int local4_match(__u32 daddr)
{
	__u32 n = n_local4;
	if (n == 0)
		return 1;
#pragma unroll
	for (int i = 0; i < MAX_LOCAL4; i++) {
		if ((__u32)i < n && local4[i] == daddr)
			return 1;
	}
	return 0;
}

static __always_inline int local6_match(const __u8 *daddr)
{
	__u32 n = n_local6;
	if (n == 0)
		return 1;
#pragma unroll
	for (int i = 0; i < MAX_LOCAL6; i++) {
		int same = (__u32)i < n;
#pragma unroll
		for (int j = 0; j < 16; j++) {
			if (local6[i][j] != daddr[j])
				same = 0;
		}
		if (same)
			return 1;
	}
	return 0;
}

SEC("classifier")
int lvs_decap(struct __sk_buff *skb)
{
	__u8 outer[40];
	__u16 eth_proto;
	__u32 olen;
	__u8 next;
	int outer_v6;

	if (bpf_skb_load_bytes(skb, 12, &eth_proto, 2))
		return pass();
	if (eth_proto == bpf_htons(ETH_P_IP_)) {
		if (bpf_skb_load_bytes(skb, ETH_HLEN_, outer, 20))
			return pass();
		if ((outer[0] >> 4) != 4 || (outer[0] & 0xf) < 5)
			return pass();
		// More-fragments flag or a fragment offset: leave to the stack.
		if ((outer[6] & 0x3f) != 0 || outer[7] != 0)
			return pass();
		__u32 daddr;
		__builtin_memcpy(&daddr, &outer[16], 4);
		if (!local4_match(daddr))
			return pass();
		olen = (outer[0] & 0xf) * 4;
		next = outer[9];
		outer_v6 = 0;
	} else if (eth_proto == bpf_htons(ETH_P_IPV6_)) {
		if (bpf_skb_load_bytes(skb, ETH_HLEN_, outer, 40))
			return pass();
		if ((outer[0] >> 4) != 6)
			return pass();
		if (!local6_match(&outer[24]))
			return pass();
		olen = 40;
		next = outer[6];
		outer_v6 = 1;
	} else {
		return pass();
	}

	__u32 tlen = 0;
	__u8 inner = 0;
	__u32 kind = 0;
	__u32 l4 = ETH_HLEN_ + olen;

	if (next == PROTO_IPIP) {
		inner = 4;
	} else if (next == PROTO_IPV6) {
		inner = 6;
	} else if (next == PROTO_UDP) {
		__u16 port = gue_port;
		__u8 udp[12];
		if (port == 0)
			return pass();
		if (bpf_skb_load_bytes(skb, l4, udp, 12))
			return pass();
		if (udp[2] != (port >> 8) || udp[3] != (port & 0xff))
			return pass();
		__u8 v = udp[8] >> 6;
		if (v == 1) {
			// Variant 1: the IP header follows the UDP header directly.
			tlen = 8;
			inner = udp[8] >> 4;
		} else if (v == 0) {
			if (udp[8] & 0x20) // control message
				return pass();
			if (udp[10] != 0 || udp[11] != 0) // flags (private data, remcsum)
				return pass();
			tlen = 8 + 4 + (udp[8] & 0x1f) * 4;
			if (udp[9] == PROTO_IPIP)
				inner = 4;
			else if (udp[9] == PROTO_IPV6)
				inner = 6;
			else
				return pass();
		} else {
			return pass();
		}
		kind = 1;
	} else if (next == PROTO_GRE) {
		__u8 gre[4];
		if (bpf_skb_load_bytes(skb, l4, gre, 4))
			return pass();
		// Routing present, strict source route, recursion, flags or a version: not ours.
		if ((gre[0] & 0x4f) != 0 || gre[1] != 0)
			return pass();
		tlen = 4;
		if (gre[0] & 0x80)
			tlen += 4;
		if (gre[0] & 0x20)
			tlen += 4;
		if (gre[0] & 0x10)
			tlen += 4;
		if (gre[2] == 0x08 && gre[3] == 0x00)
			inner = 4;
		else if (gre[2] == 0x86 && gre[3] == 0xdd)
			inner = 6;
		else
			return pass();
		kind = 2;
	} else {
		return pass();
	}

	__u32 hlen = olen + tlen;
	if (hlen > 128)
		return pass();
	__u8 first;
	if (bpf_skb_load_bytes(skb, ETH_HLEN_ + hlen, &first, 1))
		return pass();
	if ((first >> 4) != inner)
		return pass();

	__u64 flags = 0;
	if (inner == 4 && outer_v6)
		flags = BPF_F_ADJ_ROOM_DECAP_L3_IPV4;
	else if (inner == 6 && !outer_v6)
		flags = BPF_F_ADJ_ROOM_DECAP_L3_IPV6;
	if (!flags) {
		if (bpf_skb_adjust_room(skb, -(__s32)hlen, BPF_ADJ_ROOM_MAC, 0))
			return TC_ACT_SHOT;
	} else if (force_compat || bpf_skb_adjust_room(skb, -(__s32)hlen, BPF_ADJ_ROOM_MAC, flags)) {
		// Kernels before 6.3 reject the DECAP_L3 flags. bpf_skb_change_proto switches
		// skb->protocol and resizes the room after the MAC header by the difference of
		// the two IP header sizes (IPv4 -> IPv6: 20 bytes more, IPv6 -> IPv4: 20 less);
		// the rest of the outer headers goes with a plain adjust_room.
		__u16 to = inner == 4 ? ETH_P_IP_ : ETH_P_IPV6_;
		__s32 rest = inner == 6 ? (__s32)hlen + 20 : (__s32)hlen - 20;
		if (bpf_skb_change_proto(skb, bpf_htons(to), 0))
			return TC_ACT_SHOT;
		if (bpf_skb_adjust_room(skb, -rest, BPF_ADJ_ROOM_MAC, 0))
			return TC_ACT_SHOT;
	}
	if (flags) {
		__u16 p = bpf_htons(inner == 4 ? ETH_P_IP_ : ETH_P_IPV6_);
		if (bpf_skb_store_bytes(skb, 12, &p, 2, 0))
			return TC_ACT_SHOT;
	}
	count(kind);
	return TC_ACT_OK;
}

char _license[] SEC("license") = "Dual MIT/GPL";
