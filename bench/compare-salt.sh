#!/usr/bin/env bash
# Brine next to Salt 3008.5 on this machine, measured the same way in the same
# run: `<cli> '*' test.ping` against K real minion processes (default 10), and
# a masterless state.apply of 200 file.managed states (first run and no-change
# run), all timed by the Salt baseline's own timer
# (../shared/salt-baseline/benchlib.py), and the no-change run's time in the
# state engine alone, by each one's own state timer (bench/engine_time.py).
#
#   bench/compare-salt.sh        # K=10
#   bench/compare-salt.sh 25
#
# Installs Salt from PyPI into a cache venv the first time (salt-baseline/setup.sh).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

k=${1:-10}
runs=${BENCH_RUNS:-7}
repo=$(cd "$(dirname "$0")/.." && pwd)
baseline=${SALT_BASELINE:-$repo/../shared/salt-baseline}
[ -f "$baseline/setup.sh" ] || { echo "salt baseline scripts not found at $baseline (set SALT_BASELINE)" >&2; exit 1; }
cargo build --release --bins --manifest-path "$repo/Cargo.toml" >&2
bin="${CARGO_TARGET_DIR:-$repo/target}/release"
timer="python3 $baseline/benchlib.py time -n $runs --expect-lines-re ^\s+True$ --expect-count $k --"

work=$(mktemp -d)
pids=()
cleanup() {
  stop_started
  bash "$baseline/cluster.sh" stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== Salt: installing (once) and starting a master with $k minions" >&2
bash "$baseline/setup.sh" >&2
bash "$baseline/cluster.sh" start "$k" >&2
venv=${SALT_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/brine-salt-baseline/venv}
run=${SALT_RUN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/brine-salt-baseline/run}
salt_json=$($timer "$venv/bin/salt" -c "$run/master/conf" '*' test.ping)
bash "$baseline/cluster.sh" stop >&2

echo "== Brine: starting a master with $k minion processes" >&2
ret_port=$(free_port)
mkdir -p "$work/master"
cat > "$work/master/master" <<CONF
root_dir: $work/master-root
interface: 127.0.0.1
publish_port: 0
ret_port: $ret_port
auto_accept: True
CONF
"$bin/brine-master" -c "$work/master" > /dev/null 2> "$work/master.log" & pids+=($!)
for i in $(seq "$k"); do
  id=$(printf 'm%04d' "$i")
  mkdir -p "$work/$id"
  cat > "$work/$id/minion" <<CONF
root_dir: $work/$id-root
id: $id
master: 127.0.0.1
master_port: $ret_port
acceptance_wait_time: 0.5
CONF
  "$bin/brine-minion" -c "$work/$id" 2> "$work/$id.log" & pids+=($!)
done
for _ in $(seq 100); do
  n=$("$bin/brine" -c "$work/master" -t 2 --out txt '*' test.ping 2>/dev/null | grep -c ': True$' || true)
  [ "$n" -eq "$k" ] && break
  sleep 0.2
done
brine_json=$($timer "$bin/brine" -c "$work/master" '*' test.ping)

echo "== Salt: salt-call --local state.apply, 200 file.managed" >&2
results="${SALT_RESULTS_DIR:-$run/results}/results.jsonl"
BENCH_RUNS=$runs BENCH_SETTLE_MAX=${BENCH_SETTLE_MAX:-5} bash "$baseline/bench.sh" states-local >&2
salt_first=$(grep '"name": "states_local_first"' "$results" | tail -1 | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["result"]))')
salt_second=$(grep '"name": "states_local_second"' "$results" | tail -1 | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["result"]))')
# The engine alone: Salt's own state timer ("Total run time") on the no-change run.
salt_engine=$(python3 "$repo/bench/engine_time.py" -n "$runs" -- "$venv/bin/salt-call" -c "$run/local/conf" --local state.apply)
echo "== Brine: brine-call --local state.apply, the same 200 states" >&2
brine_states=$(BENCH_RUNS=$runs bash "$repo/bench/states.sh" 200 2>/dev/null)
brine_first=$(sed -n 's/^first //p' <<< "$brine_states")
brine_second=$(sed -n 's/^second //p' <<< "$brine_states")
brine_engine=$(sed -n 's/^engine //p' <<< "$brine_states")

python3 - "$k" "$salt_json" "$brine_json" "$salt_first" "$brine_first" "$salt_second" "$brine_second" \
  "$salt_engine" "$brine_engine" <<'PY'
import json, sys
k = int(sys.argv[1])
pairs = [
    (f"test.ping to {k} minions", sys.argv[2], sys.argv[3]),
    ("state.apply, 200 file.managed, first run", sys.argv[4], sys.argv[5]),
    ("state.apply, 200 file.managed, no changes", sys.argv[6], sys.argv[7]),
    ("  of which in the engine (Total run time)", sys.argv[8], sys.argv[9]),
]
print("Median of each series (same timer, same machine, same run):")
for what, salt, brine in pairs:
    s, b = json.loads(salt)["median"], json.loads(brine)["median"]
    print(f"  {what:45s} salt {s * 1000:8.1f} ms   brine {b * 1000:7.1f} ms   {s / max(b, 0.001):5.0f}x")
PY
