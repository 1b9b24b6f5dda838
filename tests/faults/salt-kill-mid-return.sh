#!/usr/bin/env bash
# Salt 3008.5 in fault scenario 4b (RELIABILITY.md), beside Brine's
# tests/e2e/faults.rs: the minion is cut off (iptables) as its job
# (cmd.run 'sleep 2') ends, so its return cannot reach the master; the
# minion and its job process are killed with kill -9 while the return waits;
# the network heals and the minion restarts. What `salt` says meanwhile and
# whether the return reaches the job cache.
#
#   tests/faults/salt-kill-mid-return.sh      # as root; Salt from ../shared/salt-baseline
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/lib.sh"
salt_fault_start kill 1
sed -i 's/^interface: 127.0.0.1/interface: 0.0.0.0/' "$RUN/master/conf/master"
sed -i 's/^master: 127.0.0.1/master: 127.0.0.2/' "$RUN/minions/m0001/conf/minion"
$X "$VENV/bin/salt-master" -c "$RUN/master/conf" >"$RUN/master.out" 2>&1 &
PIDS+=($!)
sleep 3
start_minion() {
  $X "$VENV/bin/salt-minion" -c "$RUN/minions/m0001/conf" >>"$RUN/m0001.out" 2>&1 &
  PIDS+=($!)
  MINION=$!
}
start_minion
for _ in $(seq 1 60); do
  $SALT --timeout=5 --out=txt m0001 test.ping 2>/dev/null | grep -q ': True$' && break
  sleep 1
done
JID=$($SALT --async m0001 cmd.run 'sleep 2; echo done' | sed -n 's/.*job ID: //p')
sleep 0.5
$X iptables -A INPUT -d 127.0.0.2 -j DROP
$X iptables -A INPUT -s 127.0.0.2 -j DROP
sleep 4  # the job ends meanwhile; its return cannot reach the master
for child in $(ps -o pid= --ppid "$MINION"); do kill -9 "$child"; done
kill -9 "$MINION"
echo "salt meanwhile: $($SALT --timeout=2 --out=txt m0001 test.ping 2>&1 | head -1)"
$X iptables -F INPUT
start_minion
sleep 15
echo "job cache for $JID, 15 s after the heal and restart:"
$X "$VENV/bin/salt-run" -c "$RUN/master/conf" --out=json jobs.lookup_jid "$JID" 2>/dev/null | sed 's/^/  /'
echo "salt m0001 test.ping: $($SALT --timeout=5 --out=txt m0001 test.ping 2>&1 | head -1)"
