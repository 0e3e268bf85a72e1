#!/usr/bin/env python3
"""Converts a tiktoken rank file, as js-tiktoken ships it
(dist/ranks/NAME.cjs: {"pat_str", "special_tokens", "bpe_ranks"} where each
bpe_ranks line is "! OFFSET tok tok ..." with base64 tokens of consecutive
ranks), into the shim's binary form: a ready open-addressing hash table the
shim maps read-only, so no process ever builds one.

Layout (little-endian):
  magic "SPZBPE1\\0", u32 token count, u32 slot count (a power of two),
  u32 blob size, then slots[count_slots] of {u32 blob offset + 1 (0: empty),
  u32 rank}, then the blob: per token u16 length and its bytes.
The hash is FNV-1a 32 over the token bytes (shim/bpe.c uses the same).
Usage: gen-bpe.py RANKS_CJS OUT"""
import base64
import json
import struct
import sys


def fnv1a(b):
    h = 0x811C9DC5
    for x in b:
        h ^= x
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def main():
    src, out = sys.argv[1], sys.argv[2]
    text = open(src, encoding="utf-8").read()
    data = json.loads(text[text.index("{"): text.rindex("}") + 1])
    ranks = {}
    for line in data["bpe_ranks"].split("\n"):
        if not line:
            continue
        parts = line.split(" ")
        offset = int(parts[1])
        for i, tok in enumerate(parts[2:]):
            ranks[base64.b64decode(tok)] = offset + i
    slots = 1
    while slots < len(ranks) * 2:
        slots *= 2
    table = [(0, 0)] * slots
    blob = bytearray()
    for tok, rank in ranks.items():
        off = len(blob)
        blob += struct.pack("<H", len(tok)) + tok
        i = fnv1a(tok) & (slots - 1)
        while table[i][0]:
            i = (i + 1) & (slots - 1)
        table[i] = (off + 1, rank)
    with open(out, "wb") as f:
        f.write(b"SPZBPE1\0" + struct.pack("<III", len(ranks), slots, len(blob)))
        for off, rank in table:
            f.write(struct.pack("<II", off, rank))
        f.write(blob)


if __name__ == "__main__":
    main()
