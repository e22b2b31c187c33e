import Wire

/// A Generate request checked and turned into what the driver runs.
struct GenerationInput: Sendable {
    var prompt: [UInt32]
    var maxTokens: Int
    var sampling: SamplingParams
    var stopTokens: Set<UInt32>
    var deadline: ContinuousClock.Instant?

    /// Tokens a request may ask for at most.
    static let maxTokensLimit = 1 << 16

    /// Every problem is INVALID_ARGUMENT (or FAILED_PRECONDITION when the scheduler lacks
    /// what it needs) with the field and how to fix it.
    init(_ request: GenerateRequest, model: ModelInfo, codec: TextCodec?, arrival: ContinuousClock.Instant) throws {
        guard model.numLayers > 0 else {
            throw Status(.failedPrecondition, "Generate: the scheduler serves no model; start it with --model DIR (or an emulated model name)")
        }
        if request.chat && (request.prompt.isEmpty || !request.promptTokenIDs.isEmpty) {
            throw Status(.invalidArgument, "Generate: chat takes the question as prompt text, not prompt_token_ids")
        }
        if !request.promptTokenIDs.isEmpty {
            prompt = request.promptTokenIDs
        } else if !request.prompt.isEmpty {
            guard let codec else {
                throw Status(.failedPrecondition, "Generate: this scheduler has no tokenizer for text prompts; send prompt_token_ids")
            }
            let text: String
            do { text = request.chat ? try codec.chatPrompt(user: request.prompt) : request.prompt } catch {
                throw Status(.failedPrecondition, "Generate: chat: \(error)")
            }
            do { prompt = try codec.encode(text) } catch {
                throw Status(.invalidArgument, "Generate: the prompt text does not tokenize: \(error)")
            }
            guard !prompt.isEmpty else { throw Status(.invalidArgument, "Generate: the prompt tokenizes to nothing") }
        } else {
            throw Status(.invalidArgument, "Generate: give a prompt (text) or prompt_token_ids")
        }
        if let bad = prompt.firstIndex(where: { $0 >= model.vocabSize }) {
            throw Status(.invalidArgument, "Generate: prompt token \(bad) is \(prompt[bad]), outside the vocabulary [0, \(model.vocabSize))")
        }
        guard request.maxTokens >= 1 else { throw Status(.invalidArgument, "Generate: max_tokens must be at least 1") }
        guard request.maxTokens <= Self.maxTokensLimit else {
            throw Status(.invalidArgument, "Generate: max_tokens \(request.maxTokens) is above the limit \(Self.maxTokensLimit)")
        }
        maxTokens = Int(request.maxTokens)
        var sampling = request.sampling ?? SamplingParams(greedy: true)
        if !sampling.greedy {
            guard sampling.temperature.isFinite, sampling.temperature >= 0 else {
                throw Status(.invalidArgument, "Generate: sampling.temperature must be ≥ 0 (got \(sampling.temperature)); 0 means greedy")
            }
            guard sampling.topP.isFinite, sampling.topP >= 0, sampling.topP <= 1 else {
                throw Status(.invalidArgument, "Generate: sampling.top_p must be in (0, 1] (0 reads as 1; got \(sampling.topP))")
            }
            if sampling.temperature == 0 { sampling.greedy = true }
        }
        guard sampling.topK == 0 else { throw Status(.invalidArgument, "Generate: sampling.top_k is not supported; leave it 0 and use top_p") }
        if let bad = request.stopTokenIDs.first(where: { $0 >= model.vocabSize }) {
            throw Status(.invalidArgument, "Generate: stop token \(bad) is outside the vocabulary [0, \(model.vocabSize))")
        }
        self.sampling = sampling
        var stops = Set(request.stopTokenIDs)
        if !request.ignoreEOS, model.eosTokenID < model.vocabSize, model.eosTokenID != model.bosTokenID { stops.insert(model.eosTokenID) }
        stopTokens = stops
        deadline = request.deadlineMs > 0 ? arrival + .milliseconds(Int64(clamping: request.deadlineMs)) : nil
    }
}
