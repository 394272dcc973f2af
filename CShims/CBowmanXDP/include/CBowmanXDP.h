// CBowmanXDP: libxdp and libbpf for Bowman's XDP program (attach, detach,
// list, pinned maps) and AF_XDP sockets (UMEM, socket, ring geometry).
// Only set-up lives here; the rings are driven from Swift over the mapped
// ring words (BowmanIO/AFXDP/XSKRing.swift).
#ifndef CBOWMAN_XDP_H
#define CBOWMAN_XDP_H
#include <stdint.h>
#include <stddef.h>
#include <linux/if_xdp.h>
#include "../../bpf/bowman_xdp_abi.h"

/// XDP attach modes, as libxdp numbers them (enum xdp_attach_mode).
enum { CBOWMAN_XDP_MODE_UNSPEC = 0, CBOWMAN_XDP_MODE_NATIVE = 1, CBOWMAN_XDP_MODE_SKB = 2, CBOWMAN_XDP_MODE_HW = 3 };

/// One XDP program found on an interface.
typedef struct {
    char name[64];
    uint32_t id;
    uint32_t priority;
    int mode;          // CBOWMAN_XDP_MODE_*
    int is_dispatched; // 1 when run by libxdp's dispatcher
} cbowman_xdp_prog_info;

/// Opens `object_path` (section "xdp"), attaches it to `ifindex` in `mode`
/// through libxdp (dispatcher when bpffs is there), and pins its maps in
/// `pin_dir` (created if needed; "" to skip pinning). On success returns 0
/// and the program id; else a negative errno and a message in `err`.
int cbowman_xdp_attach(const char *object_path, int ifindex, int mode, const char *pin_dir,
                       uint32_t *prog_id, char *err, size_t errlen);

/// Detaches every program named `name` from `ifindex` and unpins `pin_dir`
/// (if not ""). Returns the number detached (0: none was there) or -errno.
int cbowman_xdp_detach(int ifindex, const char *name, const char *pin_dir, char *err, size_t errlen);

/// Lists up to `max` XDP programs on `ifindex`. Returns the count (0 when
/// none) or -errno.
int cbowman_xdp_list(int ifindex, cbowman_xdp_prog_info *out, int max);

/// A pinned BPF object (map) by path, or -errno.
int cbowman_bpf_obj_get(const char *path);
int cbowman_bpf_map_update(int fd, const void *key, const void *value);
int cbowman_bpf_map_delete(int fd, const void *key);
int cbowman_bpf_map_lookup(int fd, const void *key, void *value);
/// Next key after `key` (NULL for the first). 0, or -ENOENT at the end.
int cbowman_bpf_map_next_key(int fd, const void *key, void *next);
/// Number of possible CPUs (per-CPU map value count).
int cbowman_num_possible_cpus(void);
/// Sum of a per-CPU bowman_counter_value at `key`.
int cbowman_counter_sum(int fd, uint32_t key, uint64_t *packets, uint64_t *bytes);

/// The geometry of one AF_XDP ring as mapped by the kernel.
typedef struct {
    uint32_t *producer;
    uint32_t *consumer;
    void *ring;
    uint32_t *flags;
    uint32_t size;
    uint32_t mask;
    uint32_t cached_prod;
    uint32_t cached_cons;
} cbowman_ring_geometry;

/// A UMEM (opaque): one registered memory area shared by the sockets of a core.
typedef struct cbowman_umem cbowman_umem;
/// An AF_XDP socket bound to one (interface, queue) of a UMEM (opaque).
typedef struct cbowman_xsk cbowman_xsk;

typedef struct {
    uint32_t rx_size, tx_size, fill_size, comp_size;
    uint32_t frame_size, frame_headroom;
    int zero_copy;      // 1 try XDP_ZEROCOPY (falling back to copy), 0 ask for copy mode
    int need_wakeup;    // XDP_USE_NEED_WAKEUP
    int busy_poll_us;   // SO_BUSY_POLL (0 off)
    int busy_budget;    // SO_BUSY_POLL_BUDGET (0 default)
} cbowman_xsk_config;

/// Registers `area` (`size` bytes, page aligned) as a UMEM.
int cbowman_umem_create(void *area, uint64_t size, const cbowman_xsk_config *cfg, cbowman_umem **out,
                        char *err, size_t errlen);
/// Frees the UMEM; every socket on it must have been destroyed.
void cbowman_umem_destroy(cbowman_umem *u);

/// Binds a socket on (ifname, queue) to the UMEM with the libxdp program
/// load inhibited (Bowman's own program redirects to it through its
/// XSKMAP). The first socket of a UMEM uses its fill/completion rings; later
/// ones (another queue or interface) get their own (XDP_SHARED_UMEM).
/// `*zero_copy` says which mode the kernel granted; `reason` why zero-copy
/// was not, when it was asked for.
int cbowman_xsk_create(cbowman_umem *umem, const char *ifname, uint32_t queue, const cbowman_xsk_config *cfg,
                       cbowman_xsk **out, int *zero_copy, char *reason, size_t reasonlen, char *err, size_t errlen);
void cbowman_xsk_destroy(cbowman_xsk *x);
int cbowman_xsk_fd(const cbowman_xsk *x);
/// Ring geometries: 0 rx, 1 tx, 2 fill, 3 completion.
void cbowman_xsk_ring(const cbowman_xsk *x, int which, cbowman_ring_geometry *g);
/// Statistics (struct xdp_statistics via getsockopt). 0 or -errno.
int cbowman_xsk_stats(const cbowman_xsk *x, uint64_t *rx_dropped, uint64_t *rx_invalid, uint64_t *tx_invalid,
                      uint64_t *rx_ring_full, uint64_t *fill_empty, uint64_t *tx_ring_empty);
/// Kicks the kernel to transmit (sendto with MSG_DONTWAIT). 0 or -errno
/// (EAGAIN/EBUSY/ENOBUFS are normal and returned as is).
int cbowman_xsk_kick_tx(int fd);
/// Wakes the kernel to refill rx (recvfrom MSG_DONTWAIT) for need_wakeup.
int cbowman_xsk_kick_rx(int fd);
#endif
