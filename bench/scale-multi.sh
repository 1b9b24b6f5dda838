#!/usr/bin/env bash
# Multi-master benchmark (issue 16): three brine-masters sharing one
# throwaway PostgreSQL (cluster_store: postgres) and one key pair, and an
# N-minion brine-swarm split in three, each third connected to its own master
# with the other two as failover. Measures, from the first master:
# `brine '*' test.ping` over every minion (median of 5), 20 jobs to all N at
# once (returns/s, the returns of two thirds relayed through PostgreSQL),
# each master's and PostgreSQL's CPU seconds; then kills the second master
# with -9 and times until a ping from the first master gets every return
# again (its minions fail over to the third).
#
#   bench/scale-multi.sh 3000
#
# Needs Debian's postgresql package (initdb, pg_ctl). The last line is
# machine-readable: minions=N ping_ms=T burst_rps=R failover_ms=F
set -euo pipefail
. "$(dirname "$0")/lib.sh"

n=${1:?usage: bench/scale-multi.sh N}
repo=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --bins --manifest-path "$repo/Cargo.toml" >&2
bin="${CARGO_TARGET_DIR:-$repo/target}/release"
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$pgbin/initdb" ] || { echo "bench/scale-multi.sh: install Debian's postgresql package" >&2; exit 1; }

need=$(( n + 4096 ))
ulimit -n "$need" 2>/dev/null || ulimit -Hn "$need" 2>/dev/null && ulimit -n "$need" 2>/dev/null || {
  echo "bench/scale-multi.sh: cannot raise the open-file limit to $need (now $(ulimit -n))" >&2
  exit 1
}

work=$(mktemp -d)
# PostgreSQL runs as its own user when we are root: it must reach its dir.
chmod 711 "$work"
pids=()
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  stop_started
  as_pg "$pgbin/pg_ctl" -D "$work/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
  [ -n "${BRINE_SCALE_KEEP:-}" ] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT

now_ms() { date +%s%3N; }
clk=$(getconf CLK_TCK)
cpu_of() { awk -v c="$clk" '{ printf "%.1f", ($14 + $15) / c }' "/proc/$1/stat"; }
# Every PostgreSQL process's CPU seconds, the exited backends' included
# (cutime/cstime of the postmaster).
pg_cpu() {
  local pm total
  pm=$(head -1 "$work/pg/data/postmaster.pid")
  total=$(awk -v c="$clk" '{ printf "%.1f", ($14 + $15 + $16 + $17) / c }' "/proc/$pm/stat")
  for child in $(pgrep -P "$pm"); do
    total=$(awk -v t="$total" -v c="$clk" '{ printf "%.1f", t + ($14 + $15) / c }' "/proc/$child/stat" 2>/dev/null || echo "$total")
  done
  echo "$total"
}

mkdir -p "$work/pg"
[ "$(id -u)" = 0 ] && chown postgres "$work/pg"
pg_port=$(free_port)
as_pg "$pgbin/initdb" -D "$work/pg/data" -U postgres -A trust -E UTF8 --locale=C >/dev/null
as_pg "$pgbin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w \
  -o "-k $work/pg -p $pg_port -c listen_addresses='' -c max_connections=300" start >/dev/null

ret_ports=(); masters=()
for m in 1 2 3; do
  ret_ports+=("$(free_port)")
  mkdir -p "$work/master$m"
  cat > "$work/master$m/master" <<CONF
root_dir: $work/master$m-root
interface: 127.0.0.1
publish_port: $(free_port)
ret_port: ${ret_ports[$((m - 1))]}
auto_accept: True
timeout: 10
cluster_store: postgres
postgres:
  host: $work/pg
  port: $pg_port
  dbname: postgres
  user: postgres
  sslmode: disable
CONF
done

start_master() {
  local m=$1
  "$bin/brine-master" -c "$work/master$m" > "$work/master$m.out" 2> "$work/master$m.log" &
  masters[$m]=$!; pids+=($!)
  for _ in $(seq 200); do grep -q "brine-master ready" "$work/master$m.out" 2>/dev/null && return; sleep 0.1; done
  echo "master $m did not start:" >&2; tail -20 "$work/master$m.log" >&2; exit 1
}
start_master 1
# One key pair for all, as Salt's multi-master wants.
for m in 2 3; do
  mkdir -p "$work/master$m-root/etc/brine/pki/master"
  cp "$work/master1-root/etc/brine/pki/master/master."{pem,pub} "$work/master$m-root/etc/brine/pki/master/"
  start_master "$m"
done

per_master=$(( n / 3 ))
start=$(now_ms)
for m in 1 2 3; do
  mkdir -p "$work/swarm$m"
  {
    echo "root_dir: $work/swarm$m-root"
    echo "master:"
    for k in 0 1 2; do echo "  - 127.0.0.1:${ret_ports[$(( (m - 1 + k) % 3 ))]}"; done
    echo "master_type: failover"
    echo "acceptance_wait_time: 1"
    echo "master_alive_interval: 10"
    echo "auth_timeout: 20"
  } > "$work/swarm$m/minion"
  "$bin/brine-swarm" -c "$work/swarm$m" -n "$per_master" --id-prefix "s$m-" --wait-auth 300 \
    > "$work/swarm$m.out" 2> "$work/swarm$m.log" &
  pids+=($!)
done
for m in 1 2 3; do
  until grep -q "swarm authenticated" "$work/swarm$m.out" 2>/dev/null; do sleep 0.1; done
done
total=$(( per_master * 3 ))
auth_ms=$(( $(now_ms) - start ))
echo "minions authenticated: $total over 3 masters in $(( auth_ms / 1000 )).$(( auth_ms % 1000 / 100 )) s"
# Presence reports (every 2 s) and the start-up traffic settle.
sleep 4

# A ping from master 1 with $1 seconds of silence allowed (default 10).
ping_once() {
  local t0 t1 out
  t0=$(now_ms)
  out=$("$bin/brine" -c "$work/master1" -t "${1:-10}" --out txt '*' test.ping 2>/dev/null || true)
  t1=$(now_ms)
  echo "$(( t1 - t0 )) $(grep -c ': True$' <<< "$out")"
}
times=()
for i in 1 2 3 4 5; do
  read -r ms got < <(ping_once)
  times+=("$ms")
  echo "  test.ping from master 1, run $i: ${ms} ms, $got/$total returned"
done
median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)
echo "brine '*' test.ping from master 1: median ${median} ms over 5 runs"

cpu_before=(); for m in 1 2 3; do cpu_before+=("$(cpu_of "${masters[$m]}")"); done
pg_before=$(pg_cpu)
read -r burst_returns burst_ms < <(burst "$bin" "$work/master1" "$work")
rps=$(( burst_returns * 1000 / (burst_ms > 0 ? burst_ms : 1) ))
echo "20 jobs x $total minions from master 1: $burst_returns/$(( 20 * total )) returns in ${burst_ms} ms = $rps returns/s"
for m in 1 2 3; do
  used=$(awk -v a="${cpu_before[$((m - 1))]}" -v b="$(cpu_of "${masters[$m]}")" 'BEGIN { printf "%.1f", b - a }')
  echo "  master $m: ${used} CPU s in the burst"
done
echo "  PostgreSQL: $(awk -v a="$pg_before" -v b="$(pg_cpu)" 'BEGIN { printf "%.1f", b - a }') CPU s in the burst"

kill -9 "${masters[2]}"
t0=$(now_ms)
failover_ms=""
# Short pings, so the time is not a multiple of a long timeout.
for _ in $(seq 120); do
  read -r ms got < <(ping_once 2)
  echo "  after the kill: a ping of ${ms} ms, $got/$total returned"
  if (( got == total )); then failover_ms=$(( $(now_ms) - t0 )); break; fi
done
echo "master 2 killed: every minion answered master 1 again after ${failover_ms:-never} ms"
echo "minions=$total ping_ms=$median burst_rps=$rps failover_ms=${failover_ms:-never}"
