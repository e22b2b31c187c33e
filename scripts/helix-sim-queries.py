#!/usr/bin/env python3
"""Print the queries the Helix artifact's offline feeder issues, in order, as `input,output` token
counts a line, for `lattice simulate --queries FILE` (both simulators then serve the same queries).

Usage: scripts/helix-sim-queries.py WORKLOAD_DIR [COUNT]
  WORKLOAD_DIR  holds azure_conv_input.csv and azure_conv_output.csv (one header line, then one
                length a row: the same rows, in the same order, as the artifact's
                length_data/azure_conv_*.pkl)
  COUNT         queries to print (default 20000, more than any 600 s offline run issues)

The artifact's LengthSampler (read, not copied) seeds Python's `random` with the feeder's seed (0
in helix-sim and the artifact's step3 scripts) and draws each query as one uniform row index
(`random.randint(0, rows - 1)`); nothing else in its simulator draws from `random`, so the k-th
draw here is its k-th query.
"""
import random
import sys


def column(path):
    with open(path) as f:
        rows = f.read().split()[1:]
    return [int(float(x)) for x in rows]


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    directory = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) == 3 else 20000
    inputs = column(f"{directory}/azure_conv_input.csv")
    outputs = column(f"{directory}/azure_conv_output.csv")
    if len(inputs) != len(outputs) or not inputs:
        sys.exit(f"{directory}: the input and output length files must have the same, non-zero number of rows")
    random.seed(0)
    print("input,output")
    for _ in range(count):
        k = random.randint(0, len(inputs) - 1)
        print(f"{inputs[k]},{outputs[k]}")


if __name__ == "__main__":
    main()
