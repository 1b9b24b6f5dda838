#!/usr/bin/env python3
"""Regenerate tests/conformance/cases/*/expected/ from real Salt (see README.md).

usage: capture.py --salt-call PATH [CASE ...]
"""

import argparse
import os
import shutil
import subprocess
import sys

import conformance_lib as lib


def capture_case(salt_call, name, keep=False):
    case_dir = os.path.join(lib.CASES_DIR, name)
    cmds = lib.read_commands(case_dir)
    root, conf = lib.make_sandbox(case_dir, "conformance-salt-")
    out_dir = os.path.join(case_dir, "expected")
    try:
        docs = []
        for i, line in enumerate(cmds, 1):
            try:
                proc = lib.run_local(salt_call, conf, line, root)
            except subprocess.TimeoutExpired:
                raise SystemExit(f"{name}: '{line}' timed out")
            docs.append((lib.expected_name(i, line), lib.record(proc, root)))
        if os.path.isdir(out_dir):
            shutil.rmtree(out_dir)
        os.makedirs(out_dir)
        for fname, doc in docs:
            with open(os.path.join(out_dir, fname), "w", encoding="utf-8") as f:
                f.write(lib.dump(doc))
        summary = " ".join(str(d["retcode"]) for _, d in docs)
        print(f"{name}: {len(docs)} command(s), retcodes {summary}")
    finally:
        if keep:
            print(f"  kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--salt-call", required=True)
    ap.add_argument("--keep", action="store_true", help="keep the temp roots")
    ap.add_argument("cases", nargs="*")
    args = ap.parse_intermixed_args()
    os.umask(0o022)
    for name in lib.list_cases(args.cases):
        capture_case(args.salt_call, name, args.keep)


if __name__ == "__main__":
    sys.exit(main())
