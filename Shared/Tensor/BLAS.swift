import Foundation
import CBLAS

/// Thread control for OpenBLAS: a worker pins it explicitly so that several processes on one
/// machine do not oversubscribe the cores.
public enum BLASThreads {
    public static func set(_ count: Int) { openblas_set_num_threads(Int32(max(1, count))) }
    public static var current: Int { Int(openblas_get_num_threads()) }

    /// The kernel family OpenBLAS picked at load time (e.g. "Haswell", "SkylakeX").
    public static var coreName: String { openblas_get_corename().map { String(cString: $0) } ?? "unknown" }

    /// OpenBLAS falls back to its slow SSE3 ("Prescott") kernels on CPUs it does not recognise,
    /// such as some virtual machines. It reads `OPENBLAS_CORETYPE` only when it loads, so the
    /// launcher must set it; this names the value to set from the CPU's flags, or nil when the
    /// chosen kernels already match.
    public static func recommendedCoreType(cpuFlags: String? = nil) -> String? {
        let name = coreName.lowercased()
        guard name == "prescott" || name == "core2" || name == "unknown" else { return nil }
        let flags = cpuFlags ?? (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        if flags.contains("avx512f") { return "SkylakeX" }
        if flags.contains("avx2") { return "Haswell" }
        return nil
    }
}

extension BLASThreads {
    /// Makes the fast kernels the default whatever the environment: when OpenBLAS picked its
    /// generic ones and OPENBLAS_CORETYPE is unset, sets it and re-executes this program (OpenBLAS
    /// reads it only while loading, before `main`). Call first thing in `main`; on failure it
    /// returns and the process runs on as it was.
    public static func reexecWithFastKernelsIfNeeded() {
        #if os(Linux)
        guard getenv("OPENBLAS_CORETYPE") == nil, let core = recommendedCoreType() else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        #endif
    }
}

extension Tensor {
    /// Matrix product `op(a) · op(b)` of two rank-2 tensors, where `op` optionally transposes.
    ///
    /// `transposeB: true` is the shape of a linear layer with weights stored `[out, in]`
    /// (the Hugging Face convention): `x[n, in] · W[out, in]ᵀ`.
    public static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        precondition(a.rank == 2 && b.rank == 2, "matmul needs rank-2 tensors, got \(a.shape) and \(b.shape)")
        let m = transposeA ? a.shape[1] : a.shape[0]
        let k = transposeA ? a.shape[0] : a.shape[1]
        let kb = transposeB ? b.shape[1] : b.shape[0]
        let n = transposeB ? b.shape[0] : b.shape[1]
        precondition(k == kb, "matmul inner dimensions differ: \(a.shape)\(transposeA ? "ᵀ" : "") · \(b.shape)\(transposeB ? "ᵀ" : "")")
        return Tensor(shape: [m, n]) { out in
            a.scalars.withUnsafeBufferPointer { pa in
                b.scalars.withUnsafeBufferPointer { pb in
                    gemm(m: m, n: n, k: k, a: pa.baseAddress, lda: a.shape[1], transposeA: transposeA,
                         b: pb.baseAddress, ldb: b.shape[1], transposeB: transposeB,
                         c: out.baseAddress, ldc: n, beta: 0)
                }
            }
        }
    }

    /// `x[n, in] · W[out, in]ᵀ`: a linear layer without bias. Uses GEMV for a single row.
    public static func linear(_ x: Tensor, weight: Tensor) -> Tensor {
        precondition(weight.rank == 2 && x.columns == weight.shape[1],
                     "linear: input width \(x.columns) does not match weight \(weight.shape)")
        let rows = x.rows, inputs = weight.shape[1], outputs = weight.shape[0]
        return Tensor(shape: [rows, outputs]) { out in
            x.scalars.withUnsafeBufferPointer { px in
                weight.scalars.withUnsafeBufferPointer { pw in
                    linearKernel(rows: rows, inputs: inputs, outputs: outputs, x: px.baseAddress, weight: pw.baseAddress, out: out.baseAddress)
                }
            }
        }
    }

    /// `out[rows, outputs] = x[rows, inputs] · weight[outputs, inputs]ᵀ` on raw pointers.
    public static func linearKernel(rows: Int, inputs: Int, outputs: Int,
                                    x: UnsafePointer<Float>?, weight: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>?) {
        if rows == 1 {
            cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(outputs), Int32(inputs), 1, weight, Int32(inputs), x, 1, 0, out, 1)
        } else {
            gemm(m: rows, n: outputs, k: inputs, a: x, lda: inputs, transposeA: false,
                 b: weight, ldb: inputs, transposeB: true, c: out, ldc: outputs, beta: 0)
        }
    }

    /// Row-major SGEMV: `y = op(A)·x + beta·y` for `A` of `rows × columns` with leading dimension `lda`.
    public static func gemv(rows: Int, columns: Int, a: UnsafePointer<Float>?, lda: Int, transpose: Bool,
                            x: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>?, beta: Float) {
        guard rows > 0, columns > 0 else { return }
        cblas_sgemv(CblasRowMajor, transpose ? CblasTrans : CblasNoTrans, Int32(rows), Int32(columns), 1, a, Int32(lda), x, 1, beta, y, 1)
    }

    /// Row-major SGEMM: `C = op(A)·op(B) + beta·C`.
    public static func gemm(m: Int, n: Int, k: Int,
                            a: UnsafePointer<Float>?, lda: Int, transposeA: Bool,
                            b: UnsafePointer<Float>?, ldb: Int, transposeB: Bool,
                            c: UnsafeMutablePointer<Float>?, ldc: Int, beta: Float) {
        guard m > 0, n > 0 else { return }
        if k == 0 {
            // BLAS leaves C untouched for k = 0 only when beta = 1; make the result explicit.
            if let c { for i in 0..<m { for j in 0..<n { c[i * ldc + j] *= beta } } }
            return
        }
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), 1, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}
