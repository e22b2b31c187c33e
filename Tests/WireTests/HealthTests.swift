import Testing
import Wire
import DeterministicRandom

@Suite struct HealthMessageTests {
    @Test func healthResponseRoundTrips() throws {
        let original = HealthResponse(status: .draining, service: "circuit-optimizer", version: "0.1.0", uptimeMs: 123_456, instanceID: "9f3a")
        #expect(try HealthResponse(wire: original.encode()) == original)
        #expect(try HealthResponse(wire: HealthResponse(status: .unknown, service: "").encode()) == HealthResponse(status: .unknown, service: ""))
    }

    @Test func emptyRequestsRoundTrip() throws {
        #expect(try HealthRequest(wire: HealthRequest().encode()) == HealthRequest())
        #expect(try StatsRequest(wire: StatsRequest().encode()) == StatsRequest())
        #expect(try HealthRequest(wire: []) == HealthRequest())
    }

    @Test func statsResponseRoundTripsWithExtras() throws {
        let original = StatsResponse(
            service: "worker", uptimeMs: 5, callsTotal: .max, callsFailed: 3, callsInFlight: 2, connectionsOpen: 7,
            bytesIn: 1 << 40, bytesOut: 9,
            extra: [Stat(name: "kv_used_bytes", value: 1.5e9), Stat(name: "", value: -0.25), Stat(name: "queue", value: 0)])
        let decoded = try StatsResponse(wire: original.encode())
        #expect(decoded == original)
        #expect(decoded[extra: "kv_used_bytes"] == 1.5e9)
        #expect(try StatsResponse(wire: StatsResponse(service: "x").encode()).extra.isEmpty)
    }

    @Test func statRoundTrips() throws {
        let original = Stat(name: "tokens_per_s", value: 812.5)
        #expect(try Stat(wire: original.encode()) == original)
    }

    @Test func badBytesAreErrorsNotCrashes() {
        #expect(throws: WireError.self) { try HealthRequest(wire: [0x08]) }  // a varint field cut off
        #expect(throws: WireError.self) { try HealthResponse(wire: [0xFF, 0xFF]) }
        let good = StatsResponse(service: "placement", callsTotal: 4, extra: [Stat(name: "a", value: 1)]).encode()
        for cut in 0..<good.count { _ = try? StatsResponse(wire: Array(good[..<cut])) }
        var generator = SplitMix64(seed: 0x4EA1)   // seeded: reproducible, and TSan-safe (see EnvelopeCodecTests)
        for length in 0..<200 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = try? StatsResponse(wire: bytes)
            _ = try? HealthResponse(wire: bytes)
        }
    }

    @Test func serviceNamesMapToMethodsAndExecutables() {
        #expect(ServiceName.circuit.healthMethod == "circuit/Health")
        #expect(ServiceName.circuit.executableName == "circuit-optimizer-service")
        #expect(ServiceName.placement.statsMethod == "placement/Stats")
        #expect(ServiceName(named: "circuit-optimizer") == .circuit)
        #expect(ServiceName(named: "nope") == nil)
    }
}
