#include "CBowmanXDP.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include <xdp/xsk.h>

/* libbpf and libxdp print warnings to stderr; Bowman reports failures in
 * its own words, so their logs are shown only with BOWMAN_BPF_LOG set. */
static int quiet_libbpf(enum libbpf_print_level level, const char *fmt, va_list args) {
    (void)level;
    if (getenv("BOWMAN_BPF_LOG")) return vfprintf(stderr, fmt, args);
    return 0;
}
static int quiet_libxdp(enum libxdp_print_level level, const char *fmt, va_list args) {
    (void)level;
    if (getenv("BOWMAN_BPF_LOG")) return vfprintf(stderr, fmt, args);
    return 0;
}
__attribute__((constructor)) static void cbowman_quiet_logs(void) {
    libbpf_set_print(quiet_libbpf);
    libxdp_set_print(quiet_libxdp);
}

static int fail(char *err, size_t errlen, int rc, const char *what) {
    char buf[128];
    libxdp_strerror(rc, buf, sizeof(buf));
    if (err && errlen) snprintf(err, errlen, "%s: %s", what, buf);
    return rc < 0 ? rc : -rc;
}

static int mkdir_p(const char *dir) {
    char tmp[512];
    snprintf(tmp, sizeof(tmp), "%s", dir);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') { *p = 0; if (mkdir(tmp, 0700) && errno != EEXIST) return -errno; *p = '/'; }
    }
    if (mkdir(tmp, 0700) && errno != EEXIST) return -errno;
    return 0;
}

int cbowman_xdp_attach(const char *object_path, int ifindex, int mode, const char *pin_dir,
                       uint32_t *prog_id, char *err, size_t errlen) {
    struct xdp_program *prog = xdp_program__open_file(object_path, "xdp", NULL);
    int rc = (int)libxdp_get_error(prog);
    if (rc) return fail(err, errlen, rc, "cannot open XDP object");
    rc = xdp_program__attach(prog, ifindex, (enum xdp_attach_mode)mode, 0);
    if (rc) { xdp_program__close(prog); return fail(err, errlen, rc, "cannot attach XDP program"); }
    if (prog_id) *prog_id = xdp_program__id(prog);
    if (pin_dir && pin_dir[0]) {
        rc = mkdir_p(pin_dir);
        if (!rc) {
            bpf_object__unpin_maps(xdp_program__bpf_obj(prog), pin_dir);
            rc = bpf_object__pin_maps(xdp_program__bpf_obj(prog), pin_dir);
        }
        if (rc) {
            xdp_program__detach(prog, ifindex, (enum xdp_attach_mode)mode, 0);
            xdp_program__close(prog);
            return fail(err, errlen, rc, "cannot pin maps (is bpffs mounted at /sys/fs/bpf?)");
        }
    }
    xdp_program__close(prog);   // the attachment stays
    return 0;
}

int cbowman_xdp_detach(int ifindex, const char *name, const char *pin_dir, char *err, size_t errlen) {
    struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
    int rc = (int)libxdp_get_error(mp);
    if (rc == -ENOENT) mp = NULL;
    else if (rc) return fail(err, errlen, rc, "cannot read XDP programs");
    int detached = 0;
    enum xdp_attach_mode mode;
    if (!mp) goto unpin;
    mode = xdp_multiprog__attach_mode(mp);
    if (xdp_multiprog__is_legacy(mp)) {
        struct xdp_program *p = xdp_multiprog__main_prog(mp);
        if (p && strcmp(xdp_program__name(p), name) == 0) {
            rc = xdp_multiprog__detach(mp);
            if (rc) { xdp_multiprog__close(mp); return fail(err, errlen, rc, "cannot detach"); }
            detached = 1;
        }
    } else {
        for (struct xdp_program *p = xdp_multiprog__next_prog(NULL, mp); p; p = xdp_multiprog__next_prog(p, mp)) {
            if (strcmp(xdp_program__name(p), name) != 0) continue;
            rc = xdp_program__detach(p, ifindex, mode, 0);
            if (rc) { xdp_multiprog__close(mp); return fail(err, errlen, rc, "cannot detach"); }
            detached++;
            break;  // the multiprog changed; one Bowman program per interface
        }
    }
    xdp_multiprog__close(mp);
unpin:
    if (pin_dir && pin_dir[0]) {
        const char *maps[] = { BOWMAN_MAP_XSKS, BOWMAN_MAP_HOST_V4, BOWMAN_MAP_HOST_V6, BOWMAN_MAP_PASS_PORT, BOWMAN_MAP_HOST_FILTER, BOWMAN_MAP_COUNTERS };
        char path[600];
        for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
            snprintf(path, sizeof(path), "%s/%s", pin_dir, maps[i]);
            unlink(path);
        }
        rmdir(pin_dir);
    }
    return detached;
}

int cbowman_xdp_list(int ifindex, cbowman_xdp_prog_info *out, int max) {
    struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
    int rc = (int)libxdp_get_error(mp);
    if (rc == -ENOENT) return 0;   // nothing attached
    if (rc) return rc < 0 ? rc : -rc;
    int n = 0;
    int mode = (int)xdp_multiprog__attach_mode(mp);
    if (xdp_multiprog__is_legacy(mp)) {
        struct xdp_program *p = xdp_multiprog__main_prog(mp);
        if (p && n < max) {
            snprintf(out[n].name, sizeof(out[n].name), "%s", xdp_program__name(p));
            out[n].id = xdp_program__id(p); out[n].priority = 0; out[n].mode = mode; out[n].is_dispatched = 0;
            n++;
        }
    } else {
        for (struct xdp_program *p = xdp_multiprog__next_prog(NULL, mp); p && n < max; p = xdp_multiprog__next_prog(p, mp)) {
            snprintf(out[n].name, sizeof(out[n].name), "%s", xdp_program__name(p));
            out[n].id = xdp_program__id(p); out[n].priority = xdp_program__run_prio(p);
            out[n].mode = mode; out[n].is_dispatched = 1;
            n++;
        }
    }
    struct xdp_program *hw = xdp_multiprog__hw_prog(mp);
    if (hw && n < max) {
        snprintf(out[n].name, sizeof(out[n].name), "%s", xdp_program__name(hw));
        out[n].id = xdp_program__id(hw); out[n].priority = 0; out[n].mode = CBOWMAN_XDP_MODE_HW; out[n].is_dispatched = 0;
        n++;
    }
    xdp_multiprog__close(mp);
    return n;
}

int cbowman_bpf_obj_get(const char *path) { int fd = bpf_obj_get(path); return fd < 0 ? -errno : fd; }
int cbowman_bpf_map_update(int fd, const void *key, const void *value) { return bpf_map_update_elem(fd, key, value, BPF_ANY) ? -errno : 0; }
int cbowman_bpf_map_delete(int fd, const void *key) { return bpf_map_delete_elem(fd, key) ? -errno : 0; }
int cbowman_bpf_map_lookup(int fd, const void *key, void *value) { return bpf_map_lookup_elem(fd, key, value) ? -errno : 0; }
int cbowman_bpf_map_next_key(int fd, const void *key, void *next) { return bpf_map_get_next_key(fd, key, next) ? -errno : 0; }
int cbowman_num_possible_cpus(void) { return libbpf_num_possible_cpus(); }

int cbowman_counter_sum(int fd, uint32_t key, uint64_t *packets, uint64_t *bytes) {
    int n = libbpf_num_possible_cpus();
    if (n <= 0) return n;
    struct bowman_counter_value *v = calloc((size_t)n, sizeof(*v));
    if (!v) return -ENOMEM;
    if (bpf_map_lookup_elem(fd, &key, v)) { int e = -errno; free(v); return e; }
    uint64_t p = 0, b = 0;
    for (int i = 0; i < n; i++) { p += v[i].packets; b += v[i].bytes; }
    free(v);
    *packets = p; *bytes = b;
    return 0;
}

struct cbowman_umem {
    struct xsk_umem *umem;
    struct xsk_ring_prod fill;   // used by the first socket
    struct xsk_ring_cons comp;
    int sockets;
};

struct cbowman_xsk {
    struct xsk_socket *xsk;
    struct xsk_ring_cons rx, comp;
    struct xsk_ring_prod tx, fill;
    cbowman_umem *umem;
    int first;
};

int cbowman_umem_create(void *area, uint64_t size, const cbowman_xsk_config *cfg, cbowman_umem **out,
                        char *err, size_t errlen) {
    // calloc: libxdp 1.3.1 does not initialise every cached index of the
    // fill/completion rings (../shared/perf/README.md, pitfall 5).
    cbowman_umem *u = calloc(1, sizeof(*u));
    if (!u) return -ENOMEM;
    struct xsk_umem_config ucfg = {
        .fill_size = cfg->fill_size, .comp_size = cfg->comp_size,
        .frame_size = cfg->frame_size, .frame_headroom = cfg->frame_headroom, .flags = 0,
    };
    int rc = xsk_umem__create(&u->umem, area, size, &u->fill, &u->comp, &ucfg);
    if (rc) { free(u); return fail(err, errlen, rc, "cannot register UMEM"); }
    *out = u;
    return 0;
}

void cbowman_umem_destroy(cbowman_umem *u) {
    if (!u) return;
    xsk_umem__delete(u->umem);
    free(u);
}

int cbowman_xsk_create(cbowman_umem *u, const char *ifname, uint32_t queue, const cbowman_xsk_config *cfg,
                       cbowman_xsk **out, int *zero_copy, char *reason, size_t reasonlen, char *err, size_t errlen) {
    cbowman_xsk *x = calloc(1, sizeof(*x));
    if (!x) return -ENOMEM;
    x->umem = u;
    x->first = u->sockets == 0;
    struct xsk_socket_config scfg = {
        .rx_size = cfg->rx_size, .tx_size = cfg->tx_size,
        .libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD, .xdp_flags = 0,
        .bind_flags = (uint16_t)((cfg->need_wakeup ? XDP_USE_NEED_WAKEUP : 0) | (cfg->zero_copy ? XDP_ZEROCOPY : XDP_COPY)),
    };
    struct xsk_ring_prod *fill = x->first ? &u->fill : &x->fill;
    struct xsk_ring_cons *comp = x->first ? &u->comp : &x->comp;
    /* tx_size 0: a receive-only socket (no TX ring: poll() then never runs
     * the copy-mode transmit path for it). */
    struct xsk_ring_prod *tx = cfg->tx_size ? &x->tx : NULL;
    int rc = xsk_socket__create_shared(&x->xsk, ifname, queue, u->umem, &x->rx, tx, fill, comp, &scfg);
    if (reason && reasonlen) reason[0] = 0;
    if (rc && cfg->zero_copy) {
        char why[128];
        libxdp_strerror(rc, why, sizeof(why));
        /* Only EOPNOTSUPP says the driver lacks zero-copy; anything else is
         * the driver or the kernel refusing this bind for its own reason. */
        const char *meaning = (rc == -EOPNOTSUPP || rc == -EPROTONOSUPPORT) ? "the driver has no AF_XDP zero-copy support"
                            : rc == -EBUSY ? "the queue is held by another AF_XDP socket or zero-copy user"
                            : rc == -ENOMEM ? "the driver could not allocate its zero-copy resources"
                            : "the driver refused zero-copy on this queue";
        if (reason && reasonlen) snprintf(reason, reasonlen, "zero-copy bind refused (%s): %s", why, meaning);
        scfg.bind_flags = (uint16_t)((cfg->need_wakeup ? XDP_USE_NEED_WAKEUP : 0) | XDP_COPY);
        rc = xsk_socket__create_shared(&x->xsk, ifname, queue, u->umem, &x->rx, tx, fill, comp, &scfg);
    }
    if (rc) { free(x); return fail(err, errlen, rc, "cannot bind AF_XDP socket"); }
    if (cfg->zero_copy && reason && reasonlen && !reason[0])
        snprintf(reason, reasonlen, "the kernel granted copy mode (a shared UMEM follows its first socket's mode)");
    if (x->first) { x->fill = u->fill; x->comp = u->comp; }
    u->sockets++;
    int fd = xsk_socket__fd(x->xsk);
    int zc = 0;
    struct xdp_options opts; socklen_t ol = sizeof(opts);
    if (getsockopt(fd, SOL_XDP, XDP_OPTIONS, &opts, &ol) == 0) zc = (opts.flags & XDP_OPTIONS_ZEROCOPY) ? 1 : 0;
    if (cfg->busy_poll_us > 0) {
        /* Each option the kernel refuses fails the socket, naming it: a
         * busy-poll setting silently ignored measures something else. */
        int one = 1, us = cfg->busy_poll_us, budget = cfg->busy_budget > 0 ? cfg->busy_budget : 64;
        const char *what = NULL; int value = 0;
        if (setsockopt(fd, SOL_SOCKET, SO_PREFER_BUSY_POLL, &one, sizeof(one))) { what = "SO_PREFER_BUSY_POLL"; value = one; }
        else if (setsockopt(fd, SOL_SOCKET, SO_BUSY_POLL, &us, sizeof(us))) { what = "SO_BUSY_POLL"; value = us; }
        else if (setsockopt(fd, SOL_SOCKET, SO_BUSY_POLL_BUDGET, &budget, sizeof(budget))) { what = "SO_BUSY_POLL_BUDGET"; value = budget; }
        if (what) {
            int e = errno;
            char msg[96];
            snprintf(msg, sizeof(msg), "the kernel refused %s %d", what, value);
            xsk_socket__delete(x->xsk);
            u->sockets--;
            free(x);
            return fail(err, errlen, -e, msg);
        }
    }
    *zero_copy = zc;
    *out = x;
    return 0;
}

void cbowman_xsk_destroy(cbowman_xsk *x) {
    if (!x) return;
    xsk_socket__delete(x->xsk);
    x->umem->sockets--;
    free(x);
}

int cbowman_xsk_fd(const cbowman_xsk *x) { return xsk_socket__fd(x->xsk); }

static void geometry(cbowman_ring_geometry *g, uint32_t *prod, uint32_t *cons, void *ring, uint32_t *flags,
                     uint32_t size, uint32_t mask, uint32_t cp, uint32_t cc) {
    g->producer = prod; g->consumer = cons; g->ring = ring; g->flags = flags;
    g->size = size; g->mask = mask; g->cached_prod = cp; g->cached_cons = cc;
}

void cbowman_xsk_ring(const cbowman_xsk *x, int which, cbowman_ring_geometry *g) {
    switch (which) {
    case 0: geometry(g, x->rx.producer, x->rx.consumer, x->rx.ring, x->rx.flags, x->rx.size, x->rx.mask, x->rx.cached_prod, x->rx.cached_cons); break;
    case 1: geometry(g, x->tx.producer, x->tx.consumer, x->tx.ring, x->tx.flags, x->tx.size, x->tx.mask, x->tx.cached_prod, x->tx.cached_cons); break;
    case 2: geometry(g, x->fill.producer, x->fill.consumer, x->fill.ring, x->fill.flags, x->fill.size, x->fill.mask, x->fill.cached_prod, x->fill.cached_cons); break;
    default: geometry(g, x->comp.producer, x->comp.consumer, x->comp.ring, x->comp.flags, x->comp.size, x->comp.mask, x->comp.cached_prod, x->comp.cached_cons); break;
    }
}

int cbowman_xsk_stats(const cbowman_xsk *x, uint64_t *rx_dropped, uint64_t *rx_invalid, uint64_t *tx_invalid,
                      uint64_t *rx_ring_full, uint64_t *fill_empty, uint64_t *tx_ring_empty) {
    struct xdp_statistics s; socklen_t l = sizeof(s);
    memset(&s, 0, sizeof(s));
    if (getsockopt(xsk_socket__fd(x->xsk), SOL_XDP, XDP_STATISTICS, &s, &l)) return -errno;
    *rx_dropped = s.rx_dropped; *rx_invalid = s.rx_invalid_descs; *tx_invalid = s.tx_invalid_descs;
    *rx_ring_full = s.rx_ring_full; *fill_empty = s.rx_fill_ring_empty_descs; *tx_ring_empty = s.tx_ring_empty_descs;
    return 0;
}

int cbowman_xsk_kick_tx(int fd) { return sendto(fd, NULL, 0, MSG_DONTWAIT, NULL, 0) < 0 ? -errno : 0; }
int cbowman_xsk_kick_rx(int fd) { return recvfrom(fd, NULL, 0, MSG_DONTWAIT, NULL, NULL) < 0 ? -errno : 0; }
