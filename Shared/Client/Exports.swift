// Users of the client need the transport's settings (TransportConfig, ReconnectPolicy) and the
// wire types (Status, messages) in the same breath.
@_exported import Transport
@_exported import Wire
