import Foundation
import Testing
import WorkerCore

@Suite struct WorkerStageTests {
    @Test func refusesBeforeLoadThenServesFromManyThreads() throws {
        let stage = WorkerStage()
        let entry = BatchEntry(requestID: 1, position: 0, tokenCount: 2, wantsToken: true)
        #expect(throws: WorkerError.self) { try stage.step(StepBatch(entries: [entry], input: .tokens([1, 2]))) }
        #expect(stage.stats == nil && stage.loaded == nil)

        let dir = try TestModels.write()
        try stage.load { try LayerRangeRunner(directory: ModelDirectory(path: dir), layers: 0..<4, kvBlocks: 64, blockSize: 4) }
        #expect(stage.loaded?.layers == 0..<4)
        // Sixteen requests from concurrent threads: each gets the token it gets alone.
        let alone = try LayerRangeRunner(directory: ModelDirectory(path: dir), layers: 0..<4, kvBlocks: 64, blockSize: 4)
        let expected = try (0..<16).map { i in
            try alone.step(StepBatch(entries: [BatchEntry(requestID: UInt64(i), position: 0, tokenCount: 2, wantsToken: true)],
                                     input: .tokens([Int32(i), Int32(i + 1)]))).tokens.first?.token
        }
        let results = Results()
        DispatchQueue.concurrentPerform(iterations: 16) { i in
            let token = try? stage.step(StepBatch(entries: [BatchEntry(requestID: UInt64(i), position: 0, tokenCount: 2, wantsToken: true)],
                                                  input: .tokens([Int32(i), Int32(i + 1)]))).tokens.first?.token
            results.set(i, token)
        }
        #expect(results.all(16) == expected)
        #expect(stage.stats?.activeRequests == 16)
        for i in 0..<16 { stage.release(UInt64(i)) }
        #expect(stage.stats?.kvUsedEntries == 0)
        // Reloading another range replaces the stage.
        try stage.load { try LayerRangeRunner(directory: ModelDirectory(path: dir), layers: 2..<4, kvBlocks: 8, blockSize: 4) }
        #expect(stage.loaded?.layers == 2..<4)
        #expect(throws: WorkerError.self) { try stage.step(StepBatch(entries: [entry], input: .tokens([1, 2]))) }
    }
}

final class Results: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Int: Int32?] = [:]
    func set(_ i: Int, _ v: Int32?) { lock.withLock { values[i] = v } }
    func all(_ n: Int) -> [Int32?] { lock.withLock { (0..<n).map { values[$0] ?? nil } } }
}
