// The 5-tuple parse of BowmanPacket.PacketParser written in C, with the
// same checks (VLAN x2, IPv4 IHL/total length/fragments, IPv6 extension
// headers, UDP length, TCP data offset), as the reference Swift is held to.
#ifndef PARSE_REFERENCE_H
#define PARSE_REFERENCE_H
#include <stdint.h>
#include <stddef.h>

/// Field for field what BowmanPacket.PacketMetadata records.
typedef struct {
    uint64_t src_hi, src_lo, dst_hi, dst_lo;
    uint16_t sport, dport;
    uint8_t proto, version;
    uint16_t l3, l4, l3_end, ethertype;
    uint8_t vlan_count;
    uint16_t vlan_tci[2];
    uint8_t mpls_labels, ttl, tos, ext_count;
    uint16_t flags;
    uint8_t tcp_flags;
    uint16_t pseudo_src, pseudo_dst;
} ref_meta;

/// 0 on success, a negative error code otherwise.
int ref_parse_ethernet(const uint8_t *p, size_t n, ref_meta *m);

/// Parses `count` frames at base + idx[k] * frame_size (lengths in len[k])
/// and folds their 5-tuples into a hash; errors are counted in *errors.
uint64_t ref_parse_burst(const uint8_t *base, size_t frame_size, const uint32_t *idx,
                         const uint32_t *len, int count, int *errors);
#endif
