#include "CBowmanLinux.h"
#include <stdio.h>
#include <sys/ioctl.h>
#include <fcntl.h>
#include <sched.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <stdlib.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

int cbowman_pin_self_to_cpu(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

int cbowman_restrict_self_to_cpus(const int *cpus, int count) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int i = 0; i < count; i++) CPU_SET(cpus[i], &set);
    return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

int cbowman_current_cpu(void) { return sched_getcpu(); }

int cbowman_allowed_cpu_count(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return -1;
    return CPU_COUNT(&set);
}

int cbowman_setns_net(int fd) {
    return setns(fd, CLONE_NEWNET) == 0 ? 0 : errno;
}

int cbowman_unshare_fs(void) {
    return unshare(CLONE_FS) == 0 ? 0 : errno;
}

int cbowman_packet_bind(int fd, int ifindex) {
    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof(sll));
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = ifindex;
    return bind(fd, (struct sockaddr *)&sll, sizeof(sll)) == 0 ? 0 : errno;
}

#define CBOWMAN_MAX_BURST 256

int cbowman_send_burst(int fd, const uint8_t *base, uint32_t stride, const uint32_t *lengths, int count, int flags) {
    struct mmsghdr msgs[CBOWMAN_MAX_BURST];
    struct iovec iov[CBOWMAN_MAX_BURST];
    if (count > CBOWMAN_MAX_BURST) count = CBOWMAN_MAX_BURST;
    memset(msgs, 0, sizeof(struct mmsghdr) * (size_t)count);
    for (int i = 0; i < count; i++) {
        iov[i].iov_base = (void *)(base + (size_t)i * stride);
        iov[i].iov_len = lengths[i];
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int n;
    do { n = sendmmsg(fd, msgs, (unsigned)count, flags); } while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

int cbowman_recv_frames(int fd, uint8_t *base, uint32_t shift, uint32_t headroom, uint32_t cap,
                        const uint32_t *idx, uint32_t *lengths, int count, int flags) {
    struct mmsghdr msgs[CBOWMAN_MAX_BURST];
    struct iovec iov[CBOWMAN_MAX_BURST];
    if (count > CBOWMAN_MAX_BURST) count = CBOWMAN_MAX_BURST;
    memset(msgs, 0, sizeof(struct mmsghdr) * (size_t)count);
    for (int i = 0; i < count; i++) {
        iov[i].iov_base = base + ((size_t)idx[i] << shift) + headroom;
        iov[i].iov_len = cap;
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int n;
    do { n = recvmmsg(fd, msgs, (unsigned)count, flags, NULL); } while (n < 0 && errno == EINTR);
    if (n < 0) return -errno;
    for (int i = 0; i < n; i++) lengths[i] = msgs[i].msg_len;
    return n;
}

int cbowman_send_frames(int fd, const uint8_t *base, uint32_t shift, const uint16_t *offsets,
                        const uint32_t *idx, const uint32_t *lengths, int count, int flags) {
    struct mmsghdr msgs[CBOWMAN_MAX_BURST];
    struct iovec iov[CBOWMAN_MAX_BURST];
    if (count > CBOWMAN_MAX_BURST) count = CBOWMAN_MAX_BURST;
    memset(msgs, 0, sizeof(struct mmsghdr) * (size_t)count);
    for (int i = 0; i < count; i++) {
        iov[i].iov_base = (void *)(base + ((size_t)idx[i] << shift) + offsets[i]);
        iov[i].iov_len = lengths[i];
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int n;
    do { n = sendmmsg(fd, msgs, (unsigned)count, flags); } while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

int cbowman_setsockopt_int(int fd, int level, int name, int value) {
    return setsockopt(fd, level, name, &value, sizeof(value)) == 0 ? 0 : errno;
}

void cbowman_set_thread_name(const char *name) { pthread_setname_np(pthread_self(), name); }

#include <sys/vfs.h>
#include <sys/mount.h>
int cbowman_is_bpffs(const char *path) {
    struct statfs st;
    return statfs(path, &st) == 0 && st.f_type == 0xCAFE4A11 ? 1 : 0;
}
int cbowman_mount_bpffs(const char *path) { return mount("bpf", path, "bpf", 0, NULL) == 0 ? 0 : errno; }

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
int cbowman_rx_queue_count(const char *ifname) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    struct ethtool_channels ch;
    memset(&ch, 0, sizeof(ch));
    ch.cmd = ETHTOOL_GCHANNELS;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
    ifr.ifr_data = (void *)&ch;
    int rc = ioctl(fd, SIOCETHTOOL, &ifr);
    int e = errno;
    close(fd);
    if (rc < 0) return -e;
    uint32_t n = ch.rx_count > ch.combined_count ? ch.rx_count : ch.combined_count;
    return n ? (int)n : 1;
}

int cbowman_allowed_cpus(int *out, int max) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return 0;
    int n = 0;
    for (int c = 0; c < CPU_SETSIZE && n < max; c++) if (CPU_ISSET(c, &set)) out[n++] = c;
    return n;
}

#include <sys/mman.h>
int cbowman_tpacket_v3_open(int ifindex, uint32_t block_size, uint32_t block_count, uint32_t retire_ms,
                            int fanout_group, cbowman_tpacket_ring *out) {
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL));
    if (fd < 0) return errno;
    int v = TPACKET_V3, one = 1, e;
    if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v))) goto fail;
    struct tpacket_req3 req;
    memset(&req, 0, sizeof(req));
    req.tp_block_size = block_size;
    req.tp_block_nr = block_count;
    req.tp_frame_size = 2048;   // only a sanity bound for V3: packets are packed in blocks
    req.tp_frame_nr = (block_size / 2048) * block_count;
    req.tp_retire_blk_tov = retire_ms;
    if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req))) goto fail;
    size_t len = (size_t)block_size * block_count;
    void *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_LOCKED, fd, 0);
    if (map == MAP_FAILED) map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) goto fail;
    /* Refused options fail the port (both exist since Linux 4.20): without
     * them the ring would see its own transmits, or go through the qdisc. */
    if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) ||
        setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one))) { e = errno; munmap(map, len); close(fd); return e; }
    if ((e = cbowman_packet_bind(fd, ifindex))) { munmap(map, len); close(fd); return e; }
    if (fanout_group >= 0) {
        int arg = (fanout_group & 0xFFFF) | (PACKET_FANOUT_HASH << 16);
        if (setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof(arg))) { e = errno; munmap(map, len); close(fd); return e; }
    }
    out->fd = fd; out->map = map; out->block_size = block_size; out->block_count = block_count;
    return 0;
fail:
    e = errno;
    close(fd);
    return e;
}

int cbowman_tpacket_stats(int fd, uint64_t *packets, uint64_t *drops, uint64_t *freezes) {
    struct tpacket_stats_v3 st;
    socklen_t len = sizeof(st);
    memset(&st, 0, sizeof(st));
    if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len)) return errno;
    *packets = st.tp_packets; *drops = st.tp_drops; *freezes = st.tp_freeze_q_cnt;
    return 0;
}

void cbowman_tpacket_v3_close(cbowman_tpacket_ring *r) {
    if (r->map) munmap(r->map, (size_t)r->block_size * r->block_count);
    if (r->fd >= 0) close(r->fd);
    r->map = NULL; r->fd = -1;
}

#include <signal.h>
void cbowman_unblock_termination_signals(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

int cbowman_netlink_route_open(uint32_t groups, int rcvbuf) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
    if (fd < 0) return -errno;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    int one = 1;
    /* Extended ACKs: the kernel says why a request was refused. */
    (void)setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
    struct sockaddr_nl a;
    memset(&a, 0, sizeof a);
    a.nl_family = AF_NETLINK;
    a.nl_groups = groups;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

int cbowman_netlink_send(int fd, const void *buf, uint32_t len) {
    struct sockaddr_nl a;
    memset(&a, 0, sizeof a);
    a.nl_family = AF_NETLINK;
    for (;;) {
        ssize_t n = sendto(fd, buf, len, 0, (struct sockaddr *)&a, sizeof a);
        if (n >= 0) return 0;
        if (errno != EINTR) return -errno;
    }
}

#include <net/if.h>
int cbowman_interface_mac(const char *name, uint8_t out[6])
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    struct ifreq r;
    memset(&r, 0, sizeof r);
    strncpy(r.ifr_name, name, IFNAMSIZ - 1);
    int rc = ioctl(s, SIOCGIFHWADDR, &r) < 0 ? -errno : 0;
    close(s);
    if (rc == 0)
        memcpy(out, r.ifr_hwaddr.sa_data, 6);
    return rc;
}
