// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Bowman's XDP program.
 *
 * Transit traffic goes to the engine's AF_XDP socket of the receive queue
 * (XSKMAP indexed by rx_queue_index). Traffic for the host itself stays with
 * the kernel so the router host remains reachable: packets to its own
 * addresses, ARP, IPv6 neighbour discovery, link-local traffic (GRASP uses
 * ff02::13) and management ports. Every verdict is counted per CPU.
 *
 * Headers are read through one bounds-checked cursor, as the verifier
 * requires. Built by scripts/setup with clang -O2 -target bpf. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/icmpv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <xdp/xdp_helpers.h>
#include "bowman_xdp_abi.h"

struct {
    __uint(type, BPF_MAP_TYPE_XSKMAP);
    __uint(max_entries, BOWMAN_MAX_QUEUES);
    __type(key, __u32);
    __type(value, __u32);
} bm_xsks SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, BOWMAN_MAX_HOST_ADDRESSES);
    __type(key, __u32);
    __type(value, __u8);
} bm_host_v4 SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, BOWMAN_MAX_HOST_ADDRESSES);
    __type(key, struct bowman_ipv6_key);
    __type(value, __u8);
} bm_host_v6 SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, BOWMAN_PORTS);
    __type(key, __u32);
    __type(value, __u8);
} bm_pass_ports SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, BOWMAN_HOST_FILTER_SLOTS);
    __type(key, __u32);
    __type(value, __u8);
} bm_host_filter SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, BOWMAN_CNT__MAX);
    __type(key, __u32);
    __type(value, struct bowman_counter_value);
} bm_counters SEC(".maps");

/* libxdp dispatcher: run at the default priority and let the next program
 * see what we pass, so Bowman coexists with other XDP programs. */
struct {
    __uint(priority, XDP_DEFAULT_RUN_PRIO);
    __uint(XDP_PASS, 1);
} XDP_RUN_CONFIG(bowman_xdp);

struct vlan_tag {
    __be16 tci;
    __be16 proto;
};

static __always_inline int count(struct xdp_md *ctx, __u32 reason, int action)
{
    struct bowman_counter_value *v = bpf_map_lookup_elem(&bm_counters, &reason);
    if (v) {
        v->packets++;
        v->bytes += ctx->data_end - ctx->data;
    }
    return action;
}

static __always_inline int port_is_pass(__u8 proto, __be16 port)
{
    __u32 k = bpf_ntohs(port);
    __u8 *v = bpf_map_lookup_elem(&bm_pass_ports, &k);
    return v && (*v & (proto == IPPROTO_TCP ? BOWMAN_PASS_TCP : BOWMAN_PASS_UDP));
}

/* Whether a host address may hash to this slot (see bowman_host_hash). */
static __always_inline int host_filter_hit(__u32 w0, __u32 w1, __u32 w2, __u32 w3)
{
    __u32 k = bowman_host_hash(w0, w1, w2, w3);
    __u8 *v = bpf_map_lookup_elem(&bm_host_filter, &k);
    return v && *v;
}

/* Ports of the L4 header at l4, or 0 when it is not TCP/UDP or not there. */
static __always_inline int l4_pass(void *l4, void *end, __u8 proto)
{
    if (proto == IPPROTO_TCP) {
        struct tcphdr *t = l4;
        if ((void *)(t + 1) > end) return 0;
        return port_is_pass(proto, t->dest) || port_is_pass(proto, t->source);
    }
    if (proto == IPPROTO_UDP) {
        struct udphdr *u = l4;
        if ((void *)(u + 1) > end) return 0;
        return port_is_pass(proto, u->dest);
    }
    return 0;
}

SEC("xdp")
int bowman_xdp(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end)
        return count(ctx, BOWMAN_CNT_DROP_RUNT, XDP_DROP);

    __be16 proto = eth->h_proto;
    void *cur = eth + 1;
#pragma unroll
    for (int i = 0; i < 2; i++) {
        if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
            break;
        struct vlan_tag *v = cur;
        if ((void *)(v + 1) > end)
            return count(ctx, BOWMAN_CNT_PASS_OTHER, XDP_PASS);
        proto = v->proto;
        cur = v + 1;
    }

    if (proto == bpf_htons(ETH_P_ARP))
        return count(ctx, BOWMAN_CNT_PASS_ARP, XDP_PASS);

    if (proto == bpf_htons(ETH_P_IP)) {
        struct iphdr *ip = cur;
        if ((void *)(ip + 1) > end)
            return count(ctx, BOWMAN_CNT_PASS_OTHER, XDP_PASS);
        __u32 dst = ip->daddr;
        if (host_filter_hit(dst, 0, 0, 0) && bpf_map_lookup_elem(&bm_host_v4, &dst))
            return count(ctx, BOWMAN_CNT_PASS_HOST_ADDR, XDP_PASS);
        /* 224.0.0.0/24: link-local multicast (routing protocols, IGMP). */
        if ((bpf_ntohl(dst) & 0xFFFFFF00) == 0xE0000000 || dst == 0xFFFFFFFF)
            return count(ctx, BOWMAN_CNT_PASS_LINK_LOCAL, XDP_PASS);
        __u32 ihl = ip->ihl * 4;
        if (ihl >= sizeof(*ip) && !(ip->frag_off & bpf_htons(0x1FFF))) {
            void *l4 = cur + ihl;
            if (l4 <= end && l4_pass(l4, end, ip->protocol))
                return count(ctx, BOWMAN_CNT_PASS_PORT, XDP_PASS);
        }
    } else if (proto == bpf_htons(ETH_P_IPV6)) {
        struct ipv6hdr *ip6 = cur;
        if ((void *)(ip6 + 1) > end)
            return count(ctx, BOWMAN_CNT_PASS_OTHER, XDP_PASS);
        __u8 b0 = ip6->daddr.in6_u.u6_addr8[0], b1 = ip6->daddr.in6_u.u6_addr8[1];
        /* ff02::/16 link-scope multicast (ND, MLD, GRASP ff02::13); fe80::/10. */
        if ((b0 == 0xFF && (b1 & 0x0F) <= 2) || (b0 == 0xFE && (b1 & 0xC0) == 0x80))
            return count(ctx, BOWMAN_CNT_PASS_LINK_LOCAL, XDP_PASS);
        __u32 *d = ip6->daddr.in6_u.u6_addr32;
        if (host_filter_hit(d[0], d[1], d[2], d[3])) {
            struct bowman_ipv6_key k;
            __builtin_memcpy(k.addr, ip6->daddr.in6_u.u6_addr8, 16);
            if (bpf_map_lookup_elem(&bm_host_v6, &k))
                return count(ctx, BOWMAN_CNT_PASS_HOST_ADDR, XDP_PASS);
        }
        void *l4 = ip6 + 1;
        if (ip6->nexthdr == IPPROTO_ICMPV6) {
            struct icmp6hdr *ic = l4;
            if ((void *)(ic + 1) <= end && ic->icmp6_type >= 133 && ic->icmp6_type <= 137)
                return count(ctx, BOWMAN_CNT_PASS_ND, XDP_PASS);
        } else if (l4_pass(l4, end, ip6->nexthdr)) {
            return count(ctx, BOWMAN_CNT_PASS_PORT, XDP_PASS);
        }
    } else {
        return count(ctx, BOWMAN_CNT_PASS_OTHER, XDP_PASS);
    }

    /* Transit: to the engine. With no socket bound on this queue the
     * redirect falls back to XDP_PASS (the low bits of flags). */
    int action = bpf_redirect_map(&bm_xsks, ctx->rx_queue_index, XDP_PASS);
    if (action == XDP_REDIRECT)
        return count(ctx, BOWMAN_CNT_REDIRECTED, action);
    return count(ctx, BOWMAN_CNT_PASS_NO_SOCKET, action);
}

char _license[] SEC("license") = "Dual BSD/GPL";
