#!/usr/bin/env bash
# State-run benchmark: `brine-call --local state.apply` of N `file.managed`
# states (the same tree Salt's baseline uses: ../shared/salt-baseline/bench.sh
# gen_states), timed with the baseline's own timer. Prints three lines,
# `first <json>` (the run that creates the N files; target removed before
# each run), `second <json>` (no changes), `compile <json>` (render +
# compile only, `state.show_lowstate`) and `engine <json>` (the no-change
# run's in-engine time: the sum of the states' durations, what "Total run
# time" prints; bench/engine_time.py).
#
#   bench/states.sh 200     # the size Salt's baseline measured
#   bench/states.sh 1000    # issue 5's targets
#   BRINE_CALL=/other/build/brine-call bench/states.sh 1000
#   BENCH_MASTER=1 bench/states.sh 200   # also `master <json>`: the no-change
#       run through a brine-master and one brine-minion (`brine bench
#       state.apply`, the tree in the master's file_roots), issue 17's
#       "through the master" figure; the binaries beside brine-call.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

n=${1:-200}
runs=${BENCH_RUNS:-7}
repo=$(cd "$(dirname "$0")/.." && pwd)
baseline=${SALT_BASELINE:-$repo/../shared/salt-baseline}
# BRINE_CALL=/path/to/brine-call measures that binary instead (another
# commit's build, for a side-by-side comparison).
if [ -n "${BRINE_CALL:-}" ]; then
  brine_call=$BRINE_CALL
else
  cargo build --release --bins --manifest-path "$repo/Cargo.toml" >&2
  brine_call="${CARGO_TARGET_DIR:-$repo/target}/release/brine-call"
fi

work=$(mktemp -d)
pids=()
cleanup() {
  stop_started
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/conf" "$work/srv"
cat > "$work/conf/minion" <<CONF
root_dir: $work/root
id: bench
file_client: local
file_roots:
  base:
    - $work/srv
CONF
printf 'base:\n  "*":\n    - bench\n' > "$work/srv/top.sls"
{
  echo "{% set base = '$work/target/' ~ grains['id'] %}"
  for i in $(seq -f '%04g' 1 "$n"); do
    printf 'bench_file_%s:\n  file.managed:\n    - name: {{ base }}/f%s.txt\n    - contents: "bench file %s"\n    - makedirs: True\n' "$i" "$i" "$i"
  done
} > "$work/srv/bench.sls"

# One line per series: a label, then the timer's JSON.
timer() { python3 "$baseline/benchlib.py" time -n "$runs" "$@"; }
# `sync` after the removal: otherwise the write-back of the previous run's
# files lands inside the next timed run (BENCHMARKS.md, issue 13's re-check).
echo "first $(timer --pre "rm -rf '$work/target' && sync" --expect-lines-re "^Succeeded: $n \\(changed=$n\\)\$" --expect-count 1 -- \
  "$brine_call" -c "$work/conf" --local state.apply)"
echo "second $(timer --expect-lines-re "^Succeeded: $n\$" --expect-count 1 -- "$brine_call" -c "$work/conf" --local state.apply)"
echo "compile $(timer -- "$brine_call" -c "$work/conf" --local --out quiet state.show_lowstate)"
echo "engine $(python3 "$repo/bench/engine_time.py" -n "$runs" -- "$brine_call" -c "$work/conf" --local state.apply)"

[ "${BENCH_MASTER:-0}" = 1 ] || exit 0
# Through the master: the same tree from the master's file_roots, one minion
# (id `bench`, so the same target paths), no changes after the warm-up.
bin=$(dirname "$brine_call")
ret_port=$(free_port)
mkdir -p "$work/master-conf" "$work/minion-conf"
cat > "$work/master-conf/master" <<CONF
root_dir: $work/master-root
interface: 127.0.0.1
publish_port: 0
ret_port: $ret_port
auto_accept: True
file_roots:
  base:
    - $work/srv
CONF
cat > "$work/minion-conf/minion" <<CONF
root_dir: $work/minion-root
id: bench
master: 127.0.0.1
master_port: $ret_port
acceptance_wait_time: 0.5
CONF
"$bin/brine-master" -c "$work/master-conf" > /dev/null 2> "$work/master.log" & pids+=($!)
"$bin/brine-minion" -c "$work/minion-conf" 2> "$work/minion.log" & pids+=($!)
for _ in $(seq 100); do
  "$bin/brine" -c "$work/master-conf" -t 2 --out txt bench test.ping 2>/dev/null | grep -q ': True$' && break
  sleep 0.2
done
echo "master $(timer --expect-lines-re "^Succeeded: $n\$" --expect-count 1 -- "$bin/brine" -c "$work/master-conf" -t 60 bench state.apply)"
