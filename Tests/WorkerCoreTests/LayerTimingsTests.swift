import Foundation
import Testing
@testable import WorkerCore

/// A worker's startup measurement: a point per batch size, per-layer seconds, and a clear error
/// for settings that cannot give placement a curve.
@Suite struct LayerTimingsTests {
    @Test func timesEveryBatchSizePerLayer() throws {
        let path = try TestModels.write(name: "timings")
        let timings = try LayerTimings.measure(path: path, batches: [4, 1], promptTokens: 4, decodeSteps: 2)
        #expect(timings.prompt.map(\.tokens) == [4, 16])
        #expect(timings.decode.map(\.tokens) == [1, 4])
        #expect((timings.prompt + timings.decode).allSatisfy { $0.seconds > 0 && $0.seconds < 1 })
    }

    @Test func refusesSettingsWithoutACurve() throws {
        let path = try TestModels.write(name: "timings-bad")
        #expect(throws: WorkerError.self) { try LayerTimings.measure(path: path, batches: [2, 2]) }
        #expect(throws: WorkerError.self) { try LayerTimings.measure(path: path, promptTokens: 0) }
    }
}
