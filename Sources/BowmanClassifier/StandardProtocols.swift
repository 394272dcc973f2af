/// The bundled protocol-info file, in Odyssey's protocol-definition
/// language. Field names follow the seed's style (`proto`, `src`, `dst`).
enum StandardProtocols {
    static let text = """
    ; Link layer
    (protocol ethernet
        (field dst offset 0 length 6)
        (field src offset 6 length 6)
        (field proto offset 12 length 2)
        (hdr_len 14))
    ; 802.1Q / 802.1ad tag, as the header after the MAC addresses' EtherType
    (protocol vlan
        (field tci offset 0 length 2)
        (field vid offset 0 length 2)
        (field proto offset 2 length 2)
        (hdr_len 4))
    (protocol arp
        (field htype offset 0 length 2)
        (field ptype offset 2 length 2)
        (field op offset 6 length 2)
        (field sha offset 8 length 6)
        (field spa offset 14 length 4)
        (field tha offset 18 length 6)
        (field tpa offset 24 length 4)
        (hdr_len 28))
    ; IPv4 with options: the header length comes from the IHL nibble
    (protocol ip
        (field vhl offset 0 length 1)
        (field tos offset 1 length 1)
        (field len offset 2 length 2)
        (field id offset 4 length 2)
        (field frag offset 6 length 2)
        (field ttl offset 8 length 1)
        (field proto offset 9 length 1)
        (field cksum offset 10 length 2)
        (field src offset 12 length 4)
        (field dst offset 16 length 4)
        (hdr_len (vhl & 0x0f) * 4))
    (protocol ipv6
        (field vtcfl offset 0 length 4)
        (field plen offset 4 length 2)
        (field proto offset 6 length 1)
        (field hlim offset 7 length 1)
        (field src offset 8 length 16)
        (field dst offset 24 length 16)
        (hdr_len 40))
    ; IPv6 extension headers (RFC 8200, RFC 4302), named in a filter's
    ; chain: hop-by-hop and destination options share one layout
    (protocol ipv6opt
        (field next offset 0 length 1)
        (field len offset 1 length 1)
        (hdr_len (len + 1) * 8))
    (protocol ipv6route
        (field next offset 0 length 1)
        (field len offset 1 length 1)
        (field type offset 2 length 1)
        (field segleft offset 3 length 1)
        (hdr_len (len + 1) * 8))
    (protocol ipv6frag
        (field next offset 0 length 1)
        (field fragoff offset 2 length 2)
        (field id offset 4 length 4)
        (hdr_len 8))
    (protocol ah
        (field next offset 0 length 1)
        (field len offset 1 length 1)
        (field spi offset 4 length 4)
        (hdr_len (len + 2) * 4))
    (protocol icmp
        (field type offset 0 length 1)
        (field code offset 1 length 1)
        (field cksum offset 2 length 2)
        (hdr_len 8))
    (protocol icmpv6
        (field type offset 0 length 1)
        (field code offset 1 length 1)
        (field cksum offset 2 length 2)
        (hdr_len 4))
    (protocol igmp
        (field type offset 0 length 1)
        (field maxresp offset 1 length 1)
        (field cksum offset 2 length 2)
        (field group offset 4 length 4)
        (hdr_len 8))
    (protocol udp
        (field sport offset 0 length 2)
        (field dport offset 2 length 2)
        (field len offset 4 length 2)
        (field cksum offset 6 length 2)
        (hdr_len 8))
    (protocol tcp
        (field sport offset 0 length 2)
        (field dport offset 2 length 2)
        (field seq offset 4 length 4)
        (field ack offset 8 length 4)
        (field off offset 12 length 1)
        (field flags offset 13 length 1)
        (field win offset 14 length 2)
        (hdr_len (off & 0xf0) >> 2 * 1))

    (define ETHERTYPE_PUP      0x0200)
    (define ETHERTYPE_IP       0x0800)
    (define ethertype_ip       0x0800)
    (define ETHERTYPE_ARP      0x0806)
    (define ETHERTYPE_REVARP   0x8035)
    (define ETHERTYPE_VLAN     0x8100)
    (define ETHERTYPE_QINQ     0x88a8)
    (define ETHERTYPE_IPV6     0x86dd)
    (define ETHERTYPE_MPLS     0x8847)
    (define ETHERTYPE_TRAIL    0x1000)
    (define ETHERTYPE_NTRAILER 16)
    (define IPPROTO_HOPOPTS    0)
    (define IPPROTO_ICMP       1)
    (define IPPROTO_IGMP       2)
    (define IPPROTO_IPIP       4)
    (define IPPROTO_TCP        6)
    (define IPPROTO_UDP        17)
    (define IPPROTO_IPV6       41)
    (define IPPROTO_ROUTING    43)
    (define IPPROTO_FRAGMENT   44)
    (define IPPROTO_GRE        47)
    (define IPPROTO_ESP        50)
    (define IPPROTO_AH         51)
    (define IPPROTO_ICMPV6     58)
    (define IPPROTO_DSTOPTS    60)
    (define IPPROTO_SCTP       132)
    (define TH_FIN 0x01)
    (define TH_SYN 0x02)
    (define TH_RST 0x04)
    (define TH_PUSH 0x08)
    (define TH_ACK 0x10)
    """
}
