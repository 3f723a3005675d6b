#!/usr/bin/env python3
"""Makes fuzz/seeds/<target>/ from the shared conformance suites and object
corpus (../shared, beside the repository), so that every target starts from
real programs and objects rather than from nothing.

  isa_roundtrip   raw code sections of the corpus objects (mode byte 0) and
                  the suites' assembly text (mode byte 1)
  loader_elf      the corpus objects themselves
  interp_checked  code sections as raw programs (mode 0), and generator
  verifier        inputs (mode 1) from a pinned PRNG
  soundness, jit_vs_interp, maps_model: generator inputs from a pinned PRNG

Usage: fuzz/make_seeds.py [SHARED_DIR]   (default: ../../shared from here)
"""
import os
import random
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "shared")
OUT = os.path.join(HERE, "seeds")
SEED = 14  # the number: the same seeds on every machine


def code_sections(path):
    """(name, bytes) of each executable section of a little-endian ELF64."""
    data = open(path, "rb").read()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return []
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    secs = []
    for i in range(shnum):
        off = shoff + i * shentsize
        if off + 64 > len(data):
            return []
        name, typ, flags, _addr, soff, size = struct.unpack_from("<IIQQQQ", data, off)
        secs.append((name, typ, flags, soff, size))
    if shstrndx >= len(secs):
        return []
    strtab = secs[shstrndx]
    out = []
    for name, typ, flags, soff, size in secs:
        if typ == 1 and flags & 4 and size and size % 8 == 0:
            n0 = strtab[3] + name
            n1 = data.find(b"\0", n0)
            out.append((data[n0:n1].decode(errors="replace"), data[soff:soff + size]))
    return out


def write(target, name, blob):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(blob)


def main():
    rnd = random.Random(SEED)
    objs = []
    for root, _dirs, files in os.walk(os.path.join(SHARED, "corpus")):
        for f in sorted(files):
            if f.endswith(".o"):
                objs.append(os.path.join(root, f))
    objs.sort()
    n = 0
    for i, path in enumerate(objs):
        blob = open(path, "rb").read()
        if len(blob) <= 256 * 1024:
            write("loader_elf", "obj%03d" % i, blob)
        for j, (_name, code) in enumerate(code_sections(path)):
            code = code[: 512 * 8]
            write("isa_roundtrip", "code%03d_%d" % (i, j), b"\x00" + code)
            write("interp_checked", "code%03d_%d" % (i, j), b"\x00" + code)
            write("verifier", "code%03d_%d" % (i, j), b"\x00" + code)
            n += 1
    for suite in ("bpf_conformance", "ubpf"):
        d = os.path.join(SHARED, "conformance", suite)
        if not os.path.isdir(d):
            continue
        for f in sorted(os.listdir(d)):
            if not f.endswith(".data"):
                continue
            text = open(os.path.join(d, f), "rb").read()
            asm = text.split(b"-- asm", 1)[-1].split(b"\n--", 1)[0]
            write("isa_roundtrip", "asm_%s_%s" % (suite, f), b"\x01" + asm)
    for target in ("interp_checked", "verifier", "soundness", "jit_vs_interp", "maps_model"):
        for k in range(32):
            blob = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(16, 512)))
            if target in ("interp_checked", "verifier"):
                blob = bytes([1 | (k << 1) & 0xfe]) + blob
            write(target, "gen%02d" % k, blob)
    print("seeds: %d objects, %d code sections, in %s" % (len(objs), n, OUT))


if __name__ == "__main__":
    main()
