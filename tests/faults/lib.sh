# The set-up the Salt fault scripts share (sourced, not run): Salt 3008.5 from
# ../shared/salt-baseline, a network namespace of the script's own with only
# its loopback up, the baseline's configs for a master and MINIONS minions
# under a temp dir, and a trap that stops every process in PIDS, removes the
# namespace and unmounts a tmpfs left on the master's cache directory.
#
#   . "$HERE/lib.sh"; salt_fault_start NAME MINIONS
#
# Sets BASELINE, VENV, NS, RUN (the temp dir), PIDS (append each process you
# start), X (the prefix that runs a command inside the namespace) and SALT
# (the `salt` CLI of the master, inside it).
#
# For the scenarios with many minions (salt-loss.sh, salt-master-kill.sh):
# salt_start_master, salt_start_minions N (in batches, stopping at a memory
# floor: sets STARTED), salt_wait_answering N, salt_memory_guard,
# salt_events_start (ret events to $RUN/events), salt_stored JID... (returns in
# the master's job cache directory) and salt_tree_pids PID (a process and its
# descendants).

salt_fault_start() {
  local name=$1 minions=$2
  BASELINE="${SALT_BASELINE:-$HERE/../../../shared/salt-baseline}"
  VENV="${SALT_VENV:-$HOME/.cache/brine-salt-baseline/venv}"
  NS=brine-fault-salt-$$
  RUN=$(mktemp -d "/tmp/salt-$name-XXXX")
  PIDS=()
  trap salt_fault_cleanup EXIT
  ip netns add "$NS"
  ip -n "$NS" link set lo up
  SALT_RUN_DIR=$RUN bash "$BASELINE/cluster.sh" configs "$minions" >/dev/null
  X="ip netns exec $NS"
  SALT="$X $VENV/bin/salt -c $RUN/master/conf"
}

salt_fault_cleanup() {
  local all=() p
  disown -a 2>/dev/null  # no "Killed" line per process
  [ -n "${GUARD:-}" ] && kill "$GUARD" 2>/dev/null
  # A minion forks a process per job, the master a dozen: stop them all,
  # not only the ones started here.
  for p in "${PIDS[@]}"; do all+=($(salt_tree_pids "$p")); done
  [ ${#all[@]} -gt 0 ] && kill -TERM "${all[@]}" 2>/dev/null
  sleep 2
  [ ${#all[@]} -gt 0 ] && kill -KILL "${all[@]}" 2>/dev/null
  ip netns del "$NS" 2>/dev/null
  umount -l "$RUN/master/cache" 2>/dev/null
}

# PID and every descendant of it.
salt_tree_pids() {
  local c
  echo "$1"
  for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do salt_tree_pids "$c"; done
}

# MiB of memory available on the host (MemAvailable).
salt_mem_available() {
  awk '/^MemAvailable:/ {print int($2 / 1024)}' /proc/meminfo
}

# Start the master in the background; sets MASTER (its pid).
salt_start_master() {
  $X "$VENV/bin/salt-master" -c "$RUN/master/conf" >>"$RUN/master.out" 2>&1 &
  MASTER=$!
  PIDS+=($MASTER)
}

# Start minions m0001..mN in batches of SALT_BATCH (10), waiting for each
# batch's keys before the next so the two cores are not swamped, and stop
# early when less than SALT_MEM_FLOOR_MIB (6144) would remain available (the
# machine is shared). Sets STARTED (how many run).
salt_start_minions() {
  local n=$1 batch=${SALT_BATCH:-10} floor=${SALT_MEM_FLOOR_MIB:-6144} i id t
  STARTED=0
  for i in $(seq 1 "$n"); do
    if [ $((i % batch)) = 1 ] || [ "$batch" = 1 ]; then
      if [ "$(salt_mem_available)" -lt "$floor" ]; then
        echo "memory: $(salt_mem_available) MiB available, under the ${floor} MiB floor: stopping at $STARTED minions"
        return
      fi
    fi
    id=$(printf 'm%04d' "$i")
    $X "$VENV/bin/salt-minion" -c "$RUN/minions/$id/conf" >"$RUN/$id.out" 2>&1 &
    PIDS+=($!)
    STARTED=$i
    if [ $((i % batch)) = 0 ] || [ "$i" = "$n" ]; then
      for t in $(seq 1 120); do
        [ "$(salt_accepted)" -ge "$i" ] && break
        sleep 1
      done
      echo "  $i minions started, $(salt_accepted) keys accepted, $(salt_mem_available) MiB available"
    fi
  done
}

# How many minion keys the master accepted (auto_accept), from its pki dir.
salt_accepted() {
  ls "$RUN/master/pki/minions" 2>/dev/null | wc -l
}

# Ping every minion until N answer True (up to 10 minutes); sets UP.
salt_wait_answering() {
  local n=$1 t
  for t in $(seq 1 60); do
    UP=$($SALT --timeout=20 --out=txt 'm*' test.ping 2>/dev/null | grep -c ': True$')
    [ "$UP" -ge "$n" ] && return 0
    echo "  $UP of $n answer test.ping"
    sleep 5
  done
  return 1
}

# Watch the host's memory in the background: below SALT_MEM_ABORT_MIB (2048)
# available, kill every Salt process started here and say so (others use
# this machine).
salt_memory_guard() {
  local abort=${SALT_MEM_ABORT_MIB:-2048}
  (
    while sleep 1; do
      if [ "$(salt_mem_available)" -lt "$abort" ]; then
        echo "MEMORY GUARD: under ${abort} MiB available, killing the Salt cluster" >&2
        for p in "${PIDS[@]}"; do kill -KILL $(salt_tree_pids "$p") 2>/dev/null; done
        exit 1
      fi
    done
  ) &
  GUARD=$!
}

# Record every salt/job/<jid>/ret/<id> event of the master's bus, one
# "<time> <tag>" line each, to $RUN/events (appending); sets EVENTS (its pid).
salt_events_start() {
  $X "$VENV/bin/python3" "$HERE/salt-ret-events.py" "$RUN/master/conf" "$RUN/events" \
    >>"$RUN/events.out" 2>&1 &
  EVENTS=$!
  PIDS+=($EVENTS)
}

# The returns in the master's job cache (the local_cache returner's
# directory: jobs/<sha256(jid)[:2]>/<the rest>/<minion id>/return.p) of each
# JID given: "<jid> <count>" per line.
salt_stored() {
  local j h
  for j in "$@"; do
    h=$(printf %s "$j" | sha256sum | cut -c1-64)
    echo "$j $(ls "$RUN/master/cache/jobs/${h:0:2}/${h:2}"/*/return.p 2>/dev/null | wc -l)"
  done
}

# The records of Salt log files (their first lines, not tracebacks) counted
# per message, with times, pids, jids and minion ids blanked out.
salt_log_summary() {
  cat "$@" 2>/dev/null | grep -E '^[0-9]{4}-[0-9]{2}-[0-9]{2} ' |
    sed -E 's/^[0-9-]+ [0-9:,]+ //; s/\]\[[0-9]+\]/]/; s/[0-9]{20}/JID/g; s/m[0-9]{4}/MINION/g' |
    sort | uniq -c | sort -rn | head -10
}

# Minions log at info level, so their logs say which jobs they ran
# ("Executing command ... with jid ...") and returned.
salt_minions_log_info() {
  sed -i 's/^log_level_logfile: warning/log_level_logfile: info/' "$RUN"/minions/m*/conf/minion
}

# For each return of JIDs missing from the job cache (minions m0001..mN):
# whether that minion's log says it ran the job. A summary per minion.
salt_missing_report() {
  local n=$1 j h i
  shift
  for j in "$@"; do
    h=$(printf %s "$j" | sha256sum | cut -c1-64)
    for i in $(seq -f 'm%04g' 1 "$n"); do
      [ -f "$RUN/master/cache/jobs/${h:0:2}/${h:2}/$i/return.p" ] && continue
      if grep -q "with jid $j" "$RUN/minions/$i/log/minion" 2>/dev/null; then
        echo "$i ran"
      else
        echo "$i never-ran"
      fi
    done
  done | sort | uniq -c | awk '{printf "  %s: %d missing return(s), the job %s\n", $2, $1, ($3 == "ran" ? "ran (its log says so)" : "never ran (not in its log)")}'
}
