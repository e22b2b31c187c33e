import Client
import LatticeTesting

/// A client on its own connection that keeps calling Health while a test misbehaves on another
/// connection; every call must be answered SERVING.
final class WellBehavedClient: Sendable {
    private let client: ServiceClient
    private let service: ServiceName
    private let task: Task<(answered: Int, failures: [String]), Never>

    init(_ running: TestService) {
        client = running.client(reconnect: .never)
        service = running.service
        let (client, service) = (client, service)
        task = Task {
            var answered = 0
            var failures: [String] = []
            while !Task.isCancelled {
                do {
                    let health = try await client.health(service, deadline: TestTime.scaled(.seconds(5)))
                    if health.status == .serving { answered += 1 } else { failures.append("\(health.status)") }
                } catch is CancellationError {
                    break
                } catch let status as Status where status.code == .cancelled && Task.isCancelled {
                    break
                } catch {
                    failures.append("\(error)")
                }
                try? await Task.sleep(for: .milliseconds(5))
            }
            return (answered, failures)
        }
    }

    /// Stops the loop after one more successful call; returns how many calls were answered and
    /// what went wrong, if anything.
    func finish() async -> (answered: Int, failures: [String]) {
        var last: String? = nil
        do {
            let health = try await client.health(service, deadline: TestTime.scaled(.seconds(5)))
            if health.status != .serving { last = "final call: \(health.status)" }
        } catch {
            last = "final call: \(error)"
        }
        task.cancel()
        var result = await task.value
        if let last { result.failures.append(last) }
        await client.close()
        return result
    }
}
