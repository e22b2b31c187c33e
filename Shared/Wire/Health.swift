import CProtobufC
import WireC

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `<service>/Health` request: no fields.
public struct HealthRequest: WireMessage {
    public init() {}

    public func encode() -> [UInt8] {
        var message = Lattice__V1__HealthRequest()
        lattice__v1__health_request__init(&message)
        return packMessage(&message)
    }

    public init(wire bytes: [UInt8]) throws {
        try withUnsafePointer(to: lattice__v1__health_request__descriptor) { descriptor in
            try unpackMessage(bytes, descriptor, as: Lattice__V1__HealthRequest.self, name: "HealthRequest") { _ in }
        }
    }
}

/// `<service>/Health` response: whether the service takes calls, and who it is.
public struct HealthResponse: WireMessage {
    public enum ServingStatus: UInt32, Sendable, CustomStringConvertible {
        case unknown = 0, serving = 1, notServing = 2, draining = 3

        public var description: String {
            switch self {
            case .unknown: "UNKNOWN"
            case .serving: "SERVING"
            case .notServing: "NOT_SERVING"
            case .draining: "DRAINING"
            }
        }
    }

    public var status: ServingStatus
    public var service: String
    public var version: String
    public var uptimeMs: UInt64
    public var instanceID: String

    public init(status: ServingStatus, service: String, version: String = "", uptimeMs: UInt64 = 0, instanceID: String = "") {
        self.status = status
        self.service = service
        self.version = version
        self.uptimeMs = uptimeMs
        self.instanceID = instanceID
    }

    public func encode() -> [UInt8] {
        var message = Lattice__V1__HealthResponse()
        lattice__v1__health_response__init(&message)
        message.status = Lattice__V1__HealthResponse__ServingStatus(rawValue: status.rawValue)
        message.uptime_ms = uptimeMs
        return withCStringField(service) { serviceC in
            message.service = serviceC
            return withCStringField(version) { versionC in
                message.version = versionC
                return withCStringField(instanceID) { instanceC in
                    message.instance_id = instanceC
                    return packMessage(&message)
                }
            }
        }
    }

    public init(wire bytes: [UInt8]) throws {
        self = try withUnsafePointer(to: lattice__v1__health_response__descriptor) { descriptor in
            try unpackMessage(bytes, descriptor, as: Lattice__V1__HealthResponse.self, name: "HealthResponse") { m in
                let c = m.pointee
                // A newer peer may send a status this build does not know: read it as UNKNOWN.
                return HealthResponse(
                    status: ServingStatus(rawValue: c.status.rawValue) ?? .unknown,
                    service: stringField(c.service), version: stringField(c.version),
                    uptimeMs: c.uptime_ms, instanceID: stringField(c.instance_id))
            }
        }
    }
}

/// `<service>/Stats` request: no fields.
public struct StatsRequest: WireMessage {
    public init() {}

    public func encode() -> [UInt8] {
        var message = Lattice__V1__StatsRequest()
        lattice__v1__stats_request__init(&message)
        return packMessage(&message)
    }

    public init(wire bytes: [UInt8]) throws {
        try withUnsafePointer(to: lattice__v1__stats_request__descriptor) { descriptor in
            try unpackMessage(bytes, descriptor, as: Lattice__V1__StatsRequest.self, name: "StatsRequest") { _ in }
        }
    }
}

/// One named, service-specific figure in a `StatsResponse`.
public struct Stat: WireMessage {
    public var name: String
    public var value: Double

    public init(name: String, value: Double) {
        self.name = name
        self.value = value
    }

    public func encode() -> [UInt8] {
        var message = Lattice__V1__Stat()
        lattice__v1__stat__init(&message)
        message.value = value
        return withCStringField(name) { nameC in
            message.name = nameC
            return packMessage(&message)
        }
    }

    public init(wire bytes: [UInt8]) throws {
        self = try withUnsafePointer(to: lattice__v1__stat__descriptor) { descriptor in
            try unpackMessage(bytes, descriptor, as: Lattice__V1__Stat.self, name: "Stat") { m in
                Stat(name: stringField(m.pointee.name), value: m.pointee.value)
            }
        }
    }
}

/// `<service>/Stats` response: the transport's counters plus the service's own figures.
public struct StatsResponse: WireMessage {
    public var service: String
    public var uptimeMs: UInt64
    public var callsTotal: UInt64
    public var callsFailed: UInt64
    public var callsInFlight: UInt64
    public var connectionsOpen: UInt64
    public var bytesIn: UInt64
    public var bytesOut: UInt64
    public var extra: [Stat]

    public init(
        service: String, uptimeMs: UInt64 = 0, callsTotal: UInt64 = 0, callsFailed: UInt64 = 0,
        callsInFlight: UInt64 = 0, connectionsOpen: UInt64 = 0, bytesIn: UInt64 = 0, bytesOut: UInt64 = 0,
        extra: [Stat] = []
    ) {
        self.service = service
        self.uptimeMs = uptimeMs
        self.callsTotal = callsTotal
        self.callsFailed = callsFailed
        self.callsInFlight = callsInFlight
        self.connectionsOpen = connectionsOpen
        self.bytesIn = bytesIn
        self.bytesOut = bytesOut
        self.extra = extra
    }

    /// The value of the extra figure called `name`, if present.
    public subscript(extra name: String) -> Double? {
        extra.first { $0.name == name }?.value
    }

    public func encode() -> [UInt8] {
        var message = Lattice__V1__StatsResponse()
        lattice__v1__stats_response__init(&message)
        message.uptime_ms = uptimeMs
        message.calls_total = callsTotal
        message.calls_failed = callsFailed
        message.calls_in_flight = callsInFlight
        message.connections_open = connectionsOpen
        message.bytes_in = bytesIn
        message.bytes_out = bytesOut
        // The repeated field is an array of pointers to C structs, each owning a C string:
        // build them all, pack, then free them all.
        let stats = UnsafeMutablePointer<Lattice__V1__Stat>.allocate(capacity: max(extra.count, 1))
        let pointers = UnsafeMutablePointer<UnsafeMutablePointer<Lattice__V1__Stat>?>.allocate(capacity: max(extra.count, 1))
        var names: [UnsafeMutablePointer<CChar>?] = []
        defer {
            for name in names { free(name) }
            stats.deinitialize(count: extra.count)
            stats.deallocate()
            pointers.deallocate()
        }
        for (index, stat) in extra.enumerated() {
            var c = Lattice__V1__Stat()
            lattice__v1__stat__init(&c)
            let name = strdup(stat.name)
            names.append(name)
            c.name = name
            c.value = stat.value
            (stats + index).initialize(to: c)
            pointers[index] = stats + index
        }
        message.n_extra = extra.count
        message.extra = extra.isEmpty ? nil : pointers
        return withCStringField(service) { serviceC in
            message.service = serviceC
            return packMessage(&message)
        }
    }

    public init(wire bytes: [UInt8]) throws {
        self = try withUnsafePointer(to: lattice__v1__stats_response__descriptor) { descriptor in
            try unpackMessage(bytes, descriptor, as: Lattice__V1__StatsResponse.self, name: "StatsResponse") { m in
                let c = m.pointee
                var extra: [Stat] = []
                if let list = c.extra {
                    extra.reserveCapacity(c.n_extra)
                    for index in 0..<c.n_extra {
                        guard let stat = list[index] else { continue }
                        extra.append(Stat(name: stringField(stat.pointee.name), value: stat.pointee.value))
                    }
                }
                return StatsResponse(
                    service: stringField(c.service), uptimeMs: c.uptime_ms, callsTotal: c.calls_total,
                    callsFailed: c.calls_failed, callsInFlight: c.calls_in_flight,
                    connectionsOpen: c.connections_open, bytesIn: c.bytes_in, bytesOut: c.bytes_out, extra: extra)
            }
        }
    }
}
