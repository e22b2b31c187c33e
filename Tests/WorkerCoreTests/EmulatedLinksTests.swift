import Foundation
import Testing
import WorkerCore

/// The links file `lattice up --cluster` writes, and the link model the emulated workers apply:
/// transfers on one directed link queue behind each other, then take the link's latency.
struct EmulatedLinksTests {
    let links = [
        DeclaredLink(from: "node-0", to: "node-1", bandwidthBytesPerSecond: 12_500_000, latencySeconds: 0.05),
        DeclaredLink(from: "node-1", to: "node-0", bandwidthBytesPerSecond: 1e9, latencySeconds: 0.001),
        DeclaredLink(from: "source", to: "node-0", bandwidthBytesPerSecond: 1e7, latencySeconds: 0.02),
    ]

    @Test func theLinksFileRoundTrips() throws {
        #expect(try DeclaredLink.parse(DeclaredLink.render(links), source: "links.txt") == links)
    }

    @Test func aBadLineIsNamedWithItsNumber() {
        #expect(throws: WorkerError.self) { try DeclaredLink.parse("node-0 node-1 1e9 0.001\nnode-0 node-2 fast 0.001\n", source: "links.txt") }
        do {
            _ = try DeclaredLink.parse("# header\nnode-0 node-1 0 0.001\n", source: "links.txt")
            Issue.record("a zero bandwidth was accepted")
        } catch {
            #expect("\(error)".contains("links.txt:2"), "\(error)")
        }
    }

    @Test func transfersQueueOnTheirLinkAndTakeItsLatency() throws {
        let sender = EmulatedLinks(worker: "node-0", links: links)
        let now = ContinuousClock.now
        // 125 kB at 12.5 MB/s take 10 ms, then 50 ms of latency.
        let first = try #require(sender.arrival(to: "node-1", bytes: 125_000, now: now))
        #expect(abs(seconds(first - now) - 0.060) < 1e-9)
        // A second transfer sent at the same moment waits for the first to leave the link.
        let second = try #require(sender.arrival(to: "node-1", bytes: 125_000, now: now))
        #expect(abs(seconds(second - now) - 0.070) < 1e-9)
        // A transfer after the link has gone idle waits for nothing.
        let later = now + .seconds(1)
        let third = try #require(sender.arrival(to: "node-1", bytes: 0, now: later))
        #expect(abs(seconds(third - later) - 0.050) < 1e-9)
        // Links not declared from this worker cost nothing (loopback).
        #expect(sender.arrival(to: "node-2", bytes: 1_000_000, now: now) == nil)
        #expect(EmulatedLinks(worker: "node-7", links: links).isEmpty)
    }

    func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }
}
