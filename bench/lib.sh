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
