/// The four Lattice services: the prefix of their method names and the executable that runs each.
public enum ServiceName: String, Sendable, CaseIterable, Codable, CustomStringConvertible {
    case placement, scheduler, worker, circuit

    /// Method prefix, as in "circuit/Optimize".
    public var methodPrefix: String { rawValue }
    /// The name a service reports in `HealthResponse.service`.
    public var displayName: String { self == .circuit ? "circuit-optimizer" : rawValue }
    /// The executable that runs this service.
    public var executableName: String { "\(displayName)-service" }
    public var description: String { displayName }

    /// The full name of one of this service's methods: `method("Plan")` is "placement/Plan".
    public func method(_ name: String) -> String { "\(methodPrefix)/\(name)" }
    public var healthMethod: String { method("Health") }
    public var statsMethod: String { method("Stats") }

    /// Reads "placement", "scheduler", "worker", "circuit" or "circuit-optimizer".
    public init?(named text: String) {
        if text == "circuit-optimizer" { self = .circuit } else { self.init(rawValue: text) }
    }
}

/// One method: its name with its request and response types. A streaming method answers with
/// any number of `Response` items, the last one marked end-of-stream.
public struct RPC<Request: WireMessage, Response: WireMessage>: Sendable {
    public let name: String
    public let streaming: Bool

    public init(_ name: String, streaming: Bool = false) {
        self.name = name
        self.streaming = streaming
    }
}

/// Every service method of lattice.v1, typed (see proto/lattice/v1/*.proto).
public enum Methods {
    public enum Placement {
        /// Progress items, then one result.
        public static let plan = RPC<PlanRequest, PlanEvent>("placement/Plan", streaming: true)
        public static let simulate = RPC<SimulateRequest, SimulateResponse>("placement/Simulate")
        public static let score = RPC<ScoreRequest, ScoreResponse>("placement/Score")
    }

    public enum Scheduler {
        public static let registerWorker = RPC<RegisterWorkerRequest, RegisterWorkerResponse>("scheduler/RegisterWorker")
        public static let heartbeat = RPC<HeartbeatRequest, HeartbeatResponse>("scheduler/Heartbeat")
        /// A worker leaving on purpose: draining first, then gone.
        public static let deregisterWorker = RPC<DeregisterWorkerRequest, DeregisterWorkerResponse>("scheduler/DeregisterWorker")
        /// Maybe queued, then tokens, then finished.
        public static let generate = RPC<GenerateRequest, GenerateEvent>("scheduler/Generate", streaming: true)
        public static let cancel = RPC<CancelRequest, CancelResponse>("scheduler/Cancel")
        public static let clusterStatus = RPC<ClusterStatusRequest, ClusterStatusResponse>("scheduler/ClusterStatus")
        /// Sent by a route's last worker stage to the route's reply-to address.
        public static let forwardResult = RPC<ForwardResultRequest, ForwardResultResponse>("scheduler/ForwardResult")
    }

    public enum Worker {
        /// Progress items, then one result.
        public static let loadLayers = RPC<LoadLayersRequest, LoadLayersEvent>("worker/LoadLayers", streaming: true)
        public static let forward = RPC<ForwardRequest, ForwardResponse>("worker/Forward")
        public static let release = RPC<ReleaseRequest, ReleaseResponse>("worker/Release")
        /// Times this worker's links to other workers (asked by the scheduler).
        public static let measureLinks = RPC<MeasureLinksRequest, MeasureLinksResponse>("worker/MeasureLinks")
        /// A payload to time a link with; answered with its size.
        public static let probe = RPC<ProbeRequest, ProbeResponse>("worker/Probe")
    }

    public enum Circuit {
        /// Progress items, then one result.
        public static let optimize = RPC<OptimizeRequest, OptimizeEvent>("circuit/Optimize", streaming: true)
    }

    /// What an API key may call: the work people and programs ask for, and every Health and
    /// Stats. The rest (registering, heartbeats, forwarding, loading layers) takes the cluster secret.
    public static let clientMethods: Set<String> = Set([
        Placement.plan.name, Placement.simulate.name, Placement.score.name,
        Scheduler.generate.name, Scheduler.cancel.name, Scheduler.clusterStatus.name,
        Circuit.optimize.name,
    ] + ServiceName.allCases.flatMap { [$0.healthMethod, $0.statsMethod] })

    /// Every typed method name, for dispatch tables and tests.
    public static let names: [String] = [
        Placement.plan.name, Placement.simulate.name, Placement.score.name,
        Scheduler.registerWorker.name, Scheduler.heartbeat.name, Scheduler.deregisterWorker.name, Scheduler.generate.name,
        Scheduler.cancel.name, Scheduler.clusterStatus.name, Scheduler.forwardResult.name,
        Worker.loadLayers.name, Worker.forward.name, Worker.release.name, Worker.measureLinks.name, Worker.probe.name,
        Circuit.optimize.name,
    ] + ServiceName.allCases.flatMap { [$0.healthMethod, $0.statsMethod] }
}
