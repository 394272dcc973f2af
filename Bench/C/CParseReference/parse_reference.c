#include "parse_reference.h"
#include <string.h>

static inline uint16_t be16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return __builtin_bswap16(v); }
static inline uint32_t be32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return __builtin_bswap32(v); }
static inline uint64_t be64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return __builtin_bswap64(v); }

enum { F_FRAG = 1, F_LATER = 2, F_TRUNC = 4, F_L4 = 8, F_OPTS = 16, F_TRAILER = 32, F_LLC = 64, F_DF = 128 };

static int parse_l4(const uint8_t *p, size_t l4, size_t end, uint8_t proto, ref_meta *m) {
    size_t avail = end - l4;
    switch (proto) {
    case 17: {
        if (avail < 8) return -10;
        m->sport = be16(p + l4); m->dport = be16(p + l4 + 2); m->flags |= F_L4;
        size_t ulen = be16(p + l4 + 4);
        if (ulen < 8 || (ulen > avail && !(m->flags & (F_TRUNC | F_FRAG)))) return -11;
        return 0;
    }
    case 6: {
        if (avail < 20) return -12;
        m->sport = be16(p + l4); m->dport = be16(p + l4 + 2);
        m->tcp_flags = p[l4 + 13];
        size_t doff = (size_t)(p[l4 + 12] >> 4) << 2;
        if (doff < 20) return -13;
        if (avail < doff) return -14;
        m->flags |= F_L4;
        return 0;
    }
    case 1:
        if (avail < 8) return -15;
        m->sport = p[l4]; m->dport = p[l4 + 1]; m->flags |= F_L4; return 0;
    case 58:
        if (avail < 4) return -16;
        m->sport = p[l4]; m->dport = p[l4 + 1]; m->flags |= F_L4; return 0;
    default:
        return 0;
    }
}

int ref_parse_ethernet(const uint8_t *p, size_t n, ref_meta *m) {
    memset(m, 0, sizeof(*m));
    if (n > 65535) n = 65535;
    if (n < 14) return -1;
    uint16_t type = be16(p + 12);
    size_t off = 14;
    int tags = 0;
    while (type == 0x8100 || type == 0x88A8 || type == 0x9100) {
        if (tags == 2) return -2;
        if (n - off < 4) return -3;
        m->vlan_tci[tags] = be16(p + off);
        type = be16(p + off + 2);
        off += 4; tags++;
    }
    m->vlan_count = (uint8_t)tags;
    if (type < 0x0600) {
        m->flags |= F_LLC;
        if (n - off < 3) return -30;
        if (p[off] == 0xAA && p[off + 1] == 0xAA && p[off + 2] == 0x03) {
            if (n - off < 8) return -31;
            type = be16(p + off + 6);
            off += 8;
        } else { m->l3 = (uint16_t)off; return 0; }
    }
    m->ethertype = type;
    m->l3 = (uint16_t)off;
    if (type == 0x0800) {
        if (n - off < 20) return -4;
        uint8_t vihl = p[off];
        if ((vihl >> 4) != 4) return -5;
        size_t ihl = (size_t)(vihl & 15) << 2;
        if (ihl < 20) return -6;
        if (n - off < ihl) return -7;
        size_t total = be16(p + off + 2);
        m->version = 4; m->proto = p[off + 9];
        m->tos = p[off + 1]; m->ttl = p[off + 8];
        m->src_lo = be32(p + off + 12); m->dst_lo = be32(p + off + 16);
        if (ihl > 20) m->flags |= F_OPTS;
        if (total < ihl) return -8;
        size_t end = off + total;
        if (end > n) { m->flags |= F_TRUNC; end = n; } else if (end < n) m->flags |= F_TRAILER;
        m->l3_end = (uint16_t)end;
        uint16_t frag = be16(p + off + 6);
        if (frag & 0x4000) m->flags |= F_DF;
        if (frag & 0x3FFF) { m->flags |= F_FRAG; if (frag & 0x1FFF) m->flags |= F_LATER; }
        m->l4 = (uint16_t)(off + ihl);
        if (m->flags & F_LATER) return 0;
        return parse_l4(p, off + ihl, end, m->proto, m);
    }
    if (type == 0x86DD) {
        if (n - off < 40) return -20;
        uint32_t w0 = be32(p + off);
        if ((w0 >> 28) != 6) return -21;
        m->version = 6;
        m->tos = (uint8_t)(w0 >> 20); m->ttl = p[off + 7];
        m->src_hi = be64(p + off + 8); m->src_lo = be64(p + off + 16);
        m->dst_hi = be64(p + off + 24); m->dst_lo = be64(p + off + 32);
        size_t payload = be16(p + off + 4);
        uint8_t next = p[off + 6];
        size_t end = off + 40 + payload;
        if (payload == 0 && next == 0) end = n;
        if (end > n) { m->flags |= F_TRUNC; end = n; } else if (end < n) m->flags |= F_TRAILER;
        m->l3_end = (uint16_t)end;
        size_t cur = off + 40;
        int count = 0;
        while (next == 0 || next == 43 || next == 44 || next == 60 || next == 51) {
            if (count == 8) return -22;
            if (end - cur < 8) return -23;
            uint8_t following = p[cur];
            size_t len;
            if (next == 44) { len = 8; m->flags |= F_FRAG; if (be16(p + cur + 2) & 0xFFF8) m->flags |= F_LATER; }
            else if (next == 51) len = ((size_t)p[cur + 1] + 2) << 2;
            else len = ((size_t)p[cur + 1] + 1) << 3;
            if (end - cur < len) return -24;
            if (next == 43) {
                uint8_t type = p[cur + 2], left = p[cur + 3];
                size_t addrs = p[cur + 1] >> 1;
                if ((type == 0 || type == 2) && left > 0 && addrs > 0) m->pseudo_dst = (uint16_t)(cur + 8 + (addrs - 1) * 16);
            } else if (next == 0 || next == 60) {
                size_t o = cur + 2, e = cur + len;
                while (o < e) {
                    uint8_t t = p[o];
                    if (t == 0) { o++; continue; }
                    if (e - o < 2) return -25;
                    size_t ol = p[o + 1];
                    if (e - o - 2 < ol) return -25;
                    if (next == 60 && t == 201 && ol == 16) m->pseudo_src = (uint16_t)(o + 2);
                    o += 2 + ol;
                }
            }
            count++; m->ext_count = (uint8_t)count; cur += len; next = following;
            if (m->flags & F_LATER) break;
        }
        m->proto = next; m->l4 = (uint16_t)cur;
        if (m->flags & F_LATER) return 0;
        return parse_l4(p, cur, end, next, m);
    }
    return 0;
}

uint64_t ref_parse_burst(const uint8_t *base, size_t frame_size, const uint32_t *idx,
                         const uint32_t *len, int count, int *errors) {
    uint64_t h = 0;
    ref_meta m;
    for (int k = 0; k < count; k++) {
        if (ref_parse_ethernet(base + (size_t)idx[k] * frame_size, len[k], &m) != 0) { (*errors)++; continue; }
        h ^= (m.src_lo * 0x9E3779B97F4A7C15ull) ^ (m.dst_lo + m.src_hi + m.dst_hi)
             ^ ((uint64_t)m.sport << 32 | (uint64_t)m.dport << 16 | m.proto);
        h = (h << 7) | (h >> 57);
    }
    return h;
}
