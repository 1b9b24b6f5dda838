#!/usr/bin/env bash
# Salt 3008.5 in fault scenarios 4a and 6 (RELIABILITY.md), beside Brine's
# tests/e2e/faults.rs, in a network namespace of its own:
#   4a: a minion killed with kill -9 while a job runs (cmd.run 'sleep 4'),
#       restarted: what `salt` prints meanwhile, whether the job runs again,
#       and what the job cache holds for it afterwards;
#   6:  a minion whose clock is 10 minutes ahead (libfaketime): whether it
#       authenticates and answers, and what its log says.
#
#   tests/faults/salt-crash-and-clock.sh      # as root; Salt from ../shared/salt-baseline
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/lib.sh"
LIBFAKETIME=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
salt_fault_start crash 2
$X "$VENV/bin/salt-master" -c "$RUN/master/conf" >"$RUN/master.out" 2>&1 &
PIDS+=($!)
sleep 3
start_minion() {  # $1 id, rest: a command prefix (env ...)
  local id=$1; shift
  $X "$@" "$VENV/bin/salt-minion" -c "$RUN/minions/$id/conf" >>"$RUN/$id.out" 2>&1 &
  PIDS+=($!)
  MINION_PID=$!
}
start_minion m0001 env
M1=$MINION_PID
for _ in $(seq 1 60); do
  $SALT --timeout=5 --out=txt m0001 test.ping 2>/dev/null | grep -q ': True$' && break
  sleep 1
done
echo "== 4a: m0001 up; cmd.run 'echo started >> runs; sleep 4', kill -9 after 1.5 s"
( $SALT --timeout=5 --out=txt --show-jid m0001 cmd.run "echo started >> $RUN/runs; sleep 4" > "$RUN/salt-4a.out" 2>&1 ) &
WAITER=$!
sleep 1.5
kill -9 "$M1"
pkill -9 -P "$M1" 2>/dev/null  # its job process, if forked
wait "$WAITER"
echo "salt printed:"; sed 's/^/  /' "$RUN/salt-4a.out"
JID=$(sed -n 's/^jid: //p' "$RUN/salt-4a.out" | head -1)
start_minion m0001 env
sleep 15
echo "the job ran $(wc -l < "$RUN/runs") time(s)"
echo "job cache for $JID:"
$X "$VENV/bin/salt-run" -c "$RUN/master/conf" --out=json jobs.lookup_jid "$JID" 2>/dev/null | sed 's/^/  /'

echo "== 6: m0002 with its clock 10 minutes ahead"
start_minion m0002 env "LD_PRELOAD=$LIBFAKETIME" FAKETIME=+10m FAKETIME_DONT_FAKE_MONOTONIC=1
sleep 20
echo "keys: $($X "$VENV/bin/salt-key" -c "$RUN/master/conf" -L --out=txt 2>/dev/null | tr '\n' ' ')"
echo "test.ping: $($SALT --timeout=10 --out=txt m0002 test.ping 2>&1 | tr '\n' ' ')"
echo "the host's clock: $(date -u +%H:%M:%S); m0002's (its Python, grains-free): $($SALT --timeout=10 --out=txt m0002 cmd.run 'python3 -c "import time; print(time.strftime(\"%H:%M:%S\", time.gmtime()))"' 2>&1 | tr '\n' ' ')"
echo "m0002's log at warning and above:"
grep -v 'Task was destroyed\|^task:' "$RUN/minions/m0002/log/minion" 2>/dev/null | tail -5
