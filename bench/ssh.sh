#!/usr/bin/env bash
# brine-ssh beside salt-ssh on the same roster: N entries (default 100), all
# on one throwaway sshd on 127.0.0.1 (its own host key and authorized key, as
# tests/src/sshd.rs starts it), each entry with its own thin_dir as separate
# hosts would have. For each tool: the first `test.ping` (copies its code to
# every entry), then warm `test.ping` and `state.apply` of a small tree (5
# file.managed per host), timed with the Salt baseline's timer (medians of
# BENCH_RUNS, default 3).
#
#   bench/ssh.sh 100
#   BRINE_BIN=/path/to/release bench/ssh.sh 100   # brine-ssh and brine-call there
#   SALT_SSH=/path/to/venv/bin/salt-ssh bench/ssh.sh 100
#
# Needs /usr/sbin/sshd (openssh-server) and root (sshd logs in as root here).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

n=${1:-100}
runs=${BENCH_RUNS:-3}
procs=${BENCH_PROCS:-25}
repo=$(cd "$(dirname "$0")/.." && pwd)
baseline=${SALT_BASELINE:-$repo/../shared/salt-baseline}
bin=${BRINE_BIN:-${CARGO_TARGET_DIR:-$repo/target}/release}
salt_ssh=${SALT_SSH:-$HOME/.cache/brine-salt-baseline/venv/bin/salt-ssh}

work=$(mktemp -d /tmp/brine-bench-ssh.XXXXXX)
pids=()
cleanup() {
  stop_started
  rm -rf "$work"
}
trap cleanup EXIT

# The server.
port=$(free_port)
ssh-keygen -q -t ed25519 -N '' -f "$work/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$work/client_key"
cp "$work/client_key.pub" "$work/authorized_keys"
mkdir -p /run/sshd
cat > "$work/sshd_config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $work/host_key
PidFile $work/sshd.pid
AuthorizedKeysFile $work/authorized_keys
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
MaxStartups 500
MaxSessions 500
LogLevel ERROR
# salt-ssh copies its thin with scp, which speaks SFTP since OpenSSH 9.
Subsystem sftp internal-sftp
CONF
/usr/sbin/sshd -D -e -f "$work/sshd_config" 2> "$work/sshd.log" & pids+=($!)
for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
echo "[127.0.0.1]:$port $(cat "$work/host_key.pub")" > "$work/known_hosts"

# The tree both apply: five files per host.
mkdir -p "$work/srv/salt/bench" "$work/srv/pillar"
printf "base:\n  '*':\n    - bench\n" > "$work/srv/salt/top.sls"
for i in 1 2 3 4 5; do
  printf 'bench_%s:\n  file.managed:\n    - name: %s/target/{{ grains["id"] }}/f%s\n    - contents: "{{ pillar["word"] }} %s"\n    - makedirs: True\n' \
    "$i" "$work" "$i" "$i"
done > "$work/srv/salt/bench/init.sls"
printf "base:\n  '*':\n    - data\n" > "$work/srv/pillar/top.sls"
printf "word: hello\n" > "$work/srv/pillar/data.sls"

roster() { # $1: thin_dir prefix, $2: more lines for every entry
  for i in $(seq -f '%03g' 1 "$n"); do
    printf 'h%s:\n  host: 127.0.0.1\n  port: %s\n  user: root\n  priv: %s\n  thin_dir: %s/h%s\n%s' \
      "$i" "$port" "$work/client_key" "$1" "$i" "${2:-}"
  done
}

# The same master config for both tools, in $work/$1 (root_dir $work/$1-root).
master_config() {
  mkdir -p "$work/$1"
  cat > "$work/$1/master" <<CONF
root_dir: $work/$1-root
known_hosts_file: $work/known_hosts
file_roots:
  base:
    - $work/srv/salt
pillar_roots:
  base:
    - $work/srv/pillar
CONF
}
master_config brine
roster "$work/thin-brine" > "$work/brine/roster"
master_config salt
# salt-ssh's shim cannot start a python3 that is a shell script (a pyenv
# shim on the login PATH: it runs `exec PATH=... python`); set_path gives it
# the system's.
roster "$work/thin-salt" "  set_path: /usr/sbin:/usr/bin:/sbin:/bin
" > "$work/salt/roster"

timer() { python3 "$baseline/benchlib.py" time -n "$runs" "$@"; }
brine=("$bin/brine-ssh" -c "$work/brine" --max-procs "$procs" --out txt)
salt=("$salt_ssh" -c "$work/salt" --roster-file "$work/salt/roster" --max-procs "$procs" --out txt)

# The timer runs each command once untimed first; the first run of each tool
# (its code copied to every thin_dir) is timed here on its own.
# Wall seconds of a command, and how many hosts printed True.
first() {
  python3 - "$@" <<'PY'
import json, subprocess, sys, time
start = time.perf_counter()
out = subprocess.run(sys.argv[1:], capture_output=True, text=True).stdout
print(json.dumps({"seconds": round(time.perf_counter() - start, 3),
                  "true": sum(1 for line in out.splitlines() if line.endswith(": True"))}))
PY
}
echo "brine_first_ping $(first "${brine[@]}" '*' test.ping)"
echo "brine_ping $(timer --expect-lines-re ': True$' --expect-count "$n" -- "${brine[@]}" '*' test.ping)"
echo "brine_apply $(timer -- "${brine[@]}" '*' state.apply)"

echo "salt_first_ping $(first "${salt[@]}" '*' test.ping)"
echo "salt_ping $(timer --expect-lines-re ': True$' --expect-count "$n" -- "${salt[@]}" '*' test.ping)"
echo "salt_apply $(timer -- "${salt[@]}" '*' state.apply)"
