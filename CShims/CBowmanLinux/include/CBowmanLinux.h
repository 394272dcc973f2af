// CBowmanLinux: Linux calls and macros that Swift cannot reach directly.
// Everything here is thin; logic lives in Swift (BowmanSystem, BowmanIO).
#ifndef CBOWMAN_LINUX_H
#define CBOWMAN_LINUX_H

// No _GNU_SOURCE here: a feature macro in a module header changes system
// types (fd_set) and clashes with other modules (Dispatch). The GNU-only
// calls are made in shim.c, which is compiled with _GNU_SOURCE.
#include <errno.h>
#include <stdint.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <linux/if_packet.h>
#include <linux/if_ether.h>

/// errno of the calling thread (a macro in glibc).
static inline int cbowman_errno(void) { return errno; }

/// Pins the calling thread to one CPU. Returns 0 or an errno value.
int cbowman_pin_self_to_cpu(int cpu);
/// Restricts the calling thread (and the threads it will create) to the CPUs
/// in [first, first+count). Returns 0 or an errno value.
int cbowman_restrict_self_to_cpus(const int *cpus, int count);
/// The CPU the calling thread runs on now, or -1.
int cbowman_current_cpu(void);
/// Number of CPUs this process may run on (CPU_COUNT of its affinity mask).
int cbowman_allowed_cpu_count(void);
/// Enters the network namespace open at `fd` for the calling thread only
/// (setns(2) with CLONE_NEWNET). Returns 0 or an errno value.
int cbowman_setns_net(int fd);
/// Unshares the file-system attributes so a later setns affects only this thread.
int cbowman_unshare_fs(void);

/// Monotonic clock in nanoseconds (CLOCK_MONOTONIC).
static inline uint64_t cbowman_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
/// CLOCK_MONOTONIC_COARSE in nanoseconds: the last tick's time (1-4 ms
/// resolution), the cheapest read there is (vDSO, no TSC read).
static inline uint64_t cbowman_coarse_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
/// Wall-clock time in nanoseconds since 1970 (CLOCK_REALTIME, vDSO).
static inline uint64_t cbowman_realtime_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
/// Thread CPU time in nanoseconds (CLOCK_THREAD_CPUTIME_ID).
static inline uint64_t cbowman_thread_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/// MSG_DONTWAIT (glibc defines it as an enum member and a macro; Swift's
/// import of it differs between debug and release builds).
static inline int cbowman_msg_dontwait(void) { return MSG_DONTWAIT; }

/// htons(ETH_P_ALL), for AF_PACKET sockets.
static inline uint16_t cbowman_eth_p_all_be(void) { return htons(ETH_P_ALL); }

/// Opens a NETLINK_ROUTE socket (non-blocking, close-on-exec) bound to the
/// multicast `groups` (RTMGRP_* bits), with a receive buffer of at least
/// `rcvbuf` bytes (SO_RCVBUFFORCE when allowed). Returns the fd or -errno.
int cbowman_netlink_route_open(uint32_t groups, int rcvbuf);
/// Sends one request to the kernel (port 0) on a netlink socket. Returns 0 or -errno.
int cbowman_netlink_send(int fd, const void *buf, uint32_t len);

/// Binds an AF_PACKET socket to an interface index (all protocols).
int cbowman_packet_bind(int fd, int ifindex);

/// One burst of sendmmsg(2) over `count` buffers of `stride` bytes each,
/// starting at `base` (stride 0: the same buffer each time). `lengths`
/// supplies each datagram's length. Returns the number sent or -errno.
int cbowman_send_burst(int fd, const uint8_t *base, uint32_t stride, const uint32_t *lengths, int count, int flags);

/// recvmmsg(2)/sendmmsg(2) straight into pool frames: frame k of the burst
/// is at base + (idx[k] << shift) + headroom, `cap` bytes long.
int cbowman_recv_frames(int fd, uint8_t *base, uint32_t shift, uint32_t headroom, uint32_t cap,
                        const uint32_t *idx, uint32_t *lengths, int count, int flags);
int cbowman_send_frames(int fd, const uint8_t *base, uint32_t shift, const uint16_t *offsets,
                        const uint32_t *idx, const uint32_t *lengths, int count, int flags);
/// setsockopt(2) with an int value. Returns 0 or an errno value.
int cbowman_setsockopt_int(int fd, int level, int name, int value);
/// recvmmsg(2)/sendmmsg(2) straight into pool frames: frame k of the burst
/// is at base + (idx[k] << shift) + headroom, `cap` bytes long.
int cbowman_recv_frames(int fd, uint8_t *base, uint32_t shift, uint32_t headroom, uint32_t cap,
                        const uint32_t *idx, uint32_t *lengths, int count, int flags);
int cbowman_send_frames(int fd, const uint8_t *base, uint32_t shift, const uint16_t *offsets,
                        const uint32_t *idx, const uint32_t *lengths, int count, int flags);
/// setsockopt(2) with an int value. Returns 0 or an errno value.
int cbowman_setsockopt_int(int fd, int level, int name, int value);
/// Names the calling thread (pthread_setname_np; at most 15 characters).
void cbowman_set_thread_name(const char *name);
/// Ring-word atomics for the AF_XDP rings (the kernel's side uses
/// smp_load_acquire/smp_store_release on the same words).
static inline uint32_t cbowman_load_acquire_u32(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline uint32_t cbowman_load_relaxed_u32(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static inline void cbowman_store_release_u32(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
/// A full barrier (needed before reading the need-wakeup flag after a
/// producer update, as libxdp's xsk_ring_prod__needs_wakeup callers do).
static inline void cbowman_full_barrier(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
/// 1 when `path` is a mounted bpffs, else 0.
int cbowman_is_bpffs(const char *path);
/// mount -t bpf bpf PATH. 0 or an errno value.
int cbowman_mount_bpffs(const char *path);
/// Receive queues of an interface via ETHTOOL_GCHANNELS (max of rx and
/// combined channels), or -errno when the driver does not report channels.
int cbowman_rx_queue_count(const char *ifname);
/// The CPUs this thread may run on, ascending; returns how many (≤ max).
int cbowman_allowed_cpus(int *out, int max);
/// A TPACKET_V3 receive ring on an AF_PACKET socket.
typedef struct {
    int fd;
    uint8_t *map;          // blocks, block_count * block_size bytes
    uint32_t block_size;
    uint32_t block_count;
} cbowman_tpacket_ring;

/// Opens an AF_PACKET socket on `ifindex` with a TPACKET_V3 rx ring of
/// `block_count` blocks of `block_size` bytes (retired after `retire_ms`),
/// PACKET_IGNORE_OUTGOING, PACKET_QDISC_BYPASS for its sends, and when
/// `fanout_group` ≥ 0 joins that PACKET_FANOUT group in hash mode.
/// Returns 0 or an errno value.
int cbowman_tpacket_v3_open(int ifindex, uint32_t block_size, uint32_t block_count, uint32_t retire_ms,
                            int fanout_group, cbowman_tpacket_ring *out);
void cbowman_tpacket_v3_close(cbowman_tpacket_ring *r);
/// PACKET_STATISTICS of a TPACKET_V3 socket since the last call (the
/// kernel clears them on read): packets, drops, queue freezes. 0 or an errno.
int cbowman_tpacket_stats(int fd, uint64_t *packets, uint64_t *drops, uint64_t *freezes);
/// Unblocks SIGINT, SIGTERM and SIGHUP in the calling thread (and the threads it
/// creates later): a process can inherit a mask that blocks them.
void cbowman_unblock_termination_signals(void);
/// The hardware (MAC) address of interface `name` in the calling thread's
/// network namespace (SIOCGIFHWADDR); 0 or -errno.
int cbowman_interface_mac(const char *name, uint8_t out[6]);
#endif
