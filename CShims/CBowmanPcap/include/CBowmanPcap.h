// CBowmanPcap: libpcap for capture files (read pcap/pcapng, write pcap).
// PCAP_DONT_INCLUDE_PCAP_BPF_H avoids the clash between libpcap's bpf.h and
// linux/bpf.h (both define struct bpf_insn) once CBowmanXDP is in the build.
#ifndef CBOWMAN_PCAP_H
#define CBOWMAN_PCAP_H
#define PCAP_DONT_INCLUDE_PCAP_BPF_H 1
#include <pcap/pcap.h>
#include <stdint.h>

/// One packet record as read from a capture.
typedef struct {
    int64_t seconds;
    uint32_t subsecond;   // micro- or nanoseconds, by the handle's precision
    uint32_t caplen;
    uint32_t len;
    const uint8_t *data;
} cbowman_pcap_record;

/// Opens a capture file (pcap or pcapng) with nanosecond timestamps.
/// On failure returns NULL and writes a message to errbuf (PCAP_ERRBUF_SIZE).
pcap_t *cbowman_pcap_open_offline(const char *path, char *errbuf);
/// Reads the next record: 1 ok, 0 end of file, -1 error (see pcap_geterr).
int cbowman_pcap_next(pcap_t *p, cbowman_pcap_record *out);

/// Opens a pcap file for writing with the given link type, snapshot length
/// and precision (0 micro, 1 nano). Returns NULL on failure (errbuf set).
pcap_dumper_t *cbowman_pcap_dump_open(const char *path, int linktype, int snaplen, int nano,
                                      pcap_t **dead_out, char *errbuf);
/// Appends one record.
void cbowman_pcap_dump(pcap_dumper_t *d, int64_t seconds, uint32_t subsecond,
                       uint32_t caplen, uint32_t len, const uint8_t *data);

/// A compiled tcpdump expression (libpcap's compiler), opaque here so
/// struct bpf_program (pcap/bpf.h) stays out of the Swift import.
typedef struct cbowman_bpf_filter cbowman_bpf_filter;
/// Compiles `expression` for `linktype` (1: Ethernet). NULL on failure,
/// with libpcap's message in errbuf (PCAP_ERRBUF_SIZE).
cbowman_bpf_filter *cbowman_bpf_compile(const char *expression, int linktype, char *errbuf);
/// 1 when the packet matches, 0 when not.
int cbowman_bpf_matches(const cbowman_bpf_filter *f, const uint8_t *data, uint32_t caplen, uint32_t len);
void cbowman_bpf_free(cbowman_bpf_filter *f);
#endif
