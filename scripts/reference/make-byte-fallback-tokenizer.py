#!/usr/bin/env python3
"""Trains a small Llama-style tokenizer.json (BPE with byte_fallback, '▁' for spaces, BOS added by
its post-processor) with the PyPI package tokenizers, and writes the ids it gives for the prompts
of spm-prompts.txt, for the worker's tokenizer tests. Run by scripts/gen-model-fixtures.
Usage: make-byte-fallback-tokenizer.py PROMPTS.txt OUT_TOKENIZER.json OUT_IDS.jsonl"""
import json
import sys

from tokenizers import Tokenizer, decoders, models, normalizers, processors, trainers

CORPUS = [
    "The capital of France is Paris. The quick brown fox jumps over the lazy dog.",
    "Once upon a time, in a small village, there lived an old man and his daughter.",
    "def fibonacci(n): return n if n < 2 else fibonacci(n - 1) + fibonacci(n - 2)",
    "What is the boiling point of water? It boils at one hundred degrees Celsius.",
    "Привет, мир! Как дела? Hello world, hello there, the three primary colors are red, yellow and blue.",
] * 20
SPECIALS = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]

tokenizer = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
tokenizer.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
tokenizer.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)])
trainer = trainers.BpeTrainer(vocab_size=700, special_tokens=SPECIALS, show_progress=False)
tokenizer.train_from_iterator(CORPUS, trainer)
tokenizer.add_special_tokens(["<|im_start|>", "<|im_end|>"])
tokenizer.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)])
tokenizer.save(sys.argv[2])
with open(sys.argv[1], encoding="utf-8") as prompts, open(sys.argv[3], "w", encoding="utf-8") as out:
    for line in prompts:
        line = line.rstrip("\n").replace("\\n", "\n")
        if line:
            print(json.dumps({"prompt": line, "ids": tokenizer.encode(line).ids}, ensure_ascii=False), file=out)
