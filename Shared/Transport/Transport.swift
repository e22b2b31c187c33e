// Transport: framed RPC over TCP on libuv.
//
// How it fits together:
//   EventLoop       the process's one libuv loop thread, and a Swift TaskExecutor
//                   (`TransportLoop.executor`): work the loop gives itself runs
//                   before it next blocks; other threads hand work over with `execute` (a pipe
//                   wake-up). Nothing blocks on it.
//   TCPChannel      one socket: reads split into frames (FrameDecoder), writes queued and sent
//                   once per loop iteration. With Listener, Connector and LoopTimer, the only
//                   code that touches libuv.
//   FrameDecoder    pure framing (4-byte big-endian length + body), max size checked before
//                   any body byte is buffered.
//   EnvelopeCodec   lattice.v1.Envelope on the hot path, checked against protobuf-c in tests.
//   ServerCounters  per-connection atomic stats, summed when read.
//   Server          handlers by method name; ServerConnection runs each call in its own Task
//                   (on the loop for handlers registered `nonBlocking`),
//                   handles deadlines, CANCEL, backpressure, protocol errors and drain.
//   Connection      client: ClientCore (loop-confined state machine: connect, backoff, go-away)
//                   and CallTable (pure matching of answers to calls by id).
