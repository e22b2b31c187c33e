import Testing
import Wire
import DeterministicRandom

/// Every service message: encode then decode gives the value back; bad bytes give errors, not crashes.
@Suite struct ServiceMessageTests {
    @Test func everySampleRoundTrips() throws {
        for sample in Samples.all {
            #expect(try roundTrips(sample), "\(type(of: sample)) did not round-trip")
        }
    }

    @Test func everyMessageTypeHasASample() {
        let sampled = Set(Samples.all.map { "\(type(of: $0))" })
        let missing = WireCatalog.all.map { "\($0)" }.filter { !sampled.contains($0) }
        #expect(missing.isEmpty, "no sample for \(missing)")
    }

    @Test func emptyBytesDecodeToDefaults() throws {
        #expect(try PlanRequest(wire: []) == PlanRequest())
        #expect(try ForwardResult(wire: []).logprob == nil)
        #expect(try GenerateEvent(wire: []).event == nil)
    }

    @Test func unknownEnumValueIsAClearError() {
        // Field 3 (method), varint 99: a PlacementMethod this build does not know.
        #expect {
            try PlanRequest(wire: [0x18, 99])
        } throws: { error in
            "\(error)".contains("PlanRequest.method") && "\(error)".contains("99")
        }
    }

    @Test func unknownFieldsAreSkipped() throws {
        // Field 100, varint 1, as a newer peer might add.
        let bytes = Samples.cluster.encode() + [0xA0, 0x06, 0x01]
        #expect(try Cluster(wire: bytes) == Samples.cluster)
    }

    @Test func optionalScalarKeepsPresence() throws {
        let zero = ForwardResult(requestID: "r", tokenID: 1, logprob: 0)
        #expect(try ForwardResult(wire: zero.encode()).logprob == 0)
        #expect(try ForwardResult(wire: ForwardResult(requestID: "r").encode()).logprob == nil)
    }

    @Test func randomTruncatedAndMutatedBytesNeverCrash() {
        var generator = SplitMix64(seed: 0x5E55)   // seeded: reproducible, and TSan-safe (see EnvelopeCodecTests)
        let encoded = Samples.all.map { $0.encode() }
        var inputs: [[UInt8]] = (0..<150).map { length in
            (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
        }
        for bytes in encoded where !bytes.isEmpty {
            var mutated = bytes
            for _ in 0..<3 { mutated[Int.random(in: 0..<mutated.count, using: &generator)] = .random(in: 0...255, using: &generator) }
            inputs.append(mutated)
            inputs.append(Array(bytes[..<Int.random(in: 0..<bytes.count, using: &generator)]))
        }
        var decoded = 0
        for type in WireCatalog.all {
            decoded += decodeEach(type, inputs)
        }
        // Every input was tried on every type; at least the well-formed prefixes decode somewhere.
        #expect(decoded > 0)
    }

    @Test func largeHiddenStatesRoundTrip() throws {
        let data = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }
        let item = ForwardItem(requestID: "big", positions: Array(0..<512), hidden: HiddenStates(data: data, dtype: .float32, shape: [512, 512]))
        #expect(try ForwardItem(wire: item.encode()) == item)
    }
}

func roundTrips<M: CBridged>(_ value: M) throws -> Bool {
    try M(wire: value.encode()) == value
}

/// Decodes each input as `type`, counting successes; errors must be `WireError`s.
func decodeEach<M: CBridged>(_ type: M.Type, _ inputs: [[UInt8]]) -> Int {
    var successes = 0
    for bytes in inputs {
        do {
            _ = try M(wire: bytes)
            successes += 1
        } catch {
            #expect(error is WireError, "\(M.self): \(error)")
        }
    }
    return successes
}

@Suite struct WorkerStatsExtrasTests {
    @Test func extrasRoundTripByName() {
        let extras = Samples.workerStats.extras
        #expect(Set(extras.map(\.name)).count == extras.count)
        #expect(extras.contains { $0.name == "kv_used_entries" && $0.value == 123_456 })
        #expect(WorkerStats(extras: extras) == Samples.workerStats)
    }

    @Test func hostileFiguresAreClamped() {
        let stats = WorkerStats(extras: [("kv_used_entries", -.infinity), ("active_requests", 1e300),
                                         ("forward_calls", .nan), ("no_such_figure", 5)])
        #expect(stats.kvUsedEntries == 0 && stats.activeRequests == .max && stats.forwardCalls == 0)
    }
}
