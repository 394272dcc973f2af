#include "CBowmanPcap.h"
#include <stdio.h>
#include <string.h>

pcap_t *cbowman_pcap_open_offline(const char *path, char *errbuf) {
    return pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, errbuf);
}

int cbowman_pcap_next(pcap_t *p, cbowman_pcap_record *out) {
    struct pcap_pkthdr *h;
    const u_char *data;
    int rc = pcap_next_ex(p, &h, &data);
    if (rc == 1) {
        out->seconds = (int64_t)h->ts.tv_sec;
        out->subsecond = (uint32_t)h->ts.tv_usec;
        out->caplen = h->caplen;
        out->len = h->len;
        out->data = data;
        return 1;
    }
    if (rc == PCAP_ERROR_BREAK) return 0;
    return -1;
}

pcap_dumper_t *cbowman_pcap_dump_open(const char *path, int linktype, int snaplen, int nano,
                                      pcap_t **dead_out, char *errbuf) {
    pcap_t *dead = pcap_open_dead_with_tstamp_precision(
        linktype, snaplen, nano ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO);
    if (!dead) { snprintf(errbuf, PCAP_ERRBUF_SIZE, "pcap_open_dead failed"); return NULL; }
    pcap_dumper_t *d = pcap_dump_open(dead, path);
    if (!d) {
        snprintf(errbuf, PCAP_ERRBUF_SIZE, "%s", pcap_geterr(dead));
        pcap_close(dead);
        return NULL;
    }
    *dead_out = dead;
    return d;
}

void cbowman_pcap_dump(pcap_dumper_t *d, int64_t seconds, uint32_t subsecond,
                       uint32_t caplen, uint32_t len, const uint8_t *data) {
    struct pcap_pkthdr h;
    h.ts.tv_sec = (time_t)seconds;
    h.ts.tv_usec = (suseconds_t)subsecond;
    h.caplen = caplen;
    h.len = len;
    pcap_dump((u_char *)d, &h, data);
}

#include <pcap/bpf.h>
#include <stdlib.h>
#include <string.h>

struct cbowman_bpf_filter { struct bpf_program program; };

cbowman_bpf_filter *cbowman_bpf_compile(const char *expression, int linktype, char *errbuf) {
    pcap_t *dead = pcap_open_dead(linktype, 262144);
    if (!dead) { snprintf(errbuf, PCAP_ERRBUF_SIZE, "pcap_open_dead failed"); return NULL; }
    cbowman_bpf_filter *f = calloc(1, sizeof *f);
    if (!f) { pcap_close(dead); snprintf(errbuf, PCAP_ERRBUF_SIZE, "out of memory"); return NULL; }
    if (pcap_compile(dead, &f->program, expression, 1, PCAP_NETMASK_UNKNOWN) != 0) {
        snprintf(errbuf, PCAP_ERRBUF_SIZE, "%s", pcap_geterr(dead));
        free(f);
        pcap_close(dead);
        return NULL;
    }
    pcap_close(dead);
    return f;
}

int cbowman_bpf_matches(const cbowman_bpf_filter *f, const uint8_t *data, uint32_t caplen, uint32_t len) {
    struct pcap_pkthdr h;
    memset(&h, 0, sizeof h);
    h.caplen = caplen;
    h.len = len;
    return pcap_offline_filter(&f->program, &h, data) != 0;
}

void cbowman_bpf_free(cbowman_bpf_filter *f) {
    if (!f) return;
    pcap_freecode(&f->program);
    free(f);
}
