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
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  sleep 2
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
  ip netns del "$NS" 2>/dev/null
  umount -l "$RUN/master/cache" 2>/dev/null
}
