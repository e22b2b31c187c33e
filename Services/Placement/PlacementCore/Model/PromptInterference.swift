/// How much a node's prompt work slows the decode passes through it. The Helix artifact's nodes run
/// one batch at a time, prompts and decodes mixed, a mixed batch costing the sum of the two
/// (`ModelLayer.get_inference_statistics`); a decode wave arriving while prompts run waits, and
/// prompts that arrive while it runs join its batch. So a node busy a fraction ρ with prompts gives
/// the decode pass only 1 − ρ of its time: the pass takes S/(1 − ρ) (work-conserving server with
/// prompts as background work). ρ = Σ prompts/s × seconds per prompt over what passes the node; a
/// decode rate r brings r/meanOutput prompts per second (one prompt per query).
///
/// The one-wave alternative (every step's share of prompts, N·in/out tokens, inside every hop's
/// batch) overstated single24's step 3× (session 6): prompts arrive spread over the step and
/// mostly run while the wave is elsewhere; only the node's busy share delays it.
struct PromptInterference {
    /// Busy share above which a node is taken as saturated by prompts (the flow cap, not this
    /// stretch, bounds such a node's rate; the cap keeps the stretch finite).
    static let saturated = 0.9
    private var load: [Double]

    init(nodes: Int) { load = [Double](repeating: 0, count: nodes) }

    mutating func add(node: Int, promptsPerSecond: Double, secondsPerPrompt: Double) {
        load[node] += promptsPerSecond * secondsPerPrompt
    }

    /// The node's prompt busy share ρ.
    func busy(node: Int) -> Double { min(Self.saturated, load[node]) }

    /// 1/(1 − ρ): how much longer a decode pass through the node takes.
    func stretch(node: Int) -> Double { 1 / (1 - busy(node: node)) }
}
