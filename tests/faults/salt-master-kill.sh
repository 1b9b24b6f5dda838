#!/usr/bin/env bash
# Salt 3008.5 in fault scenario 3 (RELIABILITY.md), beside Brine's
# tests/e2e/faults.rs (master_kill_9_during_a_burst_completes_every_printed_job):
# inside a network namespace of its own, a Salt master and MINIONS (200)
# minions (started in batches; fewer if the host's memory runs short, and the
# script says so); once every minion answers test.ping, 20 jobs
# (`salt --async 'm*' test.ping`, one after the other); before the 11th the
# master (every process of it) is killed with kill -9, and the other 10
# publications are attempted while it is down, as in Brine's scenario; then
# the master is started again. For every jid `salt` printed, the returns in
# the job cache (its return.p files) are counted just before the kill and 5,
# 15, 30, 60 and 120 s after the restart began; every return event of the
# master's bus is recorded to count duplicates. Salt's default timings.
#
#   tests/faults/salt-master-kill.sh [MINIONS]   # as root
# SALT_KILL_RESTART_AT_ONCE=1: restart right after the kill, attempting no
# publication while the master is down (a shorter outage).
set -uo pipefail
N="${1:-200}"
BURST=20
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/lib.sh"
salt_fault_start kill "$N"
salt_minions_log_info
echo "memory before: $(salt_mem_available) MiB available"
salt_start_master
sleep 5
T_START=$(date +%s)
salt_start_minions "$N"
salt_memory_guard
salt_wait_answering "$STARTED" || { echo "only $UP of $STARTED minions answer; giving up"; exit 1; }
N=$STARTED
echo "up: $UP minions answer test.ping ($(( $(date +%s) - T_START )) s after the first minion started); $(salt_mem_available) MiB available"
salt_events_start
sleep 3

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }
PRINTED=()
REFUSED=0
for k in $(seq 1 $BURST); do
  if [ "$k" = $((BURST / 2 + 1)) ]; then
    echo "before the kill: returns stored per printed jid: $(salt_stored "${PRINTED[@]}" | awk '{print $2}' | tr '\n' ' ')"
    kill -9 $(salt_tree_pids "$MASTER") 2>/dev/null
    KILLED=$(now)
    sleep 0.5
    echo "master killed (kill -9, $(pgrep -fc "salt-master -c $RUN/master/conf") of its processes left)"
    [ "${SALT_KILL_RESTART_AT_ONCE:-0}" = 1 ] && break
  fi
  t1=$(now)
  out=$($SALT --async 'm*' test.ping 2>&1)
  jid=$(echo "$out" | sed -n 's/.*job ID: //p')
  if [ -n "$jid" ]; then
    PRINTED+=("$jid")
  else
    REFUSED=$((REFUSED + 1))
    echo "publication $k refused after $(secs "$t1") s: $(echo "$out" | tail -1)"
  fi
done
echo "${#PRINTED[@]} jids printed, $REFUSED publications refused"
kill "$EVENTS" 2>/dev/null
RESTARTED=$(now)
salt_start_master
echo "master restarted $(awk -v a="$KILLED" -v b="$RESTARTED" 'BEGIN{printf "%.1f", b-a}') s after the kill"
sleep 4
salt_events_start
want=$((${#PRINTED[@]} * N))
total() { salt_stored "${PRINTED[@]}" | awk '{s += $2} END {print s + 0}'; }
COMPLETE=""
for t in 5 15 30 60 120; do
  while awk -v a="$RESTARTED" -v b="$(now)" -v t="$t" 'BEGIN{exit !(b-a < t)}'; do
    if [ -z "$COMPLETE" ] && [ "$(total)" = "$want" ]; then COMPLETE=$(secs "$RESTARTED"); fi
    sleep 1
  done
  echo "--- $t s after the restart began: $(total) of $want returns of the printed jobs in the job cache; per jid: $(salt_stored "${PRINTED[@]}" | awk '{print $2}' | tr '\n' ' ')"
done
echo "all $want stored: ${COMPLETE:-not within 120 s} s after the restart began"
echo "missing returns (minion: count, whether it ran the job):"
salt_missing_report "$N" "${PRINTED[@]}"
echo "jobs complete (all $N returns): $(salt_stored "${PRINTED[@]}" | awk -v n="$N" '$2 == n' | wc -l) of ${#PRINTED[@]}"
echo "ret events on the master's bus for the printed jids (before the kill and after the restart): $(grep -cF -f <(printf '%s/ret/\n' "${PRINTED[@]}") "$RUN/events")"
echo "returns whose event fired more than once: $(grep -F -f <(printf '%s/ret/\n' "${PRINTED[@]}") "$RUN/events" | awk '{print $2}' | sort | uniq -d | wc -l)"
echo "test.ping after it all: $($SALT --timeout=30 --out=txt 'm*' test.ping 2>/dev/null | grep -c ': True$') of $N answer"
echo "the master's log (and the CLI's: the same file) at warning and above (counts per message):"
salt_log_summary "$RUN/master/log/master"
echo "minions' logs, info level and above (counts per message, all minions):"
salt_log_summary "$RUN"/minions/m*/log/minion
echo "memory at the end: $(salt_mem_available) MiB available"
