#!/usr/bin/env python3
"""Converts scikit-learn's digits.csv.gz into advmix's digits.bin (run once).

Usage: convert.py path/to/digits.csv.gz [out.bin]

The CSV has 1797 rows of 64 pixel values (0..16) followed by the label.
The format of the output and the split are described in README.md.
"""
import csv
import gzip
import io
import struct
import sys

MAGIC = b"ADVDIGIT"
VERSION = 1
TEST_EVERY = 5  # the 5th, 10th, ... sample of each class goes to the test split


def main():
    src = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else "digits.bin"
    with gzip.open(src, "rt") as f:
        rows = [[int(v) for v in row] for row in csv.reader(io.StringIO(f.read()))]
    assert len(rows) == 1797, len(rows)
    seen = [0] * 10
    train, test = [], []
    for row in rows:
        pixels, label = row[:64], row[64]
        assert all(0 <= p <= 16 for p in pixels) and 0 <= label <= 9
        record = bytes([label]) + bytes(pixels)
        seen[label] += 1
        (test if seen[label] % TEST_EVERY == 0 else train).append(record)
    with open(out, "wb") as f:
        f.write(MAGIC + struct.pack("<HBBII", VERSION, 8, 8, len(train), len(test)))
        f.write(b"".join(train) + b"".join(test))
    print(f"wrote {out}: {len(train)} train, {len(test)} test")


if __name__ == "__main__":
    main()
