import Foundation
import Transport
import Wire

/// The built-in `<service>/Health` and `<service>/Stats` methods.
final class HealthEndpoints: @unchecked Sendable {
    let service: ServiceName
    let version: String
    let instanceID: String
    private let started = ContinuousClock.now
    private let lock = NSLock()
    private var serving: HealthResponse.ServingStatus = .serving

    let statsDelay: Duration?

    init(service: ServiceName, version: String, statsDelay: Duration? = nil) {
        self.service = service
        self.version = version
        self.statsDelay = statsDelay
        self.instanceID = String(UInt64.random(in: 1...UInt64.max), radix: 16)
    }

    var status: HealthResponse.ServingStatus {
        get { lock.lock(); defer { lock.unlock() }; return serving }
        set { lock.lock(); serving = newValue; lock.unlock() }
    }

    var uptimeMs: UInt64 {
        let elapsed = ContinuousClock.now - started
        return UInt64(max(0, elapsed.components.seconds)) * 1000 + UInt64(max(0, elapsed.components.attoseconds / 1_000_000_000_000_000))
    }

    func register(on server: Server, hooks: ServiceHost.Hooks) {
        // Health is cheap and never blocks: answer on the loop thread, with no Task hop, so probes
        // stay fast however busy the service's handlers are.
        server.inlineUnary(service.healthMethod) { [self] payload, _ in
            _ = try payload.withUnsafeBytes { try decodeRequest(HealthRequest.self, $0, method: service.healthMethod) }
            return HealthResponse(
                status: status, service: service.displayName, version: version, uptimeMs: uptimeMs,
                instanceID: instanceID
            ).encode()
        }
        // Stats only reads counters and awaits the service's providers: it runs on the loop too.
        server.unary(service.statsMethod, StatsRequest.self, nonBlocking: true) { [self, weak server] _, _ in
            if let statsDelay { try await Task.sleep(for: statsDelay) }
            guard let server else { throw Status(.unavailable, "\(service.displayName) is shutting down") }
            let counters = server.stats, client = ClientCounters.process.stats
            // Transport figures beyond the message's fixed fields come first, then the service's own.
            var extra = [
                Stat(name: "protocol_errors", value: Double(counters.protocolErrors)),
                Stat(name: "frames_too_large", value: Double(counters.framesTooLarge)),
                Stat(name: "max_queued_write_bytes", value: Double(counters.maxQueuedWriteBytes)),
                Stat(name: "auth_failures", value: Double(counters.authFailures)),
                Stat(name: "calls_denied", value: Double(counters.callsDenied)),
                Stat(name: "calls_over_client_limit", value: Double(counters.callsOverClientLimit)),
                Stat(name: "stream_window_waits", value: Double(counters.streamWindowWaits)),
                Stat(name: "client_calls_refused", value: Double(client.callsRefused)),
                Stat(name: "client_window_updates_sent", value: Double(client.windowUpdatesSent)),
                Stat(name: "client_stream_overruns", value: Double(client.streamOverruns)),
                Stat(name: "client_max_stream_buffered_bytes", value: Double(client.maxStreamBufferedBytes)),
            ]
            let loops = server.statsPerLoop   // one entry unless --loops asked for more
            if loops.count > 1 {
                for (index, loop) in loops.enumerated() {
                    extra.append(Stat(name: "loop_\(index)_connections_open", value: Double(loop.connectionsOpen)))
                    extra.append(Stat(name: "loop_\(index)_calls_total", value: Double(loop.callsTotal)))
                }
            }
            for provider in hooks.withLock({ $0.stats }) { extra += await provider() }
            return StatsResponse(
                service: service.displayName, uptimeMs: uptimeMs, callsTotal: counters.callsTotal,
                callsFailed: counters.callsFailed, callsInFlight: counters.callsInFlight,
                connectionsOpen: counters.connectionsOpen, bytesIn: counters.bytesIn, bytesOut: counters.bytesOut,
                extra: extra)
        }
    }
}
