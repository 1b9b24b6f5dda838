#!/usr/bin/env bash
# Brine next to Salt 3008.5 on this machine, measured the same way in the same
# run: `<cli> '*' test.ping` against K real minion processes (default 10),
# timed by the Salt baseline's own timer (../shared/salt-baseline/benchlib.py).
#
#   bench/compare-salt.sh        # K=10
#   bench/compare-salt.sh 25
#
# Installs Salt from PyPI into a cache venv the first time (salt-baseline/setup.sh).
set -euo pipefail

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
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
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
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
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

python3 - "$k" "$salt_json" "$brine_json" <<'PY'
import json, sys
k, salt, brine = int(sys.argv[1]), json.loads(sys.argv[2]), json.loads(sys.argv[3])
s, b = salt["median"], brine["median"]
print(f"test.ping to {k} minions, median of {len(salt['runs'])} runs (same timer, same machine, same run):")
print(f"  salt   {s * 1000:9.1f} ms   (CLI CPU {salt['cli_cpu_median'] * 1000:.0f} ms)")
print(f"  brine  {b * 1000:9.1f} ms   (CLI CPU {brine['cli_cpu_median'] * 1000:.0f} ms)")
print(f"  brine is {s / b:.0f}x faster")
PY
