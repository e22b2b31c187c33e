#!/usr/bin/env python3
"""Builds a small SentencePiece vocabulary GGUF (tokenizer.ggml.model = "llama") for the worker's
tokenizer tests: trains a byte-fallback BPE SentencePiece model, as Llama's tokenizer is, on
spm-corpus.txt and writes its pieces, scores and token types as llama.cpp's converter does.
Needs the PyPI packages sentencepiece and gguf; run by scripts/gen-model-fixtures.
Usage: make-spm-gguf.py OUT.gguf"""
import io, os, sys

import gguf
import sentencepiece as spm

here = os.path.dirname(os.path.abspath(__file__))
model = io.BytesIO()
with open(os.path.join(here, "spm-corpus.txt"), encoding="utf-8") as corpus:
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus.read().splitlines()), model_writer=model, model_type="bpe",
        vocab_size=700, byte_fallback=True, character_coverage=0.99, split_digits=True,
        normalization_rule_name="identity", remove_extra_whitespaces=False, add_dummy_prefix=True,
        allow_whitespace_only_pieces=True, user_defined_symbols=["<|im_start|>", "<|im_end|>"],
        num_threads=1, minloglevel=2)
sp = spm.SentencePieceProcessor(model_proto=model.getvalue())

# llama.cpp's token types: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.
tokens, scores, types = [], [], []
for i in range(sp.vocab_size()):
    tokens.append(sp.id_to_piece(i))
    scores.append(sp.get_score(i))
    types.append(2 if sp.is_unknown(i) else 3 if sp.is_control(i) else 5 if sp.is_unused(i)
                 else 6 if sp.is_byte(i) else 4 if tokens[-1] in ("<|im_start|>", "<|im_end|>") else 1)

writer = gguf.GGUFWriter(sys.argv[1], "llama")
# Hyperparameters of a one-layer toy so llama.cpp accepts the file; it holds no tensors (vocab only).
writer.add_context_length(256)
writer.add_embedding_length(64)
writer.add_block_count(1)
writer.add_feed_forward_length(128)
writer.add_head_count(2)
writer.add_layer_norm_rms_eps(1e-5)
writer.add_tokenizer_model("llama")
writer.add_token_list(tokens)
writer.add_token_scores(scores)
writer.add_token_types(types)
writer.add_bos_token_id(sp.bos_id())
writer.add_eos_token_id(sp.eos_id())
writer.add_unk_token_id(sp.unk_id())
writer.add_add_bos_token(True)
writer.add_add_eos_token(False)
writer.add_add_space_prefix(True)
writer.write_header_to_file()
writer.write_kv_data_to_file()
writer.write_tensors_to_file()
writer.close()
print(f"{sys.argv[1]}: {len(tokens)} tokens", file=sys.stderr)
