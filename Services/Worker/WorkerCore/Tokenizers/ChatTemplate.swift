import Foundation

/// The chat formats shipped models use, recognised from their Jinja `chat_template` (GGUF
/// `tokenizer.chat_template` or `tokenizer_config.json`). We render the one-question case
/// ourselves rather than run Jinja; a template of another form is refused by name.
public enum ChatTemplate: Equatable, Sendable {
    /// `<|im_start|>role\n…<|im_end|>\n` (SmolLM2, Qwen); `defaultSystem` is the system turn the
    /// template inserts when the conversation has none.
    case chatML(defaultSystem: String?)
    /// `[INST] … [/INST]` with an optional `<<SYS>>` block (Llama 2 chat, Mistral).
    case llama2
    /// `<|start_header_id|>role<|end_header_id|>\n\n…<|eot_id|>` (Llama 3).
    case llama3

    /// Recognises `template`; nil text (no template shipped) and unknown forms are errors.
    public static func detect(_ template: String?, source: String) throws -> ChatTemplate {
        guard let template, !template.isEmpty else {
            throw WorkerError.badModel("\(source) has no chat template; use --prompt with the text the model expects")
        }
        if template.contains("<|im_start|>") {
            // The default system text follows "system" and a newline (raw, or Jinja's \n escape).
            return .chatML(defaultSystem: firstMatch(#"<\|im_start\|>system(?:\n|\\n)(.*?)<\|im_end\|>"#, in: template))
        }
        if template.contains("<|start_header_id|>") { return .llama3 }
        if template.contains("[INST]") { return .llama2 }
        throw WorkerError.badModel("\(source): the chat template is none of the forms supported (ChatML, Llama 2 [INST], Llama 3 headers); use --prompt with the text the model expects. It begins: \(template.prefix(120))")
    }

    /// The template of the model at `source` (GGUF metadata or tokenizer_config.json).
    public static func load(source: any WeightSource) throws -> ChatTemplate {
        if let gguf = source as? GGUFModel {
            return try detect(gguf.file.metadata["tokenizer.chat_template"]?.string, source: gguf.path)
        }
        let path = (source.path as NSString).appendingPathComponent("tokenizer_config.json")
        let object = FileManager.default.contents(atPath: path).flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
        return try detect(object?["chat_template"] as? String, source: path)
    }

    /// The prompt text for one user message, ending where the assistant's answer begins.
    public func prompt(user: String, system: String? = nil) -> String {
        switch self {
        case .chatML(let defaultSystem):
            let systemTurn = (system ?? defaultSystem).map { "<|im_start|>system\n\($0)<|im_end|>\n" } ?? ""
            return systemTurn + "<|im_start|>user\n\(user)<|im_end|>\n<|im_start|>assistant\n"
        case .llama2:
            let systemBlock = system.map { "<<SYS>>\n\($0)\n<</SYS>>\n\n" } ?? ""
            return "<s>[INST] \(systemBlock)\(user) [/INST]"
        case .llama3:
            let systemTurn = system.map { "<|start_header_id|>system<|end_header_id|>\n\n\($0)<|eot_id|>" } ?? ""
            return "<|begin_of_text|>\(systemTurn)<|start_header_id|>user<|end_header_id|>\n\n\(user)<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
        }
    }

    private static func firstMatch(_ pattern: String, in text: String) -> String? {
        guard let regex = try? NSRegularExpression(pattern: pattern),
              let match = regex.firstMatch(in: text, range: NSRange(text.startIndex..<text.endIndex, in: text)),
              let range = Range(match.range(at: 1), in: text) else { return nil }
        return String(text[range])
    }
}
