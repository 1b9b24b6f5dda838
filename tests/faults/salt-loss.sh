#!/usr/bin/env bash
# Salt 3008.5 in fault scenarios 1a/1b (RELIABILITY.md), beside Brine's
# tests/e2e/faults.rs (burst_under_loss): inside a network namespace of its
# own, a Salt master and MINIONS (50) minions; once every minion answers
# test.ping, P% of the TCP packets on the master's two ports (14505 publish,
# 14506 return) are dropped, in both directions, with the rule Brine's
# scenario uses (iptables INPUT, -m statistic --mode random); then 20 jobs
# (`salt --async 'm*' test.ping`, one after the other) and the job cache is
# counted (the return.p files of those jids) 5, 15, 30, 60 and 120 s after the
# last jid was printed, with every return event of the master's bus recorded
# to count how often each return arrived. Salt's default timings.
#
#   tests/faults/salt-loss.sh P [MINIONS]   # as root; P = 10 or 30
set -uo pipefail
P="${1:?usage: salt-loss.sh PERCENT [MINIONS]}"
N="${2:-50}"
BURST=20
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/lib.sh"
salt_fault_start loss "$N"
salt_minions_log_info
echo "memory before: $(salt_mem_available) MiB available"
salt_start_master
sleep 5
salt_start_minions "$N"
salt_memory_guard
salt_wait_answering "$STARTED" || { echo "only $UP of $STARTED minions answer; giving up"; exit 1; }
N=$STARTED
echo "up: $UP minions answer test.ping; $(salt_mem_available) MiB available"
salt_events_start
sleep 3

t1=$(date +%s.%N)
CLEAN_JID=$($SALT --async 'm*' test.ping 2>&1 | sed -n 's/.*job ID: //p')
CLEAN_TOOK=$(awk -v a="$t1" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
sleep 5
PROB=$(awk -v p="$P" 'BEGIN{print p / 100}')
$X iptables -A INPUT -p tcp -m multiport --ports 14505,14506 \
  -m statistic --mode random --probability "$PROB" -j DROP
T0=$(date +%s.%N)
JIDS=()
TOOK=()
for k in $(seq 1 $BURST); do
  t1=$(date +%s.%N)
  out=$($SALT --async 'm*' test.ping 2>&1)
  TOOK+=($(awk -v a="$t1" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'))
  jid=$(echo "$out" | sed -n 's/.*job ID: //p')
  if [ -n "$jid" ]; then JIDS+=("$jid"); else echo "publication $k refused: $(echo "$out" | tail -1)"; fi
done
BURST_END=$(date +%s.%N)
echo "burst: ${#JIDS[@]} of $BURST jids printed in $(awk -v a="$T0" -v b="$BURST_END" 'BEGIN{printf "%.1f", b-a}') s"
echo "  each salt --async took (s): ${TOOK[*]}"
echo "  (the same publication without loss, before the rule, took ${CLEAN_TOOK} s)"
want=$((${#JIDS[@]} * N))
since() { awk -v a="$BURST_END" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'; }
total() { salt_stored "${JIDS[@]}" | awk '{s += $2} END {print s + 0}'; }
COMPLETE=""
for t in 0 5 15 30 60 120; do
  while awk -v a="$BURST_END" -v b="$(date +%s.%N)" -v t="$t" 'BEGIN{exit !(b-a < t)}'; do
    if [ -z "$COMPLETE" ] && [ "$(total)" = "$want" ]; then COMPLETE=$(since); fi
    sleep 0.5
  done
  echo "--- $t s after the burst: $(total) of $want returns in the job cache; $($X iptables -L INPUT -v -n -x | awk '/DROP/ {print $1}') packets dropped so far"
done
echo "all $want stored: ${COMPLETE:-not within 120 s} s after the burst"
$X iptables -F INPUT
HEALED=$(date +%s.%N)
echo "the loss rule removed; missing returns (minion: count, whether it ran the job):"
salt_missing_report "$N" "${JIDS[@]}"
sleep 30
echo "30 s after the rule was removed: $(total) of $want returns in the job cache"
echo "returns stored per jid: $(salt_stored "${JIDS[@]}" | awk '{print $2}' | tr '\n' ' ')"
sleep 2
echo "ret events on the master's bus for these jids: $(grep -cF -f <(printf '%s/ret/\n' "${JIDS[@]}") "$RUN/events")"
echo "returns whose event fired more than once: $(grep -F -f <(printf '%s/ret/\n' "${JIDS[@]}") "$RUN/events" | awk '{print $2}' | sort | uniq -d | wc -l)"
echo "the master's log (and the CLI's: the same file) at warning and above (counts per message):"
salt_log_summary "$RUN/master/log/master"
echo "minions' logs, info level and above (counts per message, all minions):"
salt_log_summary "$RUN"/minions/m*/log/minion
echo "memory at the end: $(salt_mem_available) MiB available"
