#!/usr/bin/env bash
# Repeated bursts against one master: a brine-master and an N-minion swarm
# (three processes) on 127.0.0.1 in a temp dir; three times 20 jobs to all
# minions at once, printing the master's peak RSS after each burst, to show
# whether memory is reused or accumulates.
#
#   bench/bursts.sh 9999
set -uo pipefail
. "$(dirname "$0")/lib.sh"
n=${1:?usage: bench/bursts.sh N}
repo=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --bins --manifest-path "$repo/Cargo.toml" >&2
bin="${CARGO_TARGET_DIR:-$repo/target}/release"
ulimit -n $(( n + 4096 )) 2>/dev/null || { echo "bench/bursts.sh: cannot raise the open-file limit" >&2; exit 1; }
work=$(mktemp -d)
ret=$(free_port); pub=$(free_port)
mkdir -p $work/master $work/swarm
printf "root_dir: $work/mr\ninterface: 127.0.0.1\npublish_port: $pub\nret_port: $ret\nauto_accept: True\ntimeout: 10\n" > $work/master/master
printf "root_dir: $work/sr\nmaster: 127.0.0.1\nmaster_port: $ret\nacceptance_wait_time: 1\nmaster_alive_interval: 30\nauth_timeout: 20\n" > $work/swarm/minion
"$bin/brine-master" -c $work/master > $work/m.out 2> $work/m.log & mp=$!
for _ in $(seq 100); do grep -q ready $work/m.out 2>/dev/null && break; sleep 0.1; done
sps=()
for p in 1 2 3; do "$bin/brine-swarm" -c $work/swarm -n $((n/3)) --id-prefix s$p- --wait-auth 300 > $work/s$p.out 2> $work/s$p.log & sps+=($!); done
for p in 1 2 3; do until grep -q "swarm authenticated" $work/s$p.out 2>/dev/null; do sleep 0.2; done; done
sleep 3
rss() { awk '/VmRSS/ {print int($2/1024)}' /proc/$mp/status; }
echo "after auth: $(rss) MiB"
for b in 1 2 3; do
  for j in $(seq 20); do "$bin/brine" -c $work/master -t 30 --out txt '*' test.ping > $work/b.$j 2>/dev/null & done
  for j in $(jobs -p); do [[ " ${sps[*]} $mp " == *" $j "* ]] || wait $j 2>/dev/null; done
  got=$(cat $work/b.* | grep -c ': True$')
  hwm=$(awk '/VmHWM/ {print int($2/1024)}' /proc/$mp/status)
  sleep 5
  echo "burst $b: $got returns; peak so far $hwm MiB; 5 s later $(rss) MiB"
done
kill ${sps[@]} $mp; wait 2>/dev/null; rm -rf $work
