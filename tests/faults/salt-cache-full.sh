#!/usr/bin/env bash
# Salt 3008.5 in fault scenario 5 (RELIABILITY.md), beside Brine's
# tests/e2e/faults.rs: the master's cachedir (its job cache) on a 16 MiB
# tmpfs, filled up while the returns of 5 jobs (cmd.run 'sleep 2') are on
# their way; then new jobs; then the space comes back. What `salt` and the
# master say, and what the job cache holds afterwards.
#
#   tests/faults/salt-cache-full.sh      # as root; Salt from ../shared/salt-baseline
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/lib.sh"
salt_fault_start full 1
mount -t tmpfs -o size=16m,mode=0700 tmpfs "$RUN/master/cache"
lookup() { $X "$VENV/bin/salt-run" -c "$RUN/master/conf" --out=json jobs.lookup_jid "$1" 2>/dev/null | grep -q '"m0001"'; }
stored() { local n=0 j; for j in "$@"; do lookup "$j" && n=$((n + 1)); done; echo "$n of $#"; }
$X "$VENV/bin/salt-master" -c "$RUN/master/conf" >"$RUN/master.out" 2>&1 &
PIDS+=($!)
sleep 3
$X "$VENV/bin/salt-minion" -c "$RUN/minions/m0001/conf" >"$RUN/m0001.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 60); do
  $SALT --timeout=5 --out=txt m0001 test.ping 2>/dev/null | grep -q ': True$' && break
  sleep 1
done
JIDS=()
for _ in 1 2 3 4 5; do JIDS+=($($SALT --async m0001 cmd.run 'sleep 2' | sed -n 's/.*job ID: //p')); done
sleep 0.3
dd if=/dev/zero of="$RUN/master/cache/filler" bs=64k 2>/dev/null
echo "filled: $(df -h "$RUN/master/cache" | tail -1)"
ACCEPTED=()
for k in $(seq 1 20); do
  out=$($SALT --async m0001 test.ping 2>&1)
  jid=$(echo "$out" | sed -n 's/.*job ID: //p')
  if [ -n "$jid" ]; then ACCEPTED+=("$jid"); else echo "publication $k refused: $out"; break; fi
done
echo "${#ACCEPTED[@]} publications accepted on the full disk"
sleep 5
echo "salt m0001 test.ping on the full disk: $($SALT --timeout=5 --out=txt m0001 test.ping 2>&1 | tr '\n' ' ')"
echo "returns of the 5 jobs in flight when the disk filled: $(stored "${JIDS[@]}")"
echo "returns of the jobs accepted on the full disk: $(stored "${ACCEPTED[@]}")"
echo "the master's log:"
grep -v 'Task was destroyed\|^task:' "$RUN/master/log/master" | grep -i "space\|errno\|error" | cut -c1-220 | sort | uniq -c | sort -rn | head -5
rm -f "$RUN/master/cache/filler"
sleep 15
echo "15 s after the space came back:"
echo "  returns of the 5 jobs in flight: $(stored "${JIDS[@]}")"
echo "  returns of the jobs accepted on the full disk: $(stored "${ACCEPTED[@]}")"
echo "  salt m0001 test.ping: $($SALT --timeout=5 --out=txt m0001 test.ping 2>&1 | tr '\n' ' ')"
