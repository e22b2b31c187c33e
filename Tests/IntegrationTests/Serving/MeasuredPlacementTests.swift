import Client
import Foundation
import LatticeTesting
import Testing

/// Workers of unlike capacity time their layers and register the profile; placement-service plans
/// with those profiles and layer limits, so no worker gets more than it may hold and the request
/// runs through a multi-stage pipeline that computes what one process computes.
@Suite(.timeLimit(.minutes(TestTime.minutes(2))))
struct MeasuredPlacementTests {
    /// Before planning, the scheduler has each worker time its links to the others (once per
    /// pair) and sends them to placement; a worker probes only workers its scheduler knows.
    @Test func linksBetweenWorkersAreMeasuredOnceAndProbesGoOnlyToWorkers() async throws {
        let model = try LatticeCLI.tinyModel(layers: 4)
        try await LatticeTesting.withService(.placement) { placement in
            let cluster = try await ServingCluster.start(model: model, workers: 3, schedulerArguments: ["--placement", placement.address])
            do {
                let status = try await cluster.status()
                let lines = cluster.scheduler.log.split(separator: "\n").filter { $0.contains("links measured") }
                let measured = lines.compactMap { line in line.split(separator: " ").first { $0.hasPrefix("links=") }.flatMap { Int($0.dropFirst(6)) } }.reduce(0, +)
                #expect(measured == 6, "every ordered pair of the 3 workers measured once:\n\(lines.joined(separator: "\n"))")
                let workers = cluster.workers.withLock { $0 }
                let client = workers[0].client()
                let peers = status.workers.filter { $0.workerID != "w1" }.map(\.address)
                let answer = try await client.call(Methods.Worker.measureLinks.name, MeasureLinksRequest(addresses: peers, probeBytes: 1 << 20),
                                                   as: MeasureLinksResponse.self, deadline: TestTime.scaled(.seconds(10)))
                #expect(answer.links.map(\.address) == peers)
                for link in answer.links {
                    print("link w1 → \(link.address): latency \(link.latencySeconds) s, \(link.bandwidthBytesPerSecond / 1e6) MB/s (1 MiB probe)")
                    #expect(link.error.isEmpty && link.latencySeconds > 0 && link.latencySeconds < 0.5 && link.bandwidthBytesPerSecond > 1e6,
                            "\(link.address): \(link.latencySeconds) s, \(link.bandwidthBytesPerSecond) B/s \(link.error)")
                }
                await #expect(throws: Status.self) {
                    _ = try await client.call(Methods.Worker.measureLinks.name, MeasureLinksRequest(addresses: [placement.address]),
                                              as: MeasureLinksResponse.self, deadline: TestTime.scaled(.seconds(10)))
                }
                await client.close()
            } catch {
                await cluster.stop()
                throw error
            }
            await cluster.stop()
        }
    }

    @Test func unlikeWorkersGetTheirOwnRangesAndAPipelineMatchesOneProcess() async throws {
        let model = try LatticeCLI.tinyModel(layers: 6)
        let prompt: [UInt32] = [5, 9, 2, 7]
        let reference = try LatticeCLI.reference(model: model, prompt: prompt, maxTokens: 8)
        // (id, layer capacity, threads): 7 layers together, none holds all 6.
        let workers = [("m1", 3, 2), ("m2", 2, 1), ("m3", 2, 1)]
        let capacities = Dictionary(uniqueKeysWithValues: workers.map { ($0.0, $0.1) })
        try await LatticeTesting.withService(.placement) { placement in
            let cluster = try await ServingCluster.start(model: model, workers: 0, schedulerArguments: ["--placement", placement.address])
            do {
                for (id, capacity, threads) in workers {
                    try await cluster.addWorker(id, arguments: ["--layer-capacity", "\(capacity)", "--threads", "\(threads)"])
                }
                try await cluster.waitUntilServing(workers: 3)
                let log = cluster.scheduler.log
                #expect(log.contains("method=placement"), "the plan must come from placement-service:\n\(log.suffix(2000))")
                let ranges = Dictionary(uniqueKeysWithValues: try await cluster.status().workers.compactMap { worker in
                    worker.layers.map { (worker.workerID, Int($0.start)..<Int($0.end)) }
                })
                for (id, range) in ranges { #expect(range.count <= capacities[id] ?? 0, "\(id) holds \(range) beyond its capacity") }
                #expect(Set(ranges.values.map(\.lowerBound)).count == 3, "unlike workers get different ranges: \(ranges)")

                let events = try await cluster.generate(GenerateRequest(promptTokenIDs: prompt, maxTokens: 8, ignoreEOS: true))
                let tokens = events.compactMap { event -> UInt32? in if case .token(let token)? = event.event { return token.tokenID } else { return nil } }
                #expect(tokens == reference.tokens)
                let route = events.compactMap { event -> [String]? in if case .finished(let done)? = event.event { return done.route } else { return nil } }.first ?? []
                #expect(route.count >= 2, "a multi-stage route: \(route)")
                let hops = route.compactMap { ranges[$0] }
                #expect(hops.first?.lowerBound == 0 && hops.last?.upperBound == 6 && zip(hops, hops.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound },
                        "the route's ranges chain the model: \(hops)")
            } catch {
                await cluster.stop()
                throw error
            }
            await cluster.stop()
        }
    }
}
