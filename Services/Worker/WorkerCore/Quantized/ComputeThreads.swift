import Tensor

/// Threads for the worker's math: OpenBLAS (Float32 path) and the quantized kernels alike.
public enum ComputeThreads {
    public static func set(_ count: Int) {
        BLASThreads.set(count)
        QuantizedMatrix.threads.store(max(1, count), ordering: .relaxed)
    }
}
