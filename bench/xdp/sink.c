// SPDX-License-Identifier: MIT OR Apache-2.0
// The benchmark sink: drops every IPv4 datagram the generator's traffic can turn into
// (UDP, IP-in-IP, GRE) at the earliest point, and passes everything else (ARP, ICMP, TCP)
// to the kernel, so neighbour resolution and the TCP workloads keep working. The frames are
// counted by the interface's rx statistics (veth counts XDP-processed frames there).
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

SEC("xdp")
int sink(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
        return XDP_PASS;
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > end)
        return XDP_PASS;
    if (ip->protocol == IPPROTO_UDP || ip->protocol == IPPROTO_IPIP || ip->protocol == IPPROTO_GRE)
        return XDP_DROP;
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
