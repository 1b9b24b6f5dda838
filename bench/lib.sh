# Helpers the bench scripts share: `. "$(dirname "$0")/lib.sh"`.
# shellcheck shell=bash

# A free TCP port on 127.0.0.1 (the kernel's pick; the benchmarks bind
# loopback only).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Kill the processes whose PIDs the script collected in the array `pids`,
# and wait for them (each script's EXIT trap calls it).
stop_started() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}

# The 20-job burst both scale benchmarks run: 20 `brine '*' test.ping` at
# once with `brine` from $1 and the master config dir $2, each one's output
# in $3/burst.N (stderr in burst-err.N); waits for them alone. Prints
# "<returns> <milliseconds>".
burst() {
  local bin=$1 conf=$2 out=$3 t0 t1 j p
  t0=$(date +%s%3N)
  for j in $(seq 20); do
    "$bin/brine" -c "$conf" -t 30 --out txt '*' test.ping > "$out/burst.$j" 2> "$out/burst-err.$j" &
  done
  for p in $(jobs -p); do wait "$p" 2>/dev/null || true; done
  t1=$(date +%s%3N)
  echo "$(cat "$out"/burst.* | grep -c ': True$' || true) $(( t1 - t0 ))"
}
