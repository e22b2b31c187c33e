import Client
import Foundation
import Wire

/// worker/MeasureLinks: times this worker's links to other workers, one peer at a time (so that
/// probes do not share a link): the best of three empty worker/Probe round trips gives the
/// latency, one probe of `probe_bytes` the bandwidth from here to there.
enum LinkProbe {
    static let defaultBytes = 256 << 10
    static let maxBytes = 16 << 20
    static let maxPeers = 1024

    static func measure(_ request: MeasureLinksRequest, peers: PeerClients) async throws -> MeasureLinksResponse {
        guard request.addresses.count <= maxPeers else {
            throw Status(.invalidArgument, "MeasureLinks: \(request.addresses.count) addresses; ask for at most \(maxPeers) at a time")
        }
        guard Int(request.probeBytes) <= maxBytes else {
            throw Status(.invalidArgument, "MeasureLinks: probe_bytes \(request.probeBytes) is over \(maxBytes); ask for a smaller probe")
        }
        let payload = [UInt8](repeating: 0x5a, count: request.probeBytes == 0 ? defaultBytes : Int(request.probeBytes))
        var links: [LinkMeasurement] = []
        for address in request.addresses { links.append(await measure(address, payload: payload, peers: peers)) }
        return MeasureLinksResponse(links: links)
    }

    private static func measure(_ address: String, payload: [UInt8], peers: PeerClients) async -> LinkMeasurement {
        do {
            let client = try await peers.client(address)
            var best = Duration.seconds(60)
            for _ in 0..<3 {
                let start = ContinuousClock.now
                _ = try await client.call(Methods.Worker.probe.name, ProbeRequest(), as: ProbeResponse.self, deadline: .seconds(2))
                best = min(best, ContinuousClock.now - start)
            }
            let start = ContinuousClock.now
            let answer = try await client.call(Methods.Worker.probe.name, ProbeRequest(payload: payload), as: ProbeResponse.self, deadline: .seconds(5))
            let transfer = (ContinuousClock.now - start).inSeconds - best.inSeconds
            guard answer.receivedBytes == UInt64(payload.count) else {
                return LinkMeasurement(address: address, error: "the peer received \(answer.receivedBytes) of \(payload.count) probe bytes")
            }
            return LinkMeasurement(address: address, latencySeconds: best.inSeconds / 2,
                                   bandwidthBytesPerSecond: Double(payload.count) / max(transfer, 1e-6))
        } catch {
            return LinkMeasurement(address: address, error: "\(error)")
        }
    }
}
