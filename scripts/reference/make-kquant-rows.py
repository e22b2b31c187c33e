#!/usr/bin/env python3
"""Cuts the first rows of one tensor of each type in a Q4_K_M GGUF (Q4_K, Q6_K, Q5_0) into a small
GGUF, each beside the same rows as llama.cpp dequantized them (the F32 GGUF that
`llama-quantize --allow-requantize Q4_K_M.gguf F32` writes), for the worker's kernel tests.
Needs the PyPI package gguf; run by scripts/gen-model-fixtures.
Usage: make-kquant-rows.py Q4_K_M.gguf DEQUANTIZED_F32.gguf OUT.gguf"""
import sys

import gguf
import numpy as np

ROWS = 16   # a multiple of 8, so llama.cpp repacks the Q4_K rows as it does a model's (scripts/reference/kquant-products.c)
quantized, dequantized = gguf.GGUFReader(sys.argv[1]), gguf.GGUFReader(sys.argv[2])
floats = {t.name: t for t in dequantized.tensors}
writer = gguf.GGUFWriter(sys.argv[3], "llama")
for kind in (gguf.GGMLQuantizationType.Q4_K, gguf.GGMLQuantizationType.Q6_K, gguf.GGMLQuantizationType.Q5_0):
    tensor = next(t for t in quantized.tensors if t.tensor_type == kind)
    columns = int(tensor.shape[0])
    raw = np.asarray(tensor.data).reshape(-1)            # bytes, rows one after another
    row_bytes = raw.size // (tensor.n_elements // columns)
    values = np.asarray(floats[tensor.name].data, dtype=np.float32).reshape(-1, columns)
    writer.add_tensor(f"{kind.name}.quantized", raw[:ROWS * row_bytes].copy(), raw_shape=(ROWS, row_bytes), raw_dtype=kind)
    writer.add_tensor(f"{kind.name}.dequantized", values[:ROWS].copy())
    print(f"{kind.name}: {ROWS} rows of {tensor.name} ({columns} columns)", file=sys.stderr)
writer.write_header_to_file()
writer.write_kv_data_to_file()
writer.write_tensors_to_file()
writer.close()
