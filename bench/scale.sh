#!/usr/bin/env bash
# Scale benchmark: a brine-master and an N-minion brine-swarm on 127.0.0.1 in a
# temp dir. Measures the time until every minion is authenticated,
# `brine '*' test.ping` (median of 5), a grain-targeted job matching 10%, 20
# jobs to all N at once (sustained returns/s), master CPU seconds and peak RSS,
# swarm memory per minion, and return loss (must be 0).
#
#   bench/scale.sh 1000
#   bench/scale.sh 10000
#   BRINE_SCALE_KEEP=1 bench/scale.sh 10000   # keep the temp dir (each burst
#       CLI's output and stderr: burst.N, burst-err.N) and print its path
#
# The last line is machine-readable: minions=N returned=R ping_ms=T
set -euo pipefail
. "$(dirname "$0")/lib.sh"

n=${1:?usage: bench/scale.sh N}
repo=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --bins --manifest-path "$repo/Cargo.toml" >&2
bin="${CARGO_TARGET_DIR:-$repo/target}/release"

# The master and its publisher process each hold one connection per minion
# (the swarm is split across processes for the same reason, below).
need=$(( n + 4096 ))
ulimit -n "$need" 2>/dev/null || ulimit -Hn "$need" 2>/dev/null && ulimit -n "$need" 2>/dev/null || {
  echo "bench/scale.sh: cannot raise the open-file limit to $need (now $(ulimit -n)); run as root or raise the hard limit" >&2
  exit 1
}

work=$(mktemp -d)
pids=()
cleanup() {
  stop_started
  [ -n "${BRINE_SCALE_KEEP:-}" ] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT

now_ms() { date +%s%3N; }
# The master's CPU seconds so far (user + system).
clk=$(getconf CLK_TCK)
master_cpu() { awk -v c="$clk" '{ printf "%.1f", ($14 + $15) / c }' "/proc/$master_pid/stat"; }
ret_port=$(free_port)
pub_port=$(free_port)

mkdir -p "$work/master" "$work/swarm"
cat > "$work/master/master" <<CONF
root_dir: $work/master-root
interface: 127.0.0.1
publish_port: $pub_port
ret_port: $ret_port
auto_accept: True
timeout: 10
CONF
cat > "$work/swarm/minion" <<CONF
root_dir: $work/swarm-root
master: 127.0.0.1
master_port: $ret_port
acceptance_wait_time: 1
master_alive_interval: 30
auth_timeout: 20
CONF

"$bin/brine-master" -c "$work/master" > "$work/master.out" 2> "$work/master.log" & master_pid=$!; pids+=($master_pid)
for _ in $(seq 100); do grep -q "brine-master ready" "$work/master.out" 2>/dev/null && break; sleep 0.1; done
grep -q "brine-master ready" "$work/master.out" || { echo "master did not start:"; cat "$work/master.log"; exit 1; } >&2

# The swarm runs in processes of at most $per_proc minions: each minion holds
# two sockets, and this machine caps a process at $(ulimit -Hn) open files.
per_proc=${BRINE_SWARM_PER_PROCESS:-4000}
procs=$(( (n + per_proc - 1) / per_proc ))
swarm_pids=()
start=$(now_ms)
for p in $(seq "$procs"); do
  count=$(( p < procs ? per_proc : n - per_proc * (procs - 1) ))
  # Ten values of `role`, so role=r0 matches 10% of the swarm.
  "$bin/brine-swarm" -c "$work/swarm" -n "$count" --id-prefix "s$p-" --wait-auth 300 \
    --grain role=r0,r1,r2,r3,r4,r5,r6,r7,r8,r9 > "$work/swarm.$p.out" 2> "$work/swarm.$p.log" &
  swarm_pids+=($!); pids+=($!)
done
for p in $(seq "$procs"); do
  until grep -q "swarm authenticated" "$work/swarm.$p.out" 2>/dev/null; do
    kill -0 "${swarm_pids[$((p - 1))]}" 2>/dev/null || { echo "swarm $p failed:"; tail -5 "$work/swarm.$p.log"; exit 1; } >&2
    sleep 0.1
  done
done
auth_ms=$(( $(now_ms) - start ))
cpu_auth=$(master_cpu)
echo "minions authenticated: $n in $(( auth_ms / 1000 )).$(( auth_ms % 1000 / 100 )) s ($procs swarm processes); master ${cpu_auth} CPU s so far"

# Let the start-up traffic (grains reports, start events) settle.
sleep 2

swarm_rss_kib() {
  local total=0
  for p in "${swarm_pids[@]}"; do
    total=$(( total + $(awk '/VmRSS/ {print $2}' "/proc/$p/status") ))
  done
  echo "$total"
}
idle_rss=$(swarm_rss_kib)

ping_once() {
  local t0 t1 out
  t0=$(now_ms)
  out=$("$bin/brine" -c "$work/master" -t 10 --out txt "$@" 2>/dev/null || true)
  t1=$(now_ms)
  echo "$(( t1 - t0 )) $(grep -c ': True$' <<< "$out")"
}

times=(); min_returned=$n
for i in 1 2 3 4 5; do
  read -r ms got < <(ping_once '*' test.ping)
  times+=("$ms")
  (( got < min_returned )) && min_returned=$got
  echo "  test.ping run $i: ${ms} ms, $got/$n returned"
done
median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)
echo "brine '*' test.ping: median ${median} ms over 5 runs, fewest returns $min_returned/$n"

read -r gms gret < <(ping_once -C 'G@role:r0' test.ping)
echo "grain-targeted test.ping (role:r0, 10%): ${gms} ms, $gret/$(( n / 10 )) returned"

# 20 jobs to everyone at once; each brine waits for all of its returns.
cpu_before_burst=$(master_cpu)
# BRINE_SCALE_PERF=<file>: profile the master during the burst (perf record;
# BRINE_SCALE_PERF_OPTS="--call-graph dwarf -F 199" for call chains).
if [[ -n "${BRINE_SCALE_PERF:-}" ]]; then
  perf record ${BRINE_SCALE_PERF_OPTS:--F 999 -g} -p "$master_pid" -o "$BRINE_SCALE_PERF" 2>/dev/null & perf_pid=$!; pids+=("$perf_pid")
fi
read -r burst_returns burst_ms < <(burst "$bin" "$work/master" "$work")
[[ -n "${perf_pid:-}" ]] && { kill -INT "$perf_pid"; wait "$perf_pid" || true; }
echo "20 jobs x $n minions: $burst_returns/$(( 20 * n )) returns in ${burst_ms} ms = $(( burst_returns * 1000 / (burst_ms > 0 ? burst_ms : 1) )) returns/s"

cpu=$(master_cpu)
cpu_burst=$(awk -v a="$cpu_before_burst" -v b="$cpu" 'BEGIN { printf "%.1f", b - a }')
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$master_pid/status")
rss=$(awk '/VmRSS/ {print $2}' "/proc/$master_pid/status")
swarm_rss=$(swarm_rss_kib)
echo "master: ${cpu} CPU s (auth ${cpu_auth}, burst ${cpu_burst}), peak RSS $(( hwm / 1024 )) MiB, RSS now $(( rss / 1024 )) MiB"
# What one minion's DEALER+SUB pair costs alone (brine-bench-sockets).
socket_kib=$("$bin/brine-bench-sockets" 2000 | sed -n 's/.* = \([0-9.]*\) KiB per pair/\1/p')
idle_per=$(awk -v r="$idle_rss" -v n="$n" 'BEGIN { printf "%.1f", r / n }')
beyond=$(awk -v i="$idle_per" -v s="$socket_kib" 'BEGIN { printf "%.1f", i - s }')
echo "swarm idle after auth: RSS $(( idle_rss / 1024 )) MiB = $idle_per KiB per minion; sockets alone $socket_kib KiB per pair; $beyond KiB beyond its sockets"
echo "swarm after the burst: RSS $(( swarm_rss / 1024 )) MiB in $procs processes = $(( swarm_rss / n )) KiB per minion (sockets included)"
echo "return loss: $(( n - min_returned )) in the pings, $(( 20 * n - burst_returns )) in the burst"
echo "minions=$n returned=$min_returned ping_ms=$median"
