#!/usr/bin/env python3
"""make coverage: prints the line and branch coverage of every file of lib/
and cgi-bin/ from gcovr's JSON summary, the totals of each directory, and
fails when a total is below its floor.

    coverage-floor.py SUMMARY.json FLOOR-FILE

The floor file holds lines "DIRECTORY lines|branches PERCENT"; "#" starts
a comment. A directory or measure it does not name has no floor.
"""
import json
import sys


def pct(covered, total):
    return 100.0 * covered / total if total else 100.0


def read_floor(path):
    floor = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            if len(parts) != 3 or parts[1] not in ("lines", "branches"):
                sys.exit(f"{path}:{n}: expected DIRECTORY lines|branches PERCENT")
            floor[(parts[0].rstrip("/"), parts[1])] = float(parts[2])
    return floor


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: coverage-floor.py SUMMARY.json FLOOR-FILE")
    with open(sys.argv[1], encoding="utf-8") as f:
        summary = json.load(f)
    floor = read_floor(sys.argv[2])
    totals = {}
    print(f"{'file':<28} {'lines':>17} {'branches':>17}")
    for fe in sorted(summary["files"], key=lambda e: e["filename"]):
        name = fe["filename"]
        top = name.split("/", 1)[0]
        t = totals.setdefault(top, [0, 0, 0, 0])
        t[0] += fe["line_covered"]
        t[1] += fe["line_total"]
        t[2] += fe["branch_covered"]
        t[3] += fe["branch_total"]
        print(f"{name:<28} {fe['line_covered']:>5}/{fe['line_total']:<5} "
              f"{pct(fe['line_covered'], fe['line_total']):5.1f}% "
              f"{fe['branch_covered']:>5}/{fe['branch_total']:<5} "
              f"{pct(fe['branch_covered'], fe['branch_total']):5.1f}%")
    print()
    failed = []
    for top in sorted(totals):
        lc, lt, bc, bt = totals[top]
        got = {"lines": pct(lc, lt), "branches": pct(bc, bt)}
        print(f"{top + '/ in all':<28} {lc:>5}/{lt:<5} {got['lines']:5.1f}% "
              f"{bc:>5}/{bt:<5} {got['branches']:5.1f}%")
        for measure in ("lines", "branches"):
            want = floor.get((top, measure))
            if want is not None and got[measure] < want:
                failed.append(f"{top}/ {measure} {got[measure]:.1f}% "
                              f"is below its floor of {want:g}%")
    for (top, measure) in floor:
        if top not in totals:
            failed.append(f"{top}/ has a floor but no coverage data")
    print()
    if failed:
        for f in failed:
            print(f"coverage: {f}")
        return 1
    print("coverage: every total is at or above its floor ("
          + ", ".join(f"{t}/ {m} {v:g}%" for (t, m), v in sorted(floor.items()))
          + ")")
    return 0


if __name__ == "__main__":
    sys.exit(main())
