/* rte_acl on a ClassBench rule file and a trace, next to Bowman's flat
 * classifier: builds the context (first-match: an earlier line has a higher
 * priority), checks every algorithm's answer against the rule numbers Bowman
 * gave for the same headers, and prints lookups/s per algorithm.
 * With a pcap of the same headers as Ethernet frames (what Bowman classifies),
 * it also runs rte_acl the way DPDK's l3fwd-acl feeds it: a pointer 8 bytes
 * into each IPv4 header (TTL), the fields at fixed offsets from there
 * (IHL 5 assumed, nothing bounds-checked).
 *   acl_classbench EAL-ARGS -- RULES TRACE EXPECTED [FRAMES.pcap] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <time.h>
#include <arpa/inet.h>
#include <rte_eal.h>
#include <rte_acl.h>
#include <rte_vect.h>
#include <pcap/pcap.h>

struct tuple { uint8_t proto; uint8_t pad[3]; uint32_t src, dst; uint16_t sport, dport; };

enum { F_PROTO, F_SRC, F_DST, F_SPORT, F_DPORT, NFIELDS };
static struct rte_acl_field_def defs[NFIELDS] = {
    { .type = RTE_ACL_FIELD_TYPE_BITMASK, .size = 1, .field_index = F_PROTO, .input_index = 0, .offset = offsetof(struct tuple, proto) },
    { .type = RTE_ACL_FIELD_TYPE_MASK, .size = 4, .field_index = F_SRC, .input_index = 1, .offset = offsetof(struct tuple, src) },
    { .type = RTE_ACL_FIELD_TYPE_MASK, .size = 4, .field_index = F_DST, .input_index = 2, .offset = offsetof(struct tuple, dst) },
    { .type = RTE_ACL_FIELD_TYPE_RANGE, .size = 2, .field_index = F_SPORT, .input_index = 3, .offset = offsetof(struct tuple, sport) },
    { .type = RTE_ACL_FIELD_TYPE_RANGE, .size = 2, .field_index = F_DPORT, .input_index = 3, .offset = offsetof(struct tuple, dport) },
};
/* From the IPv4 TTL on: ttl, proto, checksum, src, dst, sport, dport. */
static struct rte_acl_field_def frame_defs[NFIELDS] = {
    { .type = RTE_ACL_FIELD_TYPE_BITMASK, .size = 1, .field_index = F_PROTO, .input_index = 0, .offset = 1 },
    { .type = RTE_ACL_FIELD_TYPE_MASK, .size = 4, .field_index = F_SRC, .input_index = 1, .offset = 4 },
    { .type = RTE_ACL_FIELD_TYPE_MASK, .size = 4, .field_index = F_DST, .input_index = 2, .offset = 8 },
    { .type = RTE_ACL_FIELD_TYPE_RANGE, .size = 2, .field_index = F_SPORT, .input_index = 3, .offset = 12 },
    { .type = RTE_ACL_FIELD_TYPE_RANGE, .size = 2, .field_index = F_DPORT, .input_index = 3, .offset = 14 },
};
RTE_ACL_RULE_DEF(acl_rule, NFIELDS);

static const struct { const char *name; enum rte_acl_classify_alg alg; } algs[] = {
    {"scalar", RTE_ACL_CLASSIFY_SCALAR}, {"sse", RTE_ACL_CLASSIFY_SSE}, {"avx2", RTE_ACL_CLASSIFY_AVX2},
    {"avx512x16", RTE_ACL_CLASSIFY_AVX512X16}, {"avx512x32", RTE_ACL_CLASSIFY_AVX512X32} };

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

static int parse_prefix(const char *s, uint32_t *addr, uint32_t *len) {
    unsigned a, b, c, d, l;
    if (sscanf(s, "%u.%u.%u.%u/%u", &a, &b, &c, &d, &l) != 5 || l > 32) return -1;
    *addr = a << 24 | b << 16 | c << 8 | d; *len = l;
    return 0;
}

static struct rte_acl_ctx *build(struct acl_rule *rules, int nr, const struct rte_acl_field_def *fd, const char *name) {
    struct rte_acl_param prm = { .name = name, .socket_id = SOCKET_ID_ANY, .rule_size = RTE_ACL_RULE_SZ(NFIELDS), .max_rule_num = nr };
    struct rte_acl_ctx *ctx = rte_acl_create(&prm);
    if (!ctx || rte_acl_add_rules(ctx, (struct rte_acl_rule *)rules, nr)) { fprintf(stderr, "cannot add rules\n"); return NULL; }
    struct rte_acl_config cfg = { .num_categories = 1, .num_fields = NFIELDS };
    memcpy(cfg.defs, fd, sizeof defs);
    double t0 = now();
    if (rte_acl_build(ctx, &cfg)) { fprintf(stderr, "rte_acl_build failed\n"); return NULL; }
    printf("rules %d, build %.1f ms\n", nr, (now() - t0) * 1e3);
    return ctx;
}

/* Every algorithm: answers checked against Bowman's, then the best of five rounds of four passes in bursts of 64. */
static void run(struct rte_acl_ctx *ctx, const uint8_t **data, uint32_t *res, int nt, const int *expected, const char *what) {
    for (size_t a = 0; a < sizeof algs / sizeof algs[0]; a++) {
        if (rte_acl_classify_alg(ctx, data, res, 64 < nt ? 64 : nt, 1, algs[a].alg) != 0) { printf("%s: unavailable\n", algs[a].name); continue; }
        int mismatches = 0;
        for (int i = 0; i < nt; i += 64) {
            int k = nt - i < 64 ? nt - i : 64;
            rte_acl_classify_alg(ctx, data + i, res + i, k, 1, algs[a].alg);
        }
        for (int i = 0; i < nt; i++) if ((res[i] == 0 ? -1 : (int)res[i]) != expected[i]) mismatches++;
        double best = 1e30;
        for (int round = 0; round < 5; round++) {
            double s0 = now();
            for (int rep = 0; rep < 4; rep++)
                for (int i = 0; i < nt; i += 64) {
                    int k = nt - i < 64 ? nt - i : 64;
                    rte_acl_classify_alg(ctx, data + i, res + i, k, 1, algs[a].alg);
                }
            double dt = (now() - s0) / (4.0 * nt);
            if (dt < best) best = dt;
        }
        printf("%s%s: %.2f M lookups/s (%.0f ns), %d of %d differ from Bowman\n", algs[a].name, what, 1e-6 / best, best * 1e9, mismatches, nt);
    }
}

int main(int argc, char **argv) {
    int n = rte_eal_init(argc, argv);
    if (n < 0) { fprintf(stderr, "EAL init failed\n"); return 1; }
    argc -= n; argv += n;
    if (argc < 4) { fprintf(stderr, "usage: ... -- RULES TRACE EXPECTED [FRAMES.pcap]\n"); return 1; }
    rte_vect_set_max_simd_bitwidth(RTE_VECT_SIMD_512);

    FILE *f = fopen(argv[1], "r");
    if (!f) { perror(argv[1]); return 1; }
    struct acl_rule *rules = calloc(20000, sizeof(*rules));
    char line[512]; int nr = 0;
    while (fgets(line, sizeof line, f) && nr < 20000) {
        char sp[64], dp[64]; unsigned slo, shi, dlo, dhi, proto, pmask;
        if (sscanf(line, "@%63s %63s %u : %u %u : %u %x/%x", sp, dp, &slo, &shi, &dlo, &dhi, &proto, &pmask) != 8) continue;
        struct acl_rule *r = &rules[nr];
        uint32_t a, l;
        if (parse_prefix(sp, &a, &l)) continue;
        r->field[F_SRC].value.u32 = a; r->field[F_SRC].mask_range.u32 = l;
        if (parse_prefix(dp, &a, &l)) continue;
        r->field[F_DST].value.u32 = a; r->field[F_DST].mask_range.u32 = l;
        r->field[F_PROTO].value.u8 = (uint8_t)proto; r->field[F_PROTO].mask_range.u8 = (uint8_t)pmask;
        r->field[F_SPORT].value.u16 = slo; r->field[F_SPORT].mask_range.u16 = shi;
        r->field[F_DPORT].value.u16 = dlo; r->field[F_DPORT].mask_range.u16 = dhi;
        nr++;
        r->data.userdata = nr;   /* the rule's line number */
        r->data.category_mask = 1;
    }
    fclose(f);
    for (int i = 0; i < nr; i++) rules[i].data.priority = nr - i;   /* earlier line wins */

    FILE *t = fopen(argv[2], "r"), *e = fopen(argv[3], "r");
    if (!t || !e) { fprintf(stderr, "cannot open trace or expected\n"); return 1; }
    int cap = 1 << 20, nt = 0;
    struct tuple *tuples = calloc(cap, sizeof(*tuples));
    int *expected = calloc(cap, sizeof(int));
    unsigned s, d, p1, p2, pr;
    while (nt < cap && fscanf(t, "%u %u %u %u %u", &s, &d, &p1, &p2, &pr) == 5) {
        tuples[nt].proto = (uint8_t)pr; tuples[nt].src = htonl(s); tuples[nt].dst = htonl(d);
        tuples[nt].sport = htons((uint16_t)p1); tuples[nt].dport = htons((uint16_t)p2);
        if (fscanf(e, "%d", &expected[nt]) != 1) { fprintf(stderr, "expected file too short\n"); return 1; }
        nt++;
    }
    const uint8_t **data = malloc(nt * sizeof(*data));
    uint32_t *res = malloc(nt * sizeof(*res));
    for (int i = 0; i < nt; i++) data[i] = (const uint8_t *)&tuples[i];

    printf("headers %d\n", nt);
    struct rte_acl_ctx *ctx = build(rules, nr, defs, "classbench");
    if (!ctx) return 1;
    run(ctx, data, res, nt, expected, "");
    rte_acl_free(ctx);

    if (argc > 4) {
        /* The same headers as frames: pointers into them, l3fwd-acl style. */
        char err[PCAP_ERRBUF_SIZE];
        pcap_t *pc = pcap_open_offline(argv[4], err);
        if (!pc) { fprintf(stderr, "%s: %s\n", argv[4], err); return 1; }
        uint8_t *frames = aligned_alloc(64, (size_t)nt * 128);
        struct pcap_pkthdr *h; const u_char *bytes; int nf = 0, skipped = 0;
        while (nf < nt && pcap_next_ex(pc, &h, &bytes) == 1) {
            uint8_t *fr = frames + (size_t)nf * 128;
            memcpy(fr, bytes, h->caplen < 128 ? h->caplen : 128);
            if (h->caplen < 14 + 24 || fr[12] != 0x08 || fr[13] != 0x00 || fr[14] != 0x45) skipped++;
            data[nf] = fr + 14 + 8;
            nf++;
        }
        pcap_close(pc);
        if (nf != nt || skipped) { fprintf(stderr, "frames: %d of %d read, %d not IPv4 with IHL 5\n", nf, nt, skipped); return 1; }
        struct rte_acl_ctx *fctx = build(rules, nr, frame_defs, "classbench-frames");
        if (!fctx) return 1;
        run(fctx, data, res, nt, expected, " (on the frames)");
        rte_acl_free(fctx);
        free(frames);
    }

    return 0;
}
