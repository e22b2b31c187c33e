// libFuzzer target: every request message a server decodes from a peer (first byte picks which).
import Wire

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let decoders: [([UInt8]) throws -> Any] = [
        { try PlanRequest(wire: $0) }, { try SimulateRequest(wire: $0) }, { try ScoreRequest(wire: $0) },
        { try RegisterWorkerRequest(wire: $0) }, { try HeartbeatRequest(wire: $0) }, { try GenerateRequest(wire: $0) },
        { try CancelRequest(wire: $0) }, { try ClusterStatusRequest(wire: $0) }, { try ForwardResultRequest(wire: $0) },
        { try LoadLayersRequest(wire: $0) }, { try ForwardRequest(wire: $0) }, { try ReleaseRequest(wire: $0) },
        { try OptimizeRequest(wire: $0) }, { try HealthRequest(wire: $0) }, { try StatsRequest(wire: $0) },
        { try HandshakeHello(wire: $0) }, { try HandshakeProof(wire: $0) },
        { try DeregisterWorkerRequest(wire: $0) }, { try MeasureLinksRequest(wire: $0) }, { try ProbeRequest(wire: $0) },
        // The handshake's server half, which a client decodes from whoever it dialled.
        { try HandshakeChallenge(wire: $0) }, { try HandshakeWelcome(wire: $0) },
    ]
    _ = try? decoders[Int(data[0]) % decoders.count](bytes)
    return 0
}
