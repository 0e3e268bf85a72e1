#!/usr/bin/env python3
"""Embeds a data file in C: `embed.py IN OUT SYMBOL` writes OUT defining
`const char SYMBOL[]` (the bytes plus a NUL) and `const size_t SYMBOL_len`."""
import sys

src, dst, sym = sys.argv[1:4]
data = open(src, 'rb').read()
with open(dst, 'w') as out:
    out.write('/* Generated from %s by scripts/embed.py. */\n#include <stddef.h>\n' % src.split('/')[-1])
    out.write('const char %s[] = {\n' % sym)
    for i in range(0, len(data), 16):
        out.write('\t' + ', '.join(str(b) for b in data[i:i + 16]) + ',\n')
    out.write('\t0\n};\nconst size_t %s_len = %d;\n' % (sym, len(data)))
