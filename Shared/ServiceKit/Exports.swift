// A service main imports only ServiceKit: it gets the transport, the wire types, logging and
// argument parsing with it, so that each executable stays a few lines.
@_exported import ArgumentParser
@_exported import Logging
@_exported import Transport
@_exported import Wire
