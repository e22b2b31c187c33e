// WorkerCore: what a worker computes, without sockets.
//
// How worker-service wires it (a thin adapter). It holds one `WorkerStage` (Sendable, calls
// serialised by a lock; run steps on a compute thread, not on the event loop):
//
//   LoadLayers(range)  → `stage.load { LayerRangeRunner(directory: ModelDirectory(path:), layers:, kvBlocks:, blockSize:,
//                          progress:)` for `--backend cpu`, or `EmulatedStage(profile: GPUProfile.load(...),
//                          layers:, kvTokens:) }` for `--backend emulated`; both are `StageExecutor`s.
//                          KV size from memory: `LayerRangeRunner.kvBlocks(fittingBytes:config:layerCount:)`.
//                          Replacing a range = building a new executor and dropping the old one.
//   Forward(batch)     → `stage.step(StepBatch(entries:, input: .tokens(ids) | .hidden(HiddenStates)))`.
//                          Not last stage: send `output.hidden` (rows × width, wire bytes) to the next hop.
//                          Last stage: return `output.tokens` (request, token, position) to the caller.
//                          Throws `WorkerError` (map: .invalidBatch → INVALID_ARGUMENT or FAILED_PRECONDITION,
//                          .kvCacheFull → RESOURCE_EXHAUSTED, .badModel → FAILED_PRECONDITION) and leaves
//                          the stage unchanged. Positions must continue what this stage has cached.
//   Release(request)   → `stage.release(id)`.
//   Stats              → `stage.stats` (KV capacity/used in token×layer entries, free tokens,
//                          active requests, steps, tokens/s, last batch size, weight bytes).
//
// Executors are single-threaded classes: the service owns each one from one serial context.
// `InProcessPipeline` and `BatchingEngine` run several stages in one process (the
// `lattice model` commands and the tests); the scheduler does the batching across processes.
