import Client
import Transport

/// One connection per peer address (next-hop workers, the scheduler), reused across calls.
actor Peers {
    private var clients: [String: ServiceClient] = [:]
    /// Few reconnect tries: a dead peer must fail fast so the request can be re-routed.
    private let reconnect = ReconnectPolicy(initialDelay: .milliseconds(50), maxDelay: .milliseconds(200), maxAttempts: 2)

    func client(_ address: String) throws -> ServiceClient {
        if let known = clients[address] { return known }
        let client = try ServiceClient(address: address, reconnect: reconnect)
        clients[address] = client
        return client
    }

    func closeAll() async {
        for client in clients.values { await client.close() }
        clients = [:]
    }
}
