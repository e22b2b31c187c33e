import Wire

/// What the scheduler knows of one registered worker.
public struct WorkerRecord: Sendable, Equatable {
    public var id: String
    public var address: String
    public var backend: Backend
    public var gpuType: String
    public var layerCapacity: Int
    /// KV room at its layer capacity, as registered (token×layer entries).
    public var declaredKVEntries: UInt64
    /// Its own layer timings on the served model (cpu workers), sent on to placement.
    public var profile: MeasuredProfile?
    public var registeredAt: ContinuousClock.Instant
    public var lastHeartbeat: ContinuousClock.Instant
    public var health: WorkerHealth = .loading
    /// Its latest figures (heartbeat), including the layers it has loaded.
    public var stats: WorkerStats?
    /// The plan epoch its loaded layers follow (heartbeat).
    public var loadedEpoch: UInt64 = 0
    /// Silent past `deadAfter` and being probed: alive if it answers, dropped if not.
    public var probing = false

    public init(registration: RegisterWorkerRequest, now: ContinuousClock.Instant) {
        id = registration.workerID
        address = registration.address
        backend = registration.backend
        gpuType = registration.gpuType
        layerCapacity = Int(registration.layerCapacity)
        declaredKVEntries = registration.kvCapacityEntries
        profile = registration.profile
        registeredAt = now
        lastHeartbeat = now
    }

    /// Whether a plan may give it layers: not dead and not leaving.
    public var isPlannable: Bool { health != .dead && health != .draining }

    public var loadedLayers: Range<Int>? {
        guard let layers = stats?.layers, layers.end > layers.start else { return nil }
        return Int(layers.start)..<Int(layers.end)
    }

    /// KV room when holding `layers`: the worker's own figure once it has loaded them, else the
    /// registered room scaled to that many layers.
    public func kvCapacity(holding layers: Range<Int>) -> Int {
        if loadedLayers == layers, let reported = stats?.kvCapacityEntries, reported > 0 { return Int(reported) }
        guard layerCapacity > 0 else { return 0 }
        return Int(declaredKVEntries) / layerCapacity * layers.count
    }
}

/// Checks a registration and says what is wrong with it.
public func validate(_ registration: RegisterWorkerRequest) throws {
    func fail(_ message: String) throws -> Never { throw Status(.invalidArgument, "RegisterWorker: \(message)") }
    if registration.workerID.isEmpty { try fail("worker_id is empty; give each worker process a unique id") }
    if registration.address.isEmpty { try fail("address is empty; send the HOST:PORT other workers reach this worker at") }
    let parts = registration.address.split(separator: ":")
    if parts.count < 2 || Int(parts.last ?? "") == nil { try fail("address '\(registration.address)' is not HOST:PORT") }
    if registration.layerCapacity == 0 { try fail("layer_capacity is 0; a worker must be able to hold at least one layer") }
    if registration.kvCapacityEntries == 0 { try fail("kv_capacity_entries is 0; a worker needs KV room to serve") }
}
