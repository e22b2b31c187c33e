import DataFiles
import Foundation
import Testing
@testable import WorkerCore

@Suite struct EmulatedGPUTests {
    @Test func clusterFileNamesAndAliasesAreAccepted() {
        #expect(EmulatedGPU.canonical("A100-40G") == "A100-40G")
        #expect(EmulatedGPU.canonical("a100") == "A100-40G")
        #expect(EmulatedGPU.canonical("a100-40g") == "A100-40G")
        #expect(EmulatedGPU.canonical("t4x2") == "T4x2")
        #expect(EmulatedGPU.canonical("L4X2") == "L4x2")
        #expect(EmulatedGPU.canonical("H100") == nil)
        #expect(EmulatedGPU.profileFolder("A100-40G") == "a100")
        #expect(EmulatedGPU.profileFolder("T4x4") == "t4x4")
    }

    /// The repository's own Shared/Data is found from a working directory outside it (through the
    /// test executable's location), so emulated workers need no --profiles flag.
    @Test func shippedProfilesAreFoundFromAnyWorkingDirectory() throws {
        let data = try #require(DataFiles.directory(containing: "helix/profiles", environment: [:], workingDirectory: "/"))
        #expect(data.hasSuffix("Shared/Data"), "\(data)")
        let profiles = data + "/helix/profiles"
        let model = try EmulatedModel.named("llama2-70b")
        for name in EmulatedGPU.names {
            let profile = try GPUProfile.load(profilesDirectory: profiles, model: model, gpu: name)
            #expect(profile.gpu == name)
            #expect(profile.decode.milliseconds(tokens: 1) > 0)
        }
        // The capacity table (published for A100, L4, T4) is read for cluster-file names too.
        let a100 = try GPUProfile.load(profilesDirectory: profiles, model: model, gpu: "A100-40G")
        #expect(a100.kvCapacityByLayers[12] != nil)
        #expect(throws: WorkerError.self) { try GPUProfile.load(profilesDirectory: profiles, model: model, gpu: "H100") }
    }
}
