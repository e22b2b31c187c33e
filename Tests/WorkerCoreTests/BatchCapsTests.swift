@testable import PlacementCore
import Testing
@testable import WorkerCore

/// Emulated workers cap prompts and decode steps per batch as the simulator's batches do, from
/// the same measured table; a capped item waits without holding up the ones behind it.
@Suite struct BatchCapsTests {
    static func settings(_ gpu: String, model: String) -> StageSettings {
        StageSettings(backend: .emulated, modelDir: nil, modelName: model, gpu: gpu, profilesDirectory: "", kvTokens: 1, blockSize: 16)
    }

    /// Every emulated type at every layer count it can hold: the live caps are the simulator's
    /// NodeBatch limits (profile loaded as the simulator loads it). On llama2-70b that is 3
    /// prompts a batch on an A100 and 1 on an L4 or a T4.
    @Test(arguments: [(ModelSpec.llama2_70b, "llama2-70b")])
    func liveCapsAreTheSimulatorsLimits(model: ModelSpec, name: String) throws {
        for gpu in EmulatedGPU.names {
            let type = EmulatedGPU.profileFolder(gpu).uppercased().replacingOccurrences(of: "X", with: "x")
            guard let machine = MachineType.builtin[type] else { Issue.record("no machine type \(type) for \(gpu)"); continue }
            let profile = try PlacementCore.GPUProfile.load(type: type, model: model, machine: machine)
            let caps = try Self.settings(gpu, model: name).batchCaps()
            for layers in 1...profile.capacity.maxLayers {
                let limits = NodeBatch.Limits(profile: profile, layers: layers)
                #expect(caps(layers) == BatchCaps(prompts: limits.prompts, decodes: limits.decodes), "\(gpu) holding \(layers) layers")
            }
        }
        #expect(try Self.settings("A100-40G", model: name).batchCaps()(10).prompts == 3)
        #expect(try Self.settings("l4", model: name).batchCaps()(5).prompts == 1)
        #expect(try Self.settings("T4", model: name).batchCaps()(4).prompts == 1)
        #expect(try StageSettings(backend: .cpu, modelDir: nil, modelName: nil, gpu: "", profilesDirectory: "", kvTokens: 1, blockSize: 16)
            .batchCaps()(4) == .unlimited)
    }

    @Test func aCappedItemWaitsAndTheOnesBehindItGoOn() {
        func slice(_ id: String, prompt: Bool) -> AcceptedSlice<String> {
            AcceptedSlice(slice: ForwardSlice(requestID: id, positions: prompt ? [0, 1, 2] : [7], layers: (0, 1)), id: 0, tag: id)
        }
        let queue = ForwardQueue<String>()
        queue.append([slice("p1", prompt: true), slice("p2", prompt: true), slice("d1", prompt: false), slice("d2", prompt: false),
                      slice("d3", prompt: false), slice("p3", prompt: true)])
        let first = queue.take(maxTokens: 100, longerThan: 100, caps: BatchCaps(prompts: 1, decodes: 2))
        #expect(first.batch.map(\.tag) == ["p1", "d1", "d2"] && first.long.isEmpty)
        #expect(queue.requestIDs == ["p2", "d3", "p3"])
        let second = queue.take(maxTokens: 100, longerThan: 100, caps: BatchCaps(prompts: 1, decodes: 2))
        #expect(second.batch.map(\.tag) == ["p2", "d3"])
        // Past the token budget the rest waits in order, capped or not.
        queue.append([slice("p4", prompt: true), slice("d4", prompt: false)])
        let third = queue.take(maxTokens: 3, longerThan: 100, caps: .unlimited)
        #expect(third.batch.map(\.tag) == ["p3"] && queue.requestIDs == ["p4", "d4"])
    }
}
