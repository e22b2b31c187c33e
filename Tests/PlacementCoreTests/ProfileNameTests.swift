import Testing
@testable import PlacementCore

/// GPU types and profile names from requests become folder names; they must stay names (issue 12).
@Suite struct ProfileNameTests {
    @Test func namesThatArePathsAreRefused() throws {
        for good in ["A100-40G", "T4", "llama2_70b", "v1.2"] { try ProfileName.validate(good, what: "GPU type") }
        for bad in ["", ".", "..", "../../etc", "a/b", "/etc/passwd", "T4\0", String(repeating: "x", count: 65)] {
            #expect(throws: PlacementError.self, "\(bad)") { try ProfileName.validate(bad, what: "GPU type") }
        }
        let machine = MachineType(name: "../../../etc", vramBytes: 0, nicInBytesPerSecond: 1, nicOutBytesPerSecond: 1)
        #expect(throws: PlacementError(field: "GPU type", "'../../../etc' is not a valid GPU type: use 1 to 64 letters, digits, '-', '_' or '.' (a name, not a path)")) {
            _ = try GPUProfile.load(type: "../../../etc", model: .llama2_70b, machine: machine)
        }
    }
}
