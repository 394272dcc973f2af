import BowmanControl
import BowmanControlIO
import BowmanPacket
import BowmanPipeline
import BowmanSystem
import Prometheus

/// The node's Prometheus registry (swift-prometheus, which formats the
/// text exposition). The management core's own events (console sessions,
/// failed logins, reloads, scrapes) count straight into it; the data
/// plane's counters stay in each worker's counter block and are copied in
/// at scrape time (relaxed loads: the workers never see the scrape, take
/// no lock and share no cache line with it beyond the one they write).
final class NodeMetrics {
    let registry = PrometheusCollectorRegistry()

    /// A registry counter that follows an absolute value read elsewhere
    /// (a worker's counter): it is incremented by the difference.
    final class Mirror {
        let counter: Counter
        var last: UInt64 = 0
        init(_ c: Counter) { counter = c }
        func follow(_ value: UInt64) {
            if value > last { counter.increment(by: Int64(value - last)) }
            last = value
        }
    }

    /// A counter with one label, made per label value on first use.
    final class Labelled {
        let registry: PrometheusCollectorRegistry
        let name: String, label: String, help: String
        var counters: [String: Counter] = [:]
        init(_ r: PrometheusCollectorRegistry, _ name: String, label: String, help: String) {
            registry = r; self.name = name; self.label = label; self.help = help
        }
        func increment(_ value: String) {
            if counters[value] == nil { counters[value] = registry.makeCounter(name: name, labels: [(label, value)], help: help) }
            counters[value]!.increment()
        }
    }

    final class Plain {
        let counter: Counter
        init(_ c: Counter) { counter = c }
        func add(_ n: UInt64) { counter.increment(by: Int64(n)) }
    }

    let consoleSessions: Labelled
    let consoleFailures: Plain
    let reloads: Labelled
    let scrapes: Plain
    var mirrors: [String: Mirror] = [:]
    var gauges: [String: Gauge] = [:]

    init() {
        consoleSessions = Labelled(registry, "bowman_console_sessions_total", label: "kind", help: "Console connections closed, by whether they logged in")
        consoleFailures = Plain(registry.makeCounter(name: "bowman_console_failed_logins_total", help: "Wrong secrets and commands before login on the console"))
        reloads = Labelled(registry, "bowman_config_reloads_total", label: "result", help: "Config reloads, applied or refused")
        scrapes = Plain(registry.makeCounter(name: "bowman_metrics_scrapes_total", help: "Scrapes of this endpoint"))
    }

    static let workerHelp: [String: String] = [
        "bowman_worker_rx_packets_total": "Packets a worker received",
        "bowman_worker_tx_packets_total": "Packets a worker sent",
        "bowman_worker_dropped_packets_total": "Packets a worker's forwarding function dropped",
        "bowman_worker_tx_full_packets_total": "Packets dropped because the out port's ring was full",
        "bowman_worker_bursts_total": "Bursts a worker received",
        "bowman_worker_idle_polls_total": "Rounds that found no packet",
        "bowman_router_forwarded_packets_total": "Packets the router forwarded on the data path",
        "bowman_router_blackholed_packets_total": "Packets dropped by a blackhole route",
        "bowman_router_malformed_packets_total": "Packets the router could not parse",
        "bowman_router_punted_packets_total": "Packets handed to the management core, by reason",
        "bowman_classifier_flow_packets_total": "Packets per classifier flow (demux id)",
        "bowman_classifier_unmatched_packets_total": "Packets no rule matched",
        "bowman_flow_stage_total": "A stage bound at a flow's slot: its counters (packets, bytes, dropped, seen, copied, denied)",
    ]

    func mirror(_ name: String, _ labels: [(String, String)], _ value: UInt64) {
        let key = name + labels.map { "|\($0.0)=\($0.1)" }.joined()
        if mirrors[key] == nil {
            mirrors[key] = Mirror(registry.makeCounter(name: name, labels: labels, help: Self.workerHelp[name] ?? name))
        }
        mirrors[key]!.follow(value)
    }

    func gauge(_ name: String, _ labels: [(String, String)], _ value: Double, help: String) {
        let key = name + labels.map { "|\($0.0)=\($0.1)" }.joined()
        if gauges[key] == nil { gauges[key] = registry.makeGauge(name: name, labels: labels, help: help) }
        gauges[key]!.set(value)
    }

    /// Copies the data plane's counters in (on the management thread, at scrape time).
    func update(from r: RunningDataPlane, config: NodeConfig, console: StreamServer<HalSession>?, flows: NodeFlows? = nil) {
        if let f = flows {
            for b in f.bound {
                let stage: String
                switch b.stage {
                case .counter: stage = "counter"; case .rateLimit: stage = "rate-limit"; case .sample: stage = "sample"; case .deny: stage = "deny"
                case .mirror: stage = "mirror"
                }
                for (what, v) in f.values(b, r.stageStates) {
                    mirror("bowman_flow_stage_total", [("flow", f.config[b.flow].name), ("slot", b.slot.name), ("stage", stage), ("counter", what)], v)
                }
            }
        }
        for (w, st) in r.stats.enumerated() {
            let s = st.snapshot()
            let l = [("worker", "\(w)"), ("cpu", "\(r.options.dataCores[w]?.rawValue ?? -1)")]
            mirror("bowman_worker_rx_packets_total", l, s.rxPackets)
            mirror("bowman_worker_tx_packets_total", l, s.txPackets)
            mirror("bowman_worker_dropped_packets_total", l, s.dropped)
            mirror("bowman_worker_tx_full_packets_total", l, s.txFull)
            mirror("bowman_worker_bursts_total", l, s.bursts)
            mirror("bowman_worker_idle_polls_total", l, s.idlePolls)
            gauge("bowman_worker_frames_free", l, Double(st.framesFree.load(ordering: .relaxed)), help: "Frames on a worker's free stack")
            gauge("bowman_worker_frames", l, Double(st.framesTotal.load(ordering: .relaxed)), help: "Frames in a worker's pool")
        }
        if let c = r.control {
            for (w, k) in c.counters.enumerated() {
                let l = [("worker", "\(w)")]
                mirror("bowman_router_forwarded_packets_total", l, k.forwarded.load(ordering: .relaxed))
                mirror("bowman_router_blackholed_packets_total", l, k.blackholed.load(ordering: .relaxed))
                mirror("bowman_router_malformed_packets_total", l, k.malformed.load(ordering: .relaxed))
                for reason in PuntReason.allCases {
                    mirror("bowman_router_punted_packets_total", l + [("reason", "\(reason)")], k.punted(reason))
                }
            }
            gauge("bowman_router_routes", [], Double(c.routes.count), help: "Routes in the router's table")
        }
        if let cl = r.classification {
            var unmatched: UInt64 = 0
            for f in cl.flows { unmatched += f.unmatched.load(ordering: .relaxed) }
            mirror("bowman_classifier_unmatched_packets_total", [], unmatched)
            let cap = cl.flows.first?.capacity ?? 0
            var exported = 0
            for d in 0..<cap where exported < 4096 {
                let n = cl.flows.reduce(UInt64(0)) { $0 + $1.count(d) }
                if n > 0 || mirrors["bowman_classifier_flow_packets_total|flow=\(d)"] != nil {
                    mirror("bowman_classifier_flow_packets_total", [("flow", "\(d)")], n)
                    exported += 1
                }
            }
        }
        for p in r.options.ports {
            let kind: String
            switch p { case .afXDP: kind = "af_xdp"; case .afPacket: kind = "af_packet"; case .pcapIn: kind = "pcap"; case .pcapOut: kind = "pcap-out" }
            let note = r.notes.first { $0.hasPrefix("\(p): ") } ?? ""
            let mode = note.hasPrefix("\(p): copy mode") ? "copy" : note.hasPrefix("\(p): zero-copy") ? "zero-copy" : "-"
            gauge("bowman_port_info", [("port", p.description), ("kind", kind), ("mode", mode),
                                       ("xdp_attached_here", r.attached.contains(p.interface) ? "yes" : "no"),
                                       ("xdp_attach_mode", config.xdpMode.rawValue)], 1,
                  help: "A port of the node: its kind and the AF_XDP bind mode obtained")
        }
        gauge("bowman_uptime_seconds", [], Double(SystemClock.monotonicMilliseconds - r.startedAt) / 1000, help: "Seconds since the workers started")
        gauge("bowman_console_connections", [], Double(console?.connectionCount ?? 0), help: "Connections to the console now")
    }
}
