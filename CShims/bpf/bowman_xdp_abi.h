/* Bowman XDP program ABI: map names, keys and values shared by the BPF
 * program (bowman_xdp.c) and user space (CBowmanXDP / BowmanIO).
 * Keep every struct fixed-size with explicit padding: both sides must agree
 * byte for byte. */
#ifndef BOWMAN_XDP_ABI_H
#define BOWMAN_XDP_ABI_H

#ifdef __bpf__
#include <linux/types.h>
typedef __u8 bm_u8; typedef __u16 bm_u16; typedef __u32 bm_u32; typedef __u64 bm_u64;
#else
#include <stdint.h>
typedef uint8_t bm_u8; typedef uint16_t bm_u16; typedef uint32_t bm_u32; typedef uint64_t bm_u64;
#endif

/* Map names as they appear in the object (bpf_object__find_map_by_name). */
#define BOWMAN_MAP_XSKS      "bm_xsks"       /* XSKMAP: rx queue index -> AF_XDP socket */
#define BOWMAN_MAP_HOST_V4   "bm_host_v4"    /* HASH: IPv4 address (network order) -> 1 */
#define BOWMAN_MAP_HOST_V6   "bm_host_v6"    /* HASH: struct bowman_ipv6_key -> 1 */
#define BOWMAN_MAP_PASS_PORT "bm_pass_ports" /* ARRAY[65536]: port (host order) -> BOWMAN_PASS_TCP|BOWMAN_PASS_UDP */
#define BOWMAN_MAP_HOST_FILTER "bm_host_filter" /* ARRAY[4096]: bowman_host_hash(addr) -> 1 if a host address may hash there */
#define BOWMAN_MAP_COUNTERS  "bm_counters"   /* PERCPU_ARRAY: enum bowman_counter -> struct bowman_counter_value */

#define BOWMAN_MAX_QUEUES 64
#define BOWMAN_MAX_HOST_ADDRESSES 256
#define BOWMAN_MAX_PASS_PORTS 64

struct bowman_ipv6_key {
    bm_u8 addr[16];
};

/* bm_pass_ports values: traffic to (or from, for TCP) this port always goes
 * to the kernel (SSH, GRASP, Bowman's control protocols). An array indexed
 * by port: the JIT inlines array lookups, a hash lookup costs far more on
 * every transit packet. */
#define BOWMAN_PASS_TCP 1
#define BOWMAN_PASS_UDP 2
#define BOWMAN_PORTS 65536

/* A filter in front of the host-address hash maps: transit packets, whose
 * destination is not the host's, almost never hit a set slot and so skip the
 * hash lookup. Both sides compute the slot with this function. */
#define BOWMAN_HOST_FILTER_SLOTS 4096
static inline bm_u32 bowman_host_hash(bm_u32 w0, bm_u32 w1, bm_u32 w2, bm_u32 w3) {
    bm_u32 h = (w0 ^ (w1 * 0x9E3779B1u) ^ (w2 * 0x85EBCA77u) ^ (w3 * 0xC2B2AE3Du)) * 0x27D4EB2Fu;
    return (h >> 20) & (BOWMAN_HOST_FILTER_SLOTS - 1);
}

/* Why a packet got its verdict; indexes the counters map. */
enum bowman_counter {
    BOWMAN_CNT_REDIRECTED = 0,   /* handed to an AF_XDP socket */
    BOWMAN_CNT_PASS_HOST_ADDR,   /* destination is one of the host's addresses */
    BOWMAN_CNT_PASS_ARP,         /* ARP */
    BOWMAN_CNT_PASS_ND,          /* ICMPv6 router/neighbour discovery, redirect */
    BOWMAN_CNT_PASS_LINK_LOCAL,  /* link-local unicast or link-scope multicast */
    BOWMAN_CNT_PASS_PORT,        /* management port (bm_pass_ports) */
    BOWMAN_CNT_PASS_NO_SOCKET,   /* no AF_XDP socket on this queue */
    BOWMAN_CNT_PASS_OTHER,       /* not IP/ARP, or unparsable beyond L2 */
    BOWMAN_CNT_DROP_RUNT,        /* shorter than an Ethernet header */
    BOWMAN_CNT__MAX
};

struct bowman_counter_value {
    bm_u64 packets;
    bm_u64 bytes;
};

#endif
