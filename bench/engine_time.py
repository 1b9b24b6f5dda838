#!/usr/bin/env python3
"""In-engine time of a state run: the sum of the states' `duration`s, what
the highstate outputter prints as "Total run time" (Salt's own state timer,
without process start-up, rendering or compiling).

    bench/engine_time.py [-n RUNS] -- CMD ARGS...

CMD is a `state.apply` (salt-call or brine-call) that prints `--out json`; it
runs RUNS times (default 7) and one JSON line is printed: the median and every
run's total, in seconds, like salt-baseline/benchlib.py's timer.
"""
import json
import statistics
import subprocess
import sys


def engine_seconds(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    (ret,) = json.loads(out).values()
    if not isinstance(ret, dict):
        sys.exit(f"engine_time: no state results from {cmd[0]}: {str(ret)[:200]}")
    return sum(float(s.get("duration", 0)) for s in ret.values()) / 1000


def main(argv):
    runs = 7
    if argv[:1] == ["-n"]:
        runs, argv = int(argv[1]), argv[2:]
    if argv[:1] != ["--"] or len(argv) < 2:
        sys.exit(__doc__)
    cmd = argv[1:] + ["--out", "json"]
    totals = [engine_seconds(cmd) for _ in range(runs)]
    print(json.dumps({"median": statistics.median(totals), "runs": totals}))


if __name__ == "__main__":
    main(sys.argv[1:])
