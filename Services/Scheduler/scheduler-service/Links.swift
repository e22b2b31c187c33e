import Client
import SchedulerCore
import Transport
import Wire

struct TransportWorkerLink: WorkerLink {
    let connections: PeerClients

    func forward(_ request: ForwardRequest, to hop: Hop) async throws -> ForwardResponse {
        try await connections.client(hop.address).call(Methods.Worker.forward.name, request, as: ForwardResponse.self, deadline: .seconds(30))
    }

    func release(_ keys: [String], on hop: Hop) async throws {
        _ = try await connections.client(hop.address).call(Methods.Worker.release.name, ReleaseRequest(requestIDs: keys),
                                                           as: ReleaseResponse.self, deadline: .seconds(5))
    }

    func measureLinks(from address: String, to peers: [String], probeBytes: UInt32, deadline: Duration) async throws -> [LinkMeasurement] {
        try await connections.client(address).call(Methods.Worker.measureLinks.name, MeasureLinksRequest(addresses: peers, probeBytes: probeBytes),
                                                   as: MeasureLinksResponse.self, deadline: deadline).links
    }

    func isAlive(_ hop: Hop, within: Duration) async -> Bool {
        // A fresh connection: the pooled one may still be retrying a dead peer.
        guard let probe = try? ServiceClient(address: hop.address, reconnect: .never) else { return false }
        let health = try? await probe.health(.worker, deadline: within)
        await probe.close()
        return health?.status == .serving
    }
}

struct TransportPlacementLink: PlacementLink {
    let address: String
    let timeout: Double

    func plan(_ request: PlanRequest) async throws -> PlanResult {
        let client = try ServiceClient(address: address, reconnect: .never)
        defer { Task { await client.close() } }
        for try await event in client.stream(Methods.Placement.plan.name, request, as: PlanEvent.self, deadline: .milliseconds(Int64(timeout * 1000))) {
            if case .result(let result)? = event.event { return result }
        }
        throw Status(.internal, "placement/Plan ended without a result")
    }
}
