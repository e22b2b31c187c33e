import Foundation
import Testing
import Tensor

/// Every tape op's backward against central finite differences of L = Σ f(inputs) ⊙ probe,
/// with the inputs as parameters so that each gets a gradient.
@Suite struct AutodiffTests {
    func random(_ shape: [Int], seed: UInt64, offset: Float = 0) -> Tensor {
        var rng = SeededGenerator(seed: seed)
        return Initializer.uniform(shape, limit: 1, using: &rng).map { $0 + offset }
    }

    /// Checks the tape's gradient of every input against finite differences; `build` maps inputs to an output.
    func check(_ inputs: [Tensor], tolerance: Float = 2e-2, _ build: (Tape, [Variable]) -> Variable) {
        var store = ParameterStore()
        for (i, t) in inputs.enumerated() { store.set("p\(i)", t) }
        func loss(_ store: ParameterStore) -> (Float, [String: Tensor]) {
            let tape = Tape()
            let vars = store.names.map { tape.parameter($0, in: store) }
            let out = build(tape, vars)
            let probe = tape.constant(random(tape.value(out).shape, seed: 99))
            let l = tape.sum(tape.multiply(out, probe))
            tape.backward(from: l)
            return (tape.value(l).scalars[0], tape.parameterGradients())
        }
        let analytic = loss(store).1
        let eps: Float = 1e-2
        for name in store.names {
            let base = store[name]!
            for i in 0..<base.count {
                var up = base, down = base
                up.scalars[i] += eps
                down.scalars[i] -= eps
                var s1 = store, s2 = store
                s1.set(name, up)
                s2.set(name, down)
                let numeric = (loss(s1).0 - loss(s2).0) / (2 * eps)
                let got = analytic[name]?.scalars[i] ?? 0
                #expect(abs(got - numeric) <= tolerance * max(1, abs(numeric)), "\(name)[\(i)]: tape \(got), finite difference \(numeric)")
            }
        }
    }

    @Test func linearWithBias() {
        check([random([3, 4], seed: 1), random([5, 4], seed: 2), random([5], seed: 3)]) { t, v in
            t.linear(v[0], weight: v[1], bias: v[2])
        }
    }

    @Test func reluAndLeakyRelu() {
        // Values kept away from the kink at 0, where the finite difference is not the derivative.
        let x = random([4, 3], seed: 4).map { $0 >= 0 ? $0 + 0.1 : $0 - 0.1 }
        check([x]) { t, v in t.relu(v[0]) }
        check([x]) { t, v in t.leakyRelu(v[0], slope: 0.1) }
    }

    @Test func expLogSumMean() {
        check([random([2, 3], seed: 5)]) { t, v in t.exp(v[0]) }
        check([random([2, 3], seed: 6, offset: 2)]) { t, v in t.log(v[0]) }
        check([random([2, 3], seed: 7)]) { t, v in t.sum(v[0]) }
        check([random([2, 3], seed: 8)]) { t, v in t.mean(v[0]) }
    }

    @Test func elementwiseArithmetic() {
        let a = random([3, 2], seed: 9), b = random([3, 2], seed: 10)
        check([a, b]) { t, v in t.add(v[0], v[1]) }
        check([a, b]) { t, v in t.subtract(v[0], v[1]) }
        check([a, b]) { t, v in t.multiply(v[0], v[1]) }
        check([a]) { t, v in t.scale(v[0], 2.5) }
        // Away from the clamp edges and from ties.
        check([a.map { $0 > 0.5 ? $0 + 0.1 : ($0 < -0.5 ? $0 - 0.1 : $0) }]) { t, v in t.clamp(v[0], -0.5, 0.5) }
        check([a, a.map { $0 + ($0 > 0 ? -0.3 : 0.3) }]) { t, v in t.minimum(v[0], v[1]) }
    }

    @Test func concatGatherSegmentSum() {
        check([random([3, 2], seed: 11), random([3, 4], seed: 12)]) { t, v in t.concatColumns([v[0], v[1]]) }
        check([random([4, 3], seed: 13)]) { t, v in t.gather(v[0], rows: [3, 0, 3, 1]) }
        check([random([5, 3], seed: 14)]) { t, v in t.segmentSum(v[0], segments: [1, 0, 1, 2, 1], count: 4) }
    }

    @Test func maskedLogSoftmaxEntropyAndPick() {
        let mask = [true, false, true, true, true, true, false, false]
        let x = random([2, 4], seed: 15)
        check([x]) { t, v in t.maskedLogSoftmax(v[0], mask: mask) }
        check([x]) { t, v in t.entropy(logProbabilities: t.maskedLogSoftmax(v[0], mask: mask), mask: mask) }
        check([x]) { t, v in t.pick(t.maskedLogSoftmax(v[0], mask: mask), columns: [2, 1]) }
    }

    @Test func maskedLogSoftmaxByHand() {
        let tape = Tape()
        let x = tape.constant(Tensor(shape: [1, 3], scalars: [0, 5, 0])!)
        let l = tape.value(tape.maskedLogSoftmax(x, mask: [true, false, true]))
        #expect(abs(l.scalars[0] - logf(0.5)) < 1e-6 && l.scalars[1] == 0 && abs(l.scalars[2] - logf(0.5)) < 1e-6)
        let h = tape.value(tape.entropy(logProbabilities: tape.constant(l), mask: [true, false, true]))
        #expect(abs(h.scalars[0] - logf(2)) < 1e-6)
    }

    @Test func samplingIsSeededAndFollowsTheMask() {
        var a = SeededGenerator(seed: 7), b = SeededGenerator(seed: 7)
        let logits: [Float] = [0, 1, 2, 3]
        let mask = [true, true, false, true]
        let xs = (0..<200).map { _ in Categorical.sample(logits: logits, mask: mask, using: &a)! }
        let ys = (0..<200).map { _ in Categorical.sample(logits: logits, mask: mask, using: &b)! }
        #expect(xs == ys)
        #expect(!xs.contains(2))
        // p(3) = e³ / (1 + e + e³) ≈ 0.84.
        let share = Float(xs.filter { $0 == 3 }.count) / 200
        #expect(share > 0.74 && share < 0.94)
        #expect(Categorical.sample(logits: logits, mask: [false, false, false, false], using: &a) == nil)
        #expect(Categorical.argmax(logits: logits, mask: mask) == 3)
    }

    @Test func adamMinimisesAQuadraticWithWarmupAndClipping() {
        var store = ParameterStore()
        store.set("w", Tensor(shape: [2], scalars: [3, -2])!)
        var adam = Adam(learningRate: 0.1, warmup: 10, clipNorm: 1)
        #expect(abs(adam.rate(for: "w") - 0.01) < 1e-7)
        for _ in 0..<300 {
            let tape = Tape()
            let w = tape.parameter("w", in: store)
            tape.backward(from: tape.sum(tape.multiply(w, w)))
            adam.update(&store, gradients: tape.parameterGradients())
        }
        #expect(store["w"]!.scalars.allSatisfy { abs($0) < 0.05 })
        let lr = Adam(learningRate: 1, rates: [(prefix: "critic.", rate: 5)])
        #expect(lr.rate(for: "critic.w") == 5 && lr.rate(for: "gnn.w") == 1)
    }

    @Test func initialisersRepeatGivenASeed() {
        var a = SeededGenerator(seed: 3), b = SeededGenerator(seed: 3)
        let x = Initializer.xavier([8, 4], using: &a), y = Initializer.xavier([8, 4], using: &b)
        #expect(x == y)
        let limit = (6 / Float(12)).squareRoot()
        #expect(x.scalars.allSatisfy { abs($0) <= limit } && Set(x.scalars).count == 32)
    }
}
