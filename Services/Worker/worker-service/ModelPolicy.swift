import Wire
import WorkerCore

/// Which model folder a peer may make this worker load (issue 12). With `--model` the worker
/// serves that folder and ignores the model_dir peers send; without it, a model_dir is loaded
/// only from inside `--model-root` (resolved: no "..", no symlink out).
struct ModelPolicy: Sendable {
    let ownModel: Bool
    let root: ModelRoot?

    /// Throws INVALID_ARGUMENT when `model` names a folder this worker must not load.
    func check(_ model: ModelInfo?) throws {
        guard !ownModel, let directory = model?.modelDir, !directory.isEmpty else { return }
        guard let root else {
            throw Status(.permissionDenied, "this worker loads no model_dir a peer names (\(directory)): start it with --model DIR, or --model-root DIR to allow folders inside DIR")
        }
        do { _ = try root.check(directory) } catch { throw Status(.permissionDenied, "\(error)") }
    }
}
