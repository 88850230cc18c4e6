#!/usr/bin/env python3
"""Fails when lib/ modules include each other in a cycle.

A module is a .c file and its .h (auth.c and auth.h are the module auth).
Module A depends on B when a file of A includes "B.h". A cycle means two
modules that cannot be understood, tested or linked one without the other.
Prints every cycle found and exits 1, else prints the layer order and 0.
Usage: include-cycles.py [DIR] (default: lib/ of this checkout).
"""
import re
import sys
from pathlib import Path

LIB = Path(__file__).resolve().parents[1] / "lib"
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)\.h"', re.M)


def graph(lib):
    deps = {}
    for f in sorted(lib.glob("*.[ch]")):
        mod = f.stem
        deps.setdefault(mod, set())
        for dep in INCLUDE.findall(f.read_text()):
            if dep != mod and (lib / (dep + ".h")).exists():
                deps[mod].add(dep)
    return deps


def cycles(deps):
    found, state, stack = [], {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for d in sorted(deps[m]):
            if state.get(d) == "open":
                found.append(stack[stack.index(d):] + [d])
            elif d not in state:
                visit(d)
        stack.pop()
        state[m] = "done"

    for m in sorted(deps):
        if m not in state:
            visit(m)
    return found


def layers(deps):
    depth = {}

    def d(m):
        if m not in depth:
            depth[m] = 1 + max((d(x) for x in deps[m]), default=-1)
        return depth[m]

    for m in deps:
        d(m)
    return depth


def main():
    deps = graph(Path(sys.argv[1]) if len(sys.argv) > 1 else LIB)
    found = cycles(deps)
    for c in found:
        print("include cycle in lib/: " + " -> ".join(c))
    if found:
        return 1
    depth = layers(deps)
    for level in range(max(depth.values(), default=-1) + 1):
        print(f"layer {level}: " + " ".join(sorted(m for m in depth if depth[m] == level)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
