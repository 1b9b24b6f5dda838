#!/usr/bin/env bash
# CPU time of `brine-call --local FUNCTION` for several builds, interleaved so
# that the machine's drift hits every build alike: ROUNDS rounds (default 5),
# each running every binary in turn under `perf stat -r 10 -e task-clock`.
# Prints each binary's mean and minimum over the rounds, in ms of CPU.
#
#   bench/ab-cpu.sh CONFIG_DIR FUNCTION OLD_BRINE_CALL NEW_BRINE_CALL ...
#   bench/ab-cpu.sh /tmp/sb/conf state.apply /tmp/brine-call.old target/release/brine-call
#   bench/ab-cpu.sh /tmp/f/conf "state.show_low_sls users" OLD NEW   # with arguments
#
# CONFIG_DIR holds a `minion` config for a local run (bench/states.sh writes
# one in its temp dir; copy its layout). Needs `perf` (linux-perf).
set -euo pipefail
conf=$1 fun=$2
shift 2
rounds=${ROUNDS:-5}
for _ in $(seq "$rounds"); do
  for bin in "$@"; do
    # $fun unquoted: a function with arguments ("state.show_low_sls users").
    # shellcheck disable=SC2086
    ms=$(perf stat -x, -e task-clock -r 10 "$bin" -c "$conf" --local $fun 2>&1 >/dev/null | cut -d, -f1)
    echo "$bin $ms"
  done
done | awk '{ s[$1] += $2; n[$1]++; if (!($1 in mn) || $2 < mn[$1]) mn[$1] = $2 }
  END { for (b in s) printf "%s mean %.2f min %.2f ms CPU\n", b, s[b] / n[b], mn[b] }'
