#!/usr/bin/env bash
# The Debian packages' life on this host (issue 18), as root: build them
# (pkg/build-debs.sh, debug profile), install them with dpkg -i, check the
# installed units with systemd-analyze verify, `man -w brine` and the bash
# completion, run the installed binaries against configs in a temp dir (a
# master and a minion on 127.0.0.1, auto-accept, `brine '*' test.ping`
# answers), then purge all three and check nothing is left behind.
#
#   tests/packaging/install-purge.sh
#
# Under CI=true it installs what it needs (systemd for systemd-analyze,
# man-db) with apt-get; elsewhere a missing tool skips its step and says so.
# It refuses to run when a brine package is already installed, since the
# purge would take that one away.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/brine-ci-target}"
packages=(brine-api brine-minion brine-master)

fail() { echo "install-purge: FAIL: $*" >&2; exit 1; }
step() { echo "install-purge: $*"; }

[ "$(id -u)" = 0 ] || fail "run as root (dpkg -i)"
for p in "${packages[@]}"; do
	if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		fail "$p is already installed; this test would purge it"
	fi
done

# A tool the test needs: installed under CI, else the step is skipped.
have_or_install() {
	local tool="$1" package="$2"
	command -v "$tool" >/dev/null && return 0
	if [ "${CI:-}" = true ]; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$package" >/dev/null
		command -v "$tool" >/dev/null && return 0
	fi
	return 1
}

work="$(mktemp -d)"
master_pid="" minion_pid="" installed=""
cleanup() {
	[ -n "$minion_pid" ] && kill "$minion_pid" 2>/dev/null || true
	[ -n "$master_pid" ] && kill "$master_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	# A failed run must not leave the packages behind: the next run would
	# refuse to start (a purge after the test's own purge changes nothing).
	[ -n "$installed" ] && dpkg --purge "${packages[@]}" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

step "building the packages"
mapfile -t debs < <("$repo/pkg/build-debs.sh" --profile debug --out "$work/debs")
[ "${#debs[@]}" = 3 ] || fail "expected 3 packages, got: ${debs[*]}"

step "dpkg -i ${debs[*]##*/}"
installed=yes
dpkg -i "${debs[@]}" >"$work/dpkg-install.log" 2>&1 || { cat "$work/dpkg-install.log"; fail "dpkg -i"; }

units=(/lib/systemd/system/brine-master.service /lib/systemd/system/brine-minion.service
	/lib/systemd/system/brine-api.service)
for u in "${units[@]}"; do [ -f "$u" ] || fail "$u not installed"; done

# What brine-ssh copies to hosts: static, so any x86-64 Linux runs it.
for b in brine-call brine-minion; do
	static="/usr/lib/brine/ssh/$b"
	[ -x "$static" ] || fail "$static not installed"
	if readelf -l "$static" | grep -q 'INTERP'; then fail "$static is dynamically linked"; fi
	"$static" --version >/dev/null || fail "$static does not run"
done
step "brine-ssh's static brine-call and brine-minion installed"

man_ok=false
if have_or_install man man-db; then
	man -w brine >/dev/null || fail "man -w brine finds no page"
	for b in brine brine-key brine-run brine-cp brine-ssh brine-master brine-minion brine-call brine-api; do
		man -w "$b" >/dev/null || fail "man -w $b finds no page"
	done
	man_ok=true
	step "man pages found (man -w brine: $(man -w brine))"
else
	step "SKIPPED: man is not installed (CI=true installs man-db)"
fi

if have_or_install systemd-analyze systemd; then
	if [ "$man_ok" = true ]; then
		systemd-analyze verify "${units[@]}" || fail "systemd-analyze verify"
	else
		# Without man, verify fails on Documentation=man:...; check the rest.
		systemd-analyze verify --man=no "${units[@]}" || fail "systemd-analyze verify"
	fi
	step "systemd-analyze verify: the three units are valid"
else
	step "SKIPPED: systemd-analyze is not installed (CI=true installs systemd)"
fi

for f in /usr/share/bash-completion/completions/brine /usr/share/zsh/vendor-completions/_brine \
	/usr/share/fish/vendor_completions.d/brine.fish /usr/share/bash-completion/completions/brine-call; do
	[ -s "$f" ] || fail "$f missing or empty"
done
grep -q -- '--timeout' /usr/share/bash-completion/completions/brine || fail "brine's bash completion lacks --timeout"
bash -n /usr/share/bash-completion/completions/brine || fail "brine's bash completion is not valid bash"
for f in /usr/share/bash-completion/completions/brine /usr/share/zsh/vendor-completions/_brine \
	/usr/share/fish/vendor_completions.d/brine.fish; do
	grep -q -- '--complete-functions' "$f" || fail "$f does not complete function names"
done
step "completions installed"

# The installed binaries, on configs in the temp dir.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pub_port="$(free_port)"
ret_port="$(free_port)"
mkdir -p "$work/master" "$work/minion"
cat >"$work/master/master" <<CONF
root_dir: $work/master-root
interface: 127.0.0.1
publish_port: $pub_port
ret_port: $ret_port
auto_accept: True
CONF
cat >"$work/minion/minion" <<CONF
root_dir: $work/minion-root
id: packaged-minion
master: 127.0.0.1
master_port: $ret_port
acceptance_wait_time: 0.3
CONF
/usr/bin/brine-master -c "$work/master" >"$work/master.out" 2>"$work/master.err" &
master_pid=$!
/usr/bin/brine-minion -c "$work/minion" >"$work/minion.out" 2>"$work/minion.err" &
minion_pid=$!
answered=false
for _ in $(seq 60); do
	if out="$(/usr/bin/brine -c "$work/master" -t 5 --out json '*' test.ping 2>&1)" &&
		echo "$out" | grep -q '"packaged-minion": true'; then
		answered=true
		break
	fi
	sleep 1
done
[ "$answered" = true ] || fail "test.ping got no answer: $out
--- master:
$(tail -20 "$work/master.err")
--- minion:
$(tail -20 "$work/minion.err")"
/usr/bin/brine-key -c "$work/master" -L | grep -q packaged-minion || fail "brine-key does not list the minion"
step "the installed master and minion answer test.ping"
kill "$minion_pid" "$master_pid"
wait "$minion_pid" "$master_pid" 2>/dev/null || true
master_pid="" minion_pid=""

# What the daemons and an admin leave: logs, keys, cache, extra config.
mkdir -p /var/log/brine /var/cache/brine/master /var/lib/brine/minion /etc/brine/pki/master/minions
echo old >/var/log/brine/master.1
echo new >/var/log/brine/minion
echo key >/etc/brine/pki/master/minions/web1
mkdir -p /etc/brine/master.d
echo "timeout: 9" >/etc/brine/master.d/local.conf
echo "roles: [web]" >/etc/brine/grains

step "dpkg --purge ${packages[*]}"
dpkg --purge "${packages[@]}" >"$work/dpkg-purge.log" 2>&1 || { cat "$work/dpkg-purge.log"; fail "dpkg --purge"; }
for p in "${packages[@]}"; do
	if dpkg -L "$p" >/dev/null 2>&1; then fail "dpkg -L $p still lists files"; fi
	if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed\|config-files'; then
		fail "$p is still known to dpkg"
	fi
done
for path in /etc/brine /var/lib/brine /var/log/brine /var/cache/brine /run/brine \
	/usr/bin/brine /usr/bin/brine-master /usr/bin/brine-minion /usr/bin/brine-api /usr/lib/brine \
	"${units[@]}" /etc/logrotate.d/brine-master /usr/share/man/man1/brine.1.gz \
	/usr/share/bash-completion/completions/brine; do
	[ ! -e "$path" ] || fail "$path is left after the purge"
done
step "purged: nothing left"
echo "install-purge: 1 passed, 0 failed"
