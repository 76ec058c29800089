#!/usr/bin/env python3
"""Counts the locked (atomic read-modify-write) instructions a program executed, from a
callgrind profile taken with per-instruction costs, by disassembling the binary.

    PROFILE_OPS=1000000 valgrind --tool=callgrind --dump-instr=yes --compress-pos=no \
        --compress-strings=no --callgrind-out-file=cg.out target/release/profile single card 1
    benches/scripts/locked-ops.py cg.out target/release/profile [MIN_COUNT]

Prints every `lock`-prefixed or `xchg` (implicitly locked) instruction of the binary itself
(not of libc) executed at least MIN_COUNT times (default 100), with its function, and the
total. Divide by PROFILE_OPS for locked instructions per get + drop.
"""
import collections
import re
import subprocess
import sys


def main():
    out, binary = sys.argv[1], sys.argv[2]
    min_count = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    counts = collections.Counter()
    ob, skip = None, False
    for line in open(out):
        if line.startswith("ob="):
            ob = line[3:].strip()
        elif line.startswith("calls="):
            skip = True  # the next cost line is the call's inclusive cost
        elif line.startswith("0x"):
            if skip:
                skip = False
                continue
            parts = line.split()
            if len(parts) >= 3 and ob and ob.endswith("/" + binary.split("/")[-1]):
                counts[int(parts[0], 16)] += int(parts[2])
    dis = subprocess.run(["objdump", "-d", "-C", "--no-show-raw-insn", binary],
                         capture_output=True, text=True, check=True).stdout
    insn, func = {}, {}
    current = "?"
    for line in dis.splitlines():
        m = re.match(r"[0-9a-f]+ <(.*)>:", line)
        if m:
            current = m.group(1)
            continue
        m = re.match(r"\s*([0-9a-f]+):\s+(.*)", line)
        if m:
            insn[int(m.group(1), 16)] = m.group(2)
            func[int(m.group(1), 16)] = current
    total = 0
    for addr, count in sorted(counts.items()):
        text = insn.get(addr, "?")
        if count >= min_count and (text.startswith("lock") or text.startswith("xchg")):
            print(f"{count:>12} {addr:#x} {text:<32} {func[addr][:90]}")
            total += count
    print("locked instructions executed:", total)


if __name__ == "__main__":
    main()
