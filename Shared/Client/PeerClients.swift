import Transport

/// One connection per peer address (next-hop workers, the scheduler, placement), reused across
/// calls. Few reconnect tries by default: a dead peer must fail fast so that its requests can
/// be re-routed.
public actor PeerClients {
    private var clients: [String: ServiceClient] = [:]
    private let reconnect: ReconnectPolicy

    public init(reconnect: ReconnectPolicy = ReconnectPolicy(initialDelay: .milliseconds(50), maxDelay: .milliseconds(200), maxAttempts: 2)) {
        self.reconnect = reconnect
    }

    public func client(_ address: String) throws -> ServiceClient {
        if let known = clients[address] { return known }
        let client = try ServiceClient(address: address, reconnect: reconnect)
        clients[address] = client
        return client
    }

    public func closeAll() async {
        for client in clients.values { await client.close() }
        clients = [:]
    }
}
