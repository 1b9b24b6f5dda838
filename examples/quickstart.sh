#!/usr/bin/env bash
# Build Brine and run a local master and minion under a temp dir: the minion
# authenticates, its key is accepted, jobs run on it through the real CLIs, and
# the example state tree (examples/salt) is applied from the master's file
# server, twice (the second run changes nothing). Everything listens on
# 127.0.0.1 only and is removed at the end.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --bins --manifest-path "$repo/Cargo.toml"
bin="${CARGO_TARGET_DIR:-$repo/target}/release"

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || echo 24506)
mkdir -p "$work/master" "$work/minion"
cat > "$work/master/master" <<CONF
root_dir: $work/root-master
log_file: $work/root-master/master.log
log_level_logfile: info
interface: 127.0.0.1
publish_port: 0
ret_port: $port
file_roots:
  base:
    - $repo/examples/salt
CONF
cat > "$work/minion/minion" <<CONF
root_dir: $work/root-minion
log_file: $work/root-minion/minion.log
id: quickstart-minion
master: 127.0.0.1
master_port: $port
acceptance_wait_time: 0.5
master_alive_interval: 2
CONF

echo "== starting brine-master and brine-minion in $work"
"$bin/brine-master" -c "$work/master" > "$work/master.log" 2>&1 & pids+=($!)
"$bin/brine-minion" -c "$work/minion" > "$work/minion.log" 2>&1 & pids+=($!)

echo "== waiting for the minion's key"
for _ in $(seq 50); do
  "$bin/brine-key" -c "$work/master" -l pre 2>/dev/null | grep -q quickstart-minion && break
  sleep 0.2
done
"$bin/brine-key" -c "$work/master" -L
echo "== brine-key -a quickstart-minion -y"
"$bin/brine-key" -c "$work/master" -a quickstart-minion -y

echo "== brine '*' test.ping"
for _ in $(seq 30); do
  if "$bin/brine" -c "$work/master" -t 2 '*' test.ping; then break; fi
  sleep 0.5
done
echo "== brine '*' test.arg 1 two key=value --out json"
"$bin/brine" -c "$work/master" '*' test.arg 1 two key=value --out json
echo "== brine-run jobs.list_jobs"
"$bin/brine-run" -c "$work/master" jobs.list_jobs
echo "== brine-call --local test.fib 20"
"$bin/brine-call" -c "$work/minion" --local test.fib 20
pillar="pillar={\"example_dir\": \"$work/applied\"}"
echo "== brine '*' state.apply test=True (predicts the changes)"
"$bin/brine" -c "$work/master" -t 30 '*' state.apply test=True "$pillar" || true
echo "== brine '*' state.apply (applies the example tree from the master's file server)"
"$bin/brine" -c "$work/master" -t 30 '*' state.apply "$pillar"
echo "== brine '*' state.apply again (nothing left to change)"
"$bin/brine" -c "$work/master" -t 30 '*' state.apply "$pillar"
echo "== the master's log file (log_file, Salt's format)"
tail -n 3 "$work/root-master/master.log"
echo "== done"
