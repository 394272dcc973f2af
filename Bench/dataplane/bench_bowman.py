#!/usr/bin/env python3
"""Bowman's data-plane benchmarks inside the reference harness.

Imports a copy of ../shared/perf/bench.py (path in argv[1]) and adds Bowman
receivers and forwarders as more tests with the same placement, generator,
NAPI modes and counters as the C references next to them:

  rx-bowman-*   bowman run --forward drop   vs  rx-xsk-* (xsk_rxdrop), rx-xdpdrop-* (kernel XDP_DROP)
  fwd-bowman-*  bowman run --forward l2fwd  vs  fwd-xsk-* (xsk_fwd)
  cost-bowman-* fixed offered load, CPU ns/packet vs cost-xsk-*
  fwd-testpmd-* dpdk-testpmd forwarding vB -> vC on two net_af_xdp ports, counted at the same sink
  route-bowman-* bowman run --forward router --fib kernel (LPM, TTL, MACs)  vs  fwd-bowman-* (l2fwd)
  route-kernel-* the kernel's own IPv4 forwarding between the same namespaces (ip_forward=1)
  *-afxdp-*     the same with the AF_XDP generator (the kernel's forwarding needs it)
  *-capture-*   the same while capturing every received packet (bowman run --capture /dev/null)

The routed tests move the dut's 198.18.0.2 to 198.18.0.3 and route 198.18.0.2/32
(the generator's destination) via the sink, so every generated frame is forwarded.

Usage: bench_bowman.py PERF_DIR BOWMAN_BINARY run|list|summary ...
"""
import os, sys

perf, bowman = sys.argv[1], sys.argv[2]
sys.argv = [sys.argv[0]] + sys.argv[3:]
sys.path.insert(0, perf)
import bench  # noqa: E402

CNT = bench.CNT
RX = f"{bowman} run --port af_xdp:vB:0 --forward drop --no-host-pass --frames 16384 -c {CNT}"
FWD = (f"{bowman} run --port af_xdp:vB:0 --port af_xdp:vC:0 --forward l2fwd --no-host-pass --frames 16384 "
       f"--next-hop 02:00:00:00:00:0a --next-hop 02:00:00:00:00:0d -c {CNT}")
T, FILE_SPECS = bench.T, bench.FILE_SPECS

for s in (64, 1514):
    # Same modes as the xsk_rxdrop anchors: spin on CPU 1 with kernel RX on CPU 0 (sirq),
    # with and without need_wakeup; poll(2) when idle with kernel RX on CPU 1 (thr).
    bench.TESTS[f"rx-bowman-spin-sirq-{s}"] = T(size=s, napi="sirq", rx=f"{RX} --idle spin --no-need-wakeup",
                                                specs=FILE_SPECS, primary=f"file:{CNT}")
    bench.TESTS[f"rx-bowman-spin-wake-sirq-{s}"] = T(size=s, napi="sirq", rx=f"{RX} --idle spin",
                                                     specs=FILE_SPECS, primary=f"file:{CNT}")
    # Preferred busy polling, as rx-xsk-busypoll-sirq-*: the app's recvfrom runs vB's NAPI on CPU 1.
    bench.TESTS[f"rx-bowman-busypoll-sirq-{s}"] = T(size=s, napi="sirq-defer", rx=f"{RX} --idle spin --busy-poll 20",
                                                    specs=FILE_SPECS, primary=f"file:{CNT}")
    bench.TESTS[f"rx-bowman-poll-wake-thr-{s}"] = T(size=s, napi="thr", rx=f"{RX} --idle poll",
                                                    specs=FILE_SPECS, primary=f"file:{CNT}")
    bench.TESTS[f"fwd-bowman-spin-sirq-{s}"] = T(size=s, napi="sirq", rx=f"{FWD} --idle spin --no-need-wakeup",
                                                 setup=bench.FWD_SETUP, teardown=bench.FWD_DOWN, gen_nice=19,
                                                 specs=["xdp:pbsink:vD", f"file:{CNT}", "link:pbgen:vA:tx.dropped"],
                                                 primary="xdp:pbsink:vD")
    bench.TESTS[f"fwd-bowman-poll-thr-{s}"] = T(size=s, napi="thr", rx=f"{FWD} --idle poll",
                                                setup=bench.FWD_SETUP, teardown=bench.FWD_DOWN, gen_nice=19,
                                                specs=["xdp:pbsink:vD", f"file:{CNT}", "link:pbgen:vA:tx.dropped"],
                                                primary="xdp:pbsink:vD")
for s in (64, 1514):
    # TPACKET_V3 against afp_v3_rx, with the same tc drop so the kernel stack does no more work.
    bench.TESTS[f"rx-bowman-afp-sirq-{s}"] = T(size=s, napi="sirq", setup=bench.TCDROP_SETUP, teardown=bench.TCDROP_DOWN,
                                               rx=f"{bowman} run --port af_packet:vB --forward drop --idle spin --frames 16384 -c {CNT}",
                                               specs=FILE_SPECS, primary=f"file:{CNT}")
# Routed forwarding: the generator's destination (198.18.0.2) made a remote
# host behind the sink, by a kernel route Bowman mirrors and the kernel uses.
ROUTE_SETUP = bench.FWD_SETUP + [
    "ip -n pbdut addr del 198.18.0.2/24 dev vB", "ip -n pbdut addr add 198.18.0.3/24 dev vB",
    "ip -n pbdut route add 198.18.0.2/32 via 198.18.1.2 dev vC"]
ROUTE_DOWN = bench.FWD_DOWN + [
    "ip netns exec pbdut sysctl -qw net.ipv4.ip_forward=0",
    "ip -n pbdut route del 198.18.0.2/32", "ip -n pbdut addr del 198.18.0.3/24 dev vB",
    "ip -n pbdut addr add 198.18.0.2/24 dev vB"]
ROUTER = f"{bowman} run --port af_xdp:vB:0 --port af_xdp:vC:0 --forward router --fib kernel --no-host-pass --frames 16384 -c {CNT}"
for s in (64, 1514):
    bench.TESTS[f"route-bowman-spin-sirq-{s}"] = T(size=s, napi="sirq", rx=f"{ROUTER} --idle spin --no-need-wakeup",
                                                   setup=ROUTE_SETUP, teardown=ROUTE_DOWN, gen_nice=19,
                                                   specs=["xdp:pbsink:vD", f"file:{CNT}", "link:pbgen:vA:tx.dropped"],
                                                   primary="xdp:pbsink:vD")
    bench.TESTS[f"route-bowman-poll-thr-{s}"] = T(size=s, napi="thr", rx=f"{ROUTER} --idle poll",
                                                  setup=ROUTE_SETUP, teardown=ROUTE_DOWN, gen_nice=19,
                                                  specs=["xdp:pbsink:vD", f"file:{CNT}", "link:pbgen:vA:tx.dropped"],
                                                  primary="xdp:pbsink:vD")

# The kernel's own forwarding cannot take the live-frames generator: it
# rewrites the Ethernet header and TTL in the frame's page, which the
# generator recycles, so after one pass vB sees another host's MAC
# ("otherhost" drops) and ever smaller TTLs. These comparisons use the
# AF_XDP generator (copy mode, ~1.4 Mpps offered) for every contender:
# the kernel with threaded NAPI on the receiver core (its forwarding runs
# there, as Bowman's worker does), Bowman's router and l2fwd, xsk_fwd.
for s in (64, 1514):
    bench.TESTS[f"route-kernel-thr-afxdp-{s}"] = T(size=s, napi="thr", gen="afxdp",
                                                   setup=ROUTE_SETUP + ["ip netns exec pbdut sysctl -qw net.ipv4.ip_forward=1"],
                                                   teardown=ROUTE_DOWN, gen_nice=19,
                                                   specs=["xdp:pbsink:vD", "link:pbgen:vA:tx.dropped"], primary="xdp:pbsink:vD")
    for base in ("route-bowman-spin-sirq", "route-bowman-poll-thr", "fwd-bowman-spin-sirq", "fwd-bowman-poll-thr", "fwd-xsk-spin-sirq"):
        bench.TESTS[f"{base}-afxdp-{s}"] = dict(bench.TESTS[f"{base}-{s}"], gen="afxdp")

# A capture running at full rate: every packet received on vB copied by the
# worker into its capture ring and written by the management thread (to
# /dev/null, so the disk is not what is measured), against the same
# forwarding without a capture, in the same run.
for s in (64, 1514):
    for base in ("fwd-bowman-poll-thr-afxdp", "route-bowman-poll-thr-afxdp"):
        t = dict(bench.TESTS[f"{base}-{s}"])
        t["rx"] = t["rx"] + " --capture /dev/null"
        bench.TESTS[f"{base}-capture-{s}"] = t


def testpmd_fwd(mode):
    # Two net_af_xdp ports (vB in, vC out), one forwarding lcore on RX_CPU;
    # "mac" rewrites the Ethernet addresses as Bowman's l2fwd does, "io" does not touch the packet.
    vdevs = ("--vdev=net_af_xdp0,iface=vB,start_queue=0,queue_count=1 "
             "--vdev=net_af_xdp1,iface=vC,start_queue=0,queue_count=1")
    return (f"{bench.TESTPMD} {bench.EAL} -l {bench.RX_CPU},{bench.GEN_CPU} --main-lcore {bench.GEN_CPU} "
            f"--file-prefix pbrx {vdevs} -- --forward-mode={mode} --eth-peer=1,02:00:00:00:00:0d --eth-peer=0,02:00:00:00:00:0a "
            f"--burst=64 --rxd=4096 --txd=2048 --no-lsc-interrupt --stats-period 1 --nb-cores=1 "
            f"--total-num-mbufs=16384 --auto-start --no-mlockall")


for s in (64, 1514):
    for mode in ("io", "mac"):
        bench.TESTS[f"fwd-testpmd-afxdp-{mode}-sirq-{s}"] = T(
            size=s, napi="sirq", rx=testpmd_fwd(mode), setup=bench.FWD_SETUP, teardown=bench.FWD_DOWN + ["ip -n pbdut link set dev vC xdpdrv off"],
            gen_nice=19, testpmd=True, specs=["xdp:pbsink:vD", "link:pbgen:vA:tx.dropped"], primary="xdp:pbsink:vD")

bench.TESTS["cost-bowman-poll-16"] = T(gen="xdplive-k16", rx=f"{RX} --idle poll", specs=FILE_SPECS, primary=f"file:{CNT}")
bench.TESTS["cost-bowman-spin-16"] = T(gen="xdplive-k16", rx=f"{RX} --idle spin", specs=FILE_SPECS, primary=f"file:{CNT}")

bench.main()
