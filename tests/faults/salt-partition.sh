#!/usr/bin/env bash
# Salt 3008.5 in fault scenario 2 (RELIABILITY.md), for the side-by-side with
# Brine's tests/e2e/faults.rs: inside a network namespace of its own, a Salt
# master (0.0.0.0: the namespace holds only a loopback) and two minions, m0001
# reaching it at 127.0.0.2 and m0002 at 127.0.0.3. m0001 is cut off (iptables
# DROP to and from 127.0.0.2) for CUT seconds while jobs are published to '*';
# each job appends "K <time>" to runs/<minion id>, so what each minion ran,
# how often and when is on disk. Then the job cache is read
# (salt-run jobs.lookup_jid) 5, 15, 30 and 60 s after the heal.
#
#   tests/faults/salt-partition.sh CUT     # as root; Salt from ../shared/salt-baseline
set -uo pipefail
CUT="${1:?usage: salt-partition.sh CUT_SECONDS}"
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/lib.sh"
salt_fault_start partition 2
sed -i 's/^interface: 127.0.0.1/interface: 0.0.0.0/' "$RUN/master/conf/master"
sed -i 's/^master: 127.0.0.1/master: 127.0.0.2/' "$RUN/minions/m0001/conf/minion"
sed -i 's/^master: 127.0.0.1/master: 127.0.0.3/' "$RUN/minions/m0002/conf/minion"
mkdir -p "$RUN/runs"
$X "$VENV/bin/salt-master" -c "$RUN/master/conf" >"$RUN/master.out" 2>&1 &
PIDS+=($!)
sleep 3
for m in m0001 m0002; do
  $X "$VENV/bin/salt-minion" -c "$RUN/minions/$m/conf" >"$RUN/$m.out" 2>&1 &
  PIDS+=($!)
done
for _ in $(seq 1 60); do
  n=$($SALT --timeout=5 --out=txt '*' test.ping 2>/dev/null | grep -c ': True$')
  [ "$n" = 2 ] && break
  sleep 1
done
echo "up: $n minions answer"
pub() {
  $SALT --async '*' cmd.run "echo $1 \$(date +%s.%N) >> $RUN/runs/{{ grains.id }}" template=jinja |
    sed -n 's/.*job ID: //p'
}
JIDS=()
for k in 0 1; do JIDS+=($(pub $k)); done
sleep 1
$X iptables -A INPUT -d 127.0.0.2 -j DROP
$X iptables -A INPUT -s 127.0.0.2 -j DROP
T0=$(date +%s.%N)
for k in 2 3 4 5 6; do
  sleep "$(awk -v c="$CUT" 'BEGIN{print c/6}')"
  JIDS+=($(pub $k))
done
while awk -v a="$T0" -v b="$(date +%s.%N)" -v c="$CUT" 'BEGIN{exit !(b-a < c)}'; do sleep 0.2; done
$X iptables -F INPUT
HEAL=$(date +%s.%N)
echo "healed after $(awk -v a="$T0" -v b="$HEAL" 'BEGIN{printf "%.1f", b-a}') s; jids: ${JIDS[*]}"
last=0
for t in 5 15 30 60; do
  sleep $((t - last))
  last=$t
  ran() { cut -d' ' -f1 "$RUN/runs/$1" 2>/dev/null | sort -n | tr '\n' ' '; }
  echo "--- $t s after the heal: m0001 ran: $(ran m0001)| m0002 ran: $(ran m0002)"
  stored=0
  for j in "${JIDS[@]}"; do
    $X "$VENV/bin/salt-run" -c "$RUN/master/conf" --out=json jobs.lookup_jid "$j" 2>/dev/null |
      grep -q '"m0001"' && stored=$((stored + 1))
  done
  echo "    job cache: m0001's return stored for $stored of ${#JIDS[@]} jobs"
done
echo "m0001 ran (job, seconds after the heal):"
awk -v h="$HEAL" '{printf "  %s %.1f\n", $1, $2-h}' "$RUN/runs/m0001"
echo "m0001's log at warning and above:"
grep -v 'Task was destroyed\|^task:' "$RUN/minions/m0001/log/minion" 2>/dev/null | tail -5
