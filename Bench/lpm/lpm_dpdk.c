/* lpm_dpdk: DPDK's rte_lpm and rte_lpm6 on the prefixes and addresses that
 * Bowman's lpm-bench wrote (--dump DIR), in the same run: build time, heap
 * memory, lookups/s with rte_lpm_lookup_bulk / rte_lpm6_lookup_bulk_func in
 * bursts of 64 and one at a time, one /32 or /128 added and deleted; and
 * every answer compared with Bowman's (DIR/*.expected).
 *
 * usage: lpm_dpdk [EAL args] -- DIR
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lpm.h>
#include <rte_lpm6.h>
#include <rte_malloc.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void *slurp(const char *dir, const char *name, size_t *len)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "rb");
	if (!f) { perror(path); exit(1); }
	fseek(f, 0, SEEK_END);
	*len = ftell(f);
	fseek(f, 0, SEEK_SET);
	void *p = malloc(*len + 1);
	if (fread(p, 1, *len, f) != *len) { perror(path); exit(1); }
	((char *)p)[*len] = 0;
	fclose(f);
	return p;
}

static int count_lines(const char *text, size_t len)
{
	int n = 0;
	for (size_t i = 0; i < len; i++) n += text[i] == '\n';
	return n;
}

static size_t heap_bytes(void)
{
	struct rte_malloc_socket_stats s;
	size_t total = 0;
	for (int sock = 0; sock < RTE_MAX_NUMA_NODES; sock++)
		if (rte_malloc_get_socket_stats(sock, &s) == 0) total += s.heap_allocsz_bytes;
	return total;
}

#define PASSES 7
#define BURST 64

/* Median of PASSES passes, ns per lookup. */
#define TIMED(result, n, body) do { \
	double v_[PASSES]; body; \
	for (int p_ = 0; p_ < PASSES; p_++) { double a_ = now(); body; v_[p_] = (now() - a_) * 1e9 / (n); } \
	qsort(v_, PASSES, sizeof(double), cmpd); result = v_[PASSES / 2]; } while (0)

static void v4(const char *dir)
{
	size_t len;
	char *text = slurp(dir, "v4.routes", &len);
	int lines = count_lines(text, len);
	struct rte_lpm_config cfg = { .max_rules = lines + 1024, .number_tbl8s = 1 << 16, .flags = 0 };
	size_t h0 = heap_bytes();
	double t0 = now();
	struct rte_lpm *lpm = rte_lpm_create("bowman_v4", SOCKET_ID_ANY, &cfg);
	if (!lpm) { printf("rte_lpm_create: %s\n", rte_strerror(rte_errno)); exit(1); }
	char *save, *line = strtok_r(text, "\n", &save);
	int n = 0;
	while (line) {
		char addr[64]; int plen; unsigned nh;
		if (sscanf(line, "%63[^/]/%d %u", addr, &plen, &nh) != 3) { printf("bad line %s\n", line); exit(1); }
		struct in_addr a;
		inet_pton(AF_INET, addr, &a);
		if (rte_lpm_add(lpm, ntohl(a.s_addr), plen, nh)) { printf("rte_lpm_add %s failed\n", line); exit(1); }
		n++;
		line = strtok_r(NULL, "\n", &save);
	}
	double build = now() - t0;
	size_t mem = heap_bytes() - h0;
	const char *sets[] = {"random", "prefixes"};
	for (int s = 0; s < 2; s++) {
		char name[64];
		size_t alen, elen;
		snprintf(name, sizeof name, "v4-%s.addr", sets[s]);
		uint32_t *ips = slurp(dir, name, &alen);
		snprintf(name, sizeof name, "v4-%s.expected", sets[s]);
		int32_t *want = slurp(dir, name, &elen);
		size_t k = alen / 4;
		uint32_t *hops = aligned_alloc(64, k * 4 + 64);
		double bulk, single;
		TIMED(bulk, k, for (size_t i = 0; i + BURST <= k; i += BURST) rte_lpm_lookup_bulk(lpm, ips + i, hops + i, BURST));
		size_t bad = 0;
		for (size_t i = 0; i < k; i++) {
			int32_t got = (hops[i] & RTE_LPM_LOOKUP_SUCCESS) ? (int32_t)(hops[i] & 0xFFFFFF) : -1;
			bad += got != want[i];
		}
		TIMED(single, k, for (size_t i = 0; i < k; i++) { uint32_t h; hops[i] = rte_lpm_lookup(lpm, ips[i], &h) ? 0 : h; });
		printf("LPM v4 %s rte_lpm-bulk64 %.2f M/s (%.2f ns), one at a time %.2f M/s; %d prefixes built in %.0f ms, %.1f MB; answers differing from Bowman's: %zu\n",
		       sets[s], 1e3 / bulk, bulk, 1e3 / single, n, build * 1e3, mem / 1e6, bad);
		free(ips); free(want); free(hops);
	}
	/* One /32 added and deleted (median of 51). */
	double add[51], del[51];
	for (int r = 0; r < 51; r++) {
		uint32_t ip = 0x8CEE3000u + 77; /* inside 140.238.48.0/20 */
		double a = now();
		rte_lpm_add(lpm, ip, 32, 70000 + r);
		double b = now();
		rte_lpm_delete(lpm, ip, 32);
		double c = now();
		add[r] = (b - a) * 1e6; del[r] = (c - b) * 1e6;
	}
	qsort(add, 51, sizeof(double), cmpd); qsort(del, 51, sizeof(double), cmpd);
	printf("LPM v4 update rte_lpm add /32 %.1f us, delete %.1f us\n", add[25], del[25]);
	rte_lpm_free(lpm);
	free(text);
}

static void v6(const char *dir)
{
	size_t len;
	char *text = slurp(dir, "v6.routes", &len);
	int lines = count_lines(text, len);
	struct rte_lpm6_config cfg = { .max_rules = lines + 1024, .number_tbl8s = 1 << 18, .flags = 0 };
	size_t h0 = heap_bytes();
	double t0 = now();
	struct rte_lpm6 *lpm = rte_lpm6_create("bowman_v6", SOCKET_ID_ANY, &cfg);
	if (!lpm) { printf("rte_lpm6_create: %s\n", rte_strerror(rte_errno)); exit(1); }
	char *save, *line = strtok_r(text, "\n", &save);
	int n = 0;
	while (line) {
		char addr[128]; int plen; unsigned nh;
		if (sscanf(line, "%127[^/]/%d %u", addr, &plen, &nh) != 3) { printf("bad line %s\n", line); exit(1); }
		uint8_t a[16];
		inet_pton(AF_INET6, addr, a);
		if (rte_lpm6_add(lpm, a, plen, nh)) { printf("rte_lpm6_add %s failed\n", line); exit(1); }
		n++;
		line = strtok_r(NULL, "\n", &save);
	}
	double build = now() - t0;
	size_t mem = heap_bytes() - h0;
	const char *sets[] = {"random", "prefixes"};
	for (int s = 0; s < 2; s++) {
		char name[64];
		size_t alen, elen;
		snprintf(name, sizeof name, "v6-%s.addr", sets[s]);
		uint8_t (*ips)[16] = slurp(dir, name, &alen);
		snprintf(name, sizeof name, "v6-%s.expected", sets[s]);
		int32_t *want = slurp(dir, name, &elen);
		size_t k = alen / 16;
		int32_t *hops = aligned_alloc(64, k * 4 + 64);
		double bulk, single;
		TIMED(bulk, k, for (size_t i = 0; i + BURST <= k; i += BURST) rte_lpm6_lookup_bulk_func(lpm, ips + i, hops + i, BURST));
		size_t bad = 0;
		for (size_t i = 0; i < k; i++) bad += hops[i] != want[i];
		TIMED(single, k, for (size_t i = 0; i < k; i++) { uint32_t h; hops[i] = rte_lpm6_lookup(lpm, ips[i], &h) ? -1 : (int32_t)h; });
		printf("LPM v6 %s rte_lpm6-bulk64 %.2f M/s (%.2f ns), one at a time %.2f M/s; %d prefixes built in %.0f ms, %.1f MB; answers differing from Bowman's: %zu\n",
		       sets[s], 1e3 / bulk, bulk, 1e3 / single, n, build * 1e3, mem / 1e6, bad);
		free(ips); free(want); free(hops);
	}
	double add[51], del[51];
	uint8_t ip[16];
	inet_pton(AF_INET6, "2602:fed2:7307::77", ip);
	for (int r = 0; r < 51; r++) {
		double a = now();
		rte_lpm6_add(lpm, ip, 128, 70000 + r);
		double b = now();
		rte_lpm6_delete(lpm, ip, 128);
		double c = now();
		add[r] = (b - a) * 1e6; del[r] = (c - b) * 1e6;
	}
	qsort(add, 51, sizeof(double), cmpd); qsort(del, 51, sizeof(double), cmpd);
	printf("LPM v6 update rte_lpm6 add /128 %.1f us, delete %.1f us\n", add[25], del[25]);
	rte_lpm6_free(lpm);
	free(text);
}

int main(int argc, char **argv)
{
	int e = rte_eal_init(argc, argv);
	if (e < 0) { fprintf(stderr, "rte_eal_init failed\n"); return 1; }
	argc -= e; argv += e;
	if (argc < 2) { fprintf(stderr, "usage: lpm_dpdk [EAL args] -- DIR\n"); return 2; }
	v4(argv[1]);
	v6(argv[1]);
	rte_eal_cleanup();
	return 0;
}
