// WorkerCore: what a worker computes, without sockets.
//
// worker-service is a thin adapter: it converts wire messages to these values and back.
//
//   WorkerStage      the one handle the service holds: the loaded `StageExecutor` (`LayerRangeRunner`
//                    for `--backend cpu`, `EmulatedStage` for `--backend emulated`, built from
//                    `StageSettings`) on a serial compute queue, and its `StageLedger` under a lock.
//   LoadLayers       → `stage.load(start:end:model:epoch:progress:)`; replacing a range drops its requests.
//   Forward          → `ForwardBatcher.accept(slices, tags:)`: `ForwardAdmission` checks each `ForwardSlice`
//                    against the ledger (a `ForwardRefusal` is the Forward's answer: its kind maps to
//                    INVALID_ARGUMENT, FAILED_PRECONDITION or RESOURCE_EXHAUSTED); the batch loop
//                    (`run()`) then steps the stage and hands each slice's `SliceOutcome` (hidden states
//                    for the next hop, a token, or a failure) to the service to send on.
//   Release          → `stage.release(keys)`.
//   Stats/heartbeat  → `stage.ledger` (shape, KV use, queue, batch sizes, prefill/decode rates, Forward counts).
//
// Executors are single-threaded classes: `WorkerStage` owns one from its compute queue.
// `InProcessPipeline` and `BatchingEngine` run several stages in one process (the
// `lattice model` commands and the tests); the scheduler does the batching across processes.
