#!/usr/bin/env bash
# Regenerate every tests/conformance/cases/*/expected/*.json from real Salt 3008.5.
#
#   tests/conformance/capture.sh            # all cases
#   tests/conformance/capture.sh CASE ...   # some cases
#
# Salt comes from the baseline venv (/work/shared/salt-baseline/setup.sh installs it);
# override with SALT_CALL=/path/to/salt-call. Needs no network and binds no port
# (salt-call --local). Everything a case runs or writes lives in a temp dir that is
# removed afterwards (CONFORMANCE_KEEP=1 keeps it).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${SALT_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/brine-salt-baseline/venv}"
SALT_CALL="${SALT_CALL:-$VENV/bin/salt-call}"
[ -x "$SALT_CALL" ] || { echo "capture.sh: no salt-call at $SALT_CALL (run salt-baseline/setup.sh)" >&2; exit 2; }
version="$("$SALT_CALL" --version)"
case "$version" in
    *" 3008.5 "*) ;;
    *) echo "capture.sh: expected Salt 3008.5, found: $version" >&2; exit 2 ;;
esac
keep=()
[ "${CONFORMANCE_KEEP:-0}" = 1 ] && keep=(--keep)
umask 022
exec python3 "$HERE/capture.py" --salt-call "$SALT_CALL" "${keep[@]}" "$@"
