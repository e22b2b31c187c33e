import Testing
import Wire

@Suite struct MethodsTests {
    @Test func namesAreServiceSlashMethodAndUnique() {
        let services = Set(ServiceName.allCases.map(\.methodPrefix))
        for name in Methods.names {
            let parts = name.split(separator: "/", omittingEmptySubsequences: false)
            #expect(parts.count == 2 && services.contains(String(parts[0])) && !parts[1].isEmpty, "\(name)")
        }
        #expect(Set(Methods.names).count == Methods.names.count)
        #expect(Methods.names.contains("worker/Health") && Methods.names.contains("circuit/Stats"))
    }

    @Test func streamingMethodsAreThoseWithEvents() {
        #expect(Methods.Placement.plan.streaming && Methods.Scheduler.generate.streaming)
        #expect(Methods.Worker.loadLayers.streaming && Methods.Circuit.optimize.streaming)
        #expect(!Methods.Worker.forward.streaming && !Methods.Scheduler.cancel.streaming)
    }
}
