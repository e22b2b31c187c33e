import Testing
import WorkerCore

@Suite struct ChatTemplateTests {
    @Test func shippedFormsAreRecognisedAndRendered() throws {
        let llama3 = try ChatTemplate.detect("{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}", source: "t")
        #expect(llama3 == .llama3)
        #expect(llama3.prompt(user: "Hi") == "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
        let llama2 = try ChatTemplate.detect("{{ bos_token + '[INST] ' + content + ' [/INST]' }}", source: "t")
        #expect(llama2.prompt(user: "Hi", system: "Be brief") == "<s>[INST] <<SYS>>\nBe brief\n<</SYS>>\n\nHi [/INST]")
        // Jinja source with an escaped newline before the default system text.
        let escaped = try ChatTemplate.detect(#"{{ '<|im_start|>system\nYou are Qwen.<|im_end|>\n' }}"#, source: "t")
        #expect(escaped == .chatML(defaultSystem: "You are Qwen."))
        #expect(ChatTemplate.chatML(defaultSystem: nil).prompt(user: "Hi") == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    }

    @Test func unknownOrMissingTemplatesAreClearErrors() {
        #expect(throws: WorkerError.self) { try ChatTemplate.detect("{{ '### Human: ' + content }}", source: "t") }
        #expect(throws: WorkerError.self) { try ChatTemplate.detect(nil, source: "t") }
    }
}
