#!/usr/bin/env python3
"""Run the conformance cases through brine-call and compare with Salt's output.

usage: compare.py BRINE_CALL [CASE ...] [--strict-order] [--keep] [--context N]
                  [--summary] [--known FILE] [--write-known FILE]

For each case: builds the same sandbox and minion config capture.py gives
Salt (Brine reads Salt's key names from <dir>/minion via -c), runs every
command with `brine-call --local -c <dir> --out json -l quiet`, normalises the
output with the same rules, and prints IDENTICAL or a unified diff per
command. Exit status: 0 if everything is identical, 1 otherwise.

With --known FILE (one `<case> <NN>` per line: the commands known to
differ from Salt today), the exit status is 0 when every command that
differs is listed, 1 when one that is not listed differs (a regression).
Listed commands that now match are named, so the list can shrink:
--write-known FILE rewrites it from this run. `cargo test` runs this with
--known (tests/e2e/conformance.rs).
"""

import argparse
import difflib
import json
import os
import shutil
import subprocess
import sys

import conformance_lib as lib


def canonical(doc, strict_order):
    # Without --strict-order, mapping key order is ignored (lists keep order).
    return lib.dump(doc, sort_keys=not strict_order)


def run_case(brine_call, name, args):
    case_dir = os.path.join(lib.CASES_DIR, name)
    cmds = lib.read_commands(case_dir)
    root, conf = lib.make_sandbox(case_dir, "conformance-brine-")
    results = []
    try:
        for i, line in enumerate(cmds, 1):
            fname = lib.expected_name(i, line)
            exp_path = os.path.join(case_dir, "expected", fname)
            try:
                proc = lib.run_local(brine_call, conf, line, root)
                got = lib.record(proc, root)
            except subprocess.TimeoutExpired:
                got = {"retcode": None, "stdout": "", "stderr": "TIMEOUT"}
            if not os.path.exists(exp_path):
                results.append((line, False, f"  no expected file {fname} (run capture.sh)\n"))
                continue
            with open(exp_path, encoding="utf-8") as f:
                expected = json.load(f)
            a = canonical(expected, args.strict_order)
            b = canonical(got, args.strict_order)
            if a == b:
                results.append((line, True, ""))
            else:
                diff = difflib.unified_diff(
                    a.splitlines(True),
                    b.splitlines(True),
                    fromfile=f"salt/{name}/{fname}",
                    tofile=f"brine/{name}/{fname}",
                    n=args.context,
                )
                results.append((line, False, "".join(diff)))
    finally:
        if args.keep:
            print(f"  kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("brine_call", help="path to the brine-call binary")
    ap.add_argument("cases", nargs="*")
    ap.add_argument("--strict-order", action="store_true", help="also compare mapping key order")
    ap.add_argument("--keep", action="store_true", help="keep the temp roots")
    ap.add_argument("--context", type=int, default=2, help="diff context lines")
    ap.add_argument("--summary", action="store_true", help="one line per command, no diffs")
    ap.add_argument("--known", help="file of '<case> <NN>' lines known to differ")
    ap.add_argument("--write-known", help="write the differing commands to this file")
    args = ap.parse_intermixed_args()
    os.umask(0o022)
    brine_call = os.path.abspath(args.brine_call)
    if not os.access(brine_call, os.X_OK):
        raise SystemExit(f"compare.py: {brine_call} is not an executable")
    known = read_known(args.known) if args.known else None
    total = same = 0
    failing_cases = []
    differing = []
    regressions = []
    now_identical = []
    for name in lib.list_cases(args.cases):
        results = run_case(brine_call, name, args)
        case_ok = True
        for index, (line, ok, diff) in enumerate(results, 1):
            total += 1
            same += ok
            case_ok &= ok
            key = f"{name} {index:02d}"
            listed = known is not None and key in known
            if not ok:
                differing.append(f"{key}  # {line}")
                if known is not None and not listed:
                    regressions.append(f"{name}: {line}")
            elif listed:
                now_identical.append(key)
            show_diff = not ok and (not args.summary or (known is not None and not listed))
            print(f"{'IDENTICAL' if ok else 'DIFFERENT'}  {name}: {line}")
            if show_diff:
                sys.stdout.write(diff if diff.endswith("\n") else diff + "\n")
        if not case_ok:
            failing_cases.append(name)
        sys.stdout.flush()
    print(f"\n{same}/{total} commands identical; {len(failing_cases)} case(s) differ"
          + (f": {', '.join(failing_cases)}" if failing_cases else ""))
    if args.write_known:
        with open(args.write_known, "w", encoding="utf-8") as f:
            f.write(KNOWN_HEADER)
            f.writelines(d + "\n" for d in differing)
    if known is None:
        return 0 if same == total else 1
    for key in now_identical:
        print(f"now identical, remove from the known list: {key}")
    for r in regressions:
        print(f"REGRESSION (differs and is not in the known list): {r}")
    return 1 if regressions else 0


KNOWN_HEADER = """# Conformance commands known to differ from Salt 3008.5 today, one
# '<case> <NN>' per line (NN: the command's line number in the case's
# `commands`); `cargo test` fails when a command not listed here differs.
# Regenerate: tests/conformance/compare.py BRINE_CALL --write-known <this file>
"""


def read_known(path):
    known = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                case, nn = line.split()
                known.add(f"{case} {int(nn):02d}")
    return known


if __name__ == "__main__":
    sys.exit(main())
