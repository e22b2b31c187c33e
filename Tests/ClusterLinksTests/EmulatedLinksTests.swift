import Foundation
import Testing
import ClusterLinks

/// A cluster file's links, and the link model the emulated workers apply: transfers on one
/// directed link queue behind each other, then take the link's latency.
struct EmulatedLinksTests {
    let links = [
        DeclaredLink(from: "node-0", to: "node-1", bandwidthBytesPerSecond: 12_500_000, latencySeconds: 0.05),
        DeclaredLink(from: "node-2", to: "node-0", bandwidthBytesPerSecond: 1e9, latencySeconds: 0.001),
        DeclaredLink(from: "source", to: "node-0", bandwidthBytesPerSecond: 1e7, latencySeconds: 0.02),
    ]

    /// The scheduler and the emulated workers read a cluster file's links with one reader.
    @Test func aClusterFilesLinksAreReadOnceForBoth() throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let file = repository.appendingPathComponent("Shared/Data/helix/clusters/geo24.ini").path
        let declared = try DeclaredLink.read(clusterFile: file)
        func link(_ from: String, _ to: String) -> DeclaredLink? { declared.first { $0.from == from && $0.to == to } }
        let inRegion = try #require(link("node-0", "node-1")), fromSource = try #require(link("source", "node-0"))
        #expect(abs(inRegion.bandwidthBytesPerSecond - 1323e6) < 1 && abs(inRegion.latencySeconds - 0.001) < 1e-12)
        #expect(abs(fromSource.bandwidthBytesPerSecond - 14.2e6) < 1 && abs(fromSource.latencySeconds - 0.055) < 1e-12)
        // node-1 sends to node-0 over the same link: 1323 MB/s, 1 ms.
        let back = try EmulatedLinks(worker: "node-1", clusterFile: file)
        let now = ContinuousClock.now
        let arrival = try #require(back.arrival(to: "node-0", bytes: 1_323_000, now: now))
        #expect(abs(seconds(arrival - now) - 0.002) < 1e-9)
        #expect(throws: ClusterLinksError.self) { try DeclaredLink.read(clusterFile: repository.appendingPathComponent("Package.swift").path) }
    }

    @Test func transfersQueueOnTheirLinkAndTakeItsLatency() throws {
        let sender = EmulatedLinks(worker: "node-0", links: links)
        let now = ContinuousClock.now
        // 125 kB at 12.5 MB/s take 10 ms, then 50 ms of latency.
        let first = try #require(sender.arrival(to: "node-1", bytes: 125_000, now: now))
        #expect(abs(seconds(first - now) - 0.060) < 1e-9)
        // A second transfer sent at the same moment waits for the first to leave the link: it
        // starts sending 10 ms later.
        let second = try #require(sender.transfer(to: "node-1", bytes: 125_000, now: now))
        #expect(abs(seconds(second.arrival - now) - 0.070) < 1e-9 && abs(seconds(second.start - now) - 0.010) < 1e-9)
        // A transfer after the link has gone idle waits for nothing.
        let later = now + .seconds(1)
        let third = try #require(sender.arrival(to: "node-1", bytes: 0, now: later))
        #expect(abs(seconds(third - later) - 0.050) < 1e-9)
        // Links not declared from this worker cost nothing (loopback).
        #expect(sender.arrival(to: "node-3", bytes: 1_000_000, now: now) == nil)
        // A link carries data both ways: node-0 reaches node-2 over the link declared from node-2.
        let reverse = try #require(sender.arrival(to: "node-2", bytes: 1_000_000, now: now))
        #expect(abs(seconds(reverse - now) - 0.002) < 1e-9)
        #expect(EmulatedLinks(worker: "node-7", links: links).isEmpty)
    }

    /// The scheduler's links are emulated too (the simulator routes every iteration source → … →
    /// sink): a worker applies the source link to what the scheduler sends it, on receipt, and
    /// the sink link to what it sends the scheduler.
    @Test func theSchedulersLinksTakeTheirLatencyBothWays() throws {
        let declared = links + [DeclaredLink(from: "node-1", to: "sink", bandwidthBytesPerSecond: 1e7, latencySeconds: 0.045)]
        let now = ContinuousClock.now
        // 1000 bytes at 10 MB/s take 0.1 ms, then 20 ms of latency.
        let first = try #require(EmulatedLinks(worker: "node-0", links: declared).transferFromSource(bytes: 1000, now: now))
        #expect(first.start == now && abs(seconds(first.arrival - now) - 0.0201) < 1e-9)
        let last = EmulatedLinks(worker: "node-1", links: declared)
        #expect(last.transferFromSource(bytes: 1000, now: now) == nil)
        let token = try #require(last.arrival(to: "sink", bytes: 4, now: now))
        #expect(abs(seconds(token - now) - 0.0450004) < 1e-9)
        #expect(!EmulatedLinks(worker: "node-7", links: declared + [DeclaredLink(from: "source", to: "node-7", bandwidthBytesPerSecond: 1e7, latencySeconds: 0.05)]).isEmpty)
    }

    func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }
}
