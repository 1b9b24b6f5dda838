#!/usr/bin/env bash
# Build every fuzz target (nightly, cargo-fuzz) and run each in turn until it
# has executed MAX_RUNS inputs or run for SECONDS, whichever comes first, from
# the seeds in fuzz/seeds/<target> (copied to a scratch corpus: nothing the
# fuzzer finds is written into the repository). A crash stops the run and
# leaves its input under fuzz/artifacts/<target>/; turn it into a
# regression test beside the code it broke.
#
#   fuzz/run.sh                      # every target, 10M runs or 30 min each
#   fuzz/run.sh 60 100000            # a quick pass
#   TARGETS="wire_frames salt_yaml" fuzz/run.sh
#
# Needs: rustup's nightly toolchain and `cargo install cargo-fuzz`.
# Prints one line per target: target, executions, seconds, peak RSS; the
# same lines go to fuzz/RESULTS.md with the date and the commit.
set -euo pipefail

seconds=${1:-1800}
max_runs=${2:-10000000}
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/brine-fuzz-target}"
# libgit2 (linked through brine-master) defines llhttp's `lookup_table` in two
# C files; AddressSanitizer's one-definition-rule check stops every target
# that links it at start-up. It is libgit2's, not a finding in our code.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_odr_violation=0}"
# Known leak reports that are not ours (see the file).
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$here/lsan.supp}"
targets=${TARGETS:-$(cargo +nightly fuzz list)}

cargo +nightly fuzz build -O >&2
bin_dir="$CARGO_TARGET_DIR/$(rustc +nightly -vV | sed -n 's/^host: //p')/release"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
results="$scratch/results"
: > "$results"
for t in $targets; do
  corpus="$scratch/corpus-$t"
  mkdir -p "$corpus"
  cp "$here/seeds/$t"/* "$corpus/" 2>/dev/null || true
  log="$scratch/$t.log"
  start=$(date +%s)
  # The binaries built above, run directly: `cargo fuzz run` would rebuild
  # whenever the tree changed meanwhile.
  mkdir -p "$here/artifacts/$t"
  if ! "$bin_dir/$t" "$corpus" -artifact_prefix="$here/artifacts/$t/" \
      -runs="$max_runs" -max_total_time="$seconds" -rss_limit_mb=2048 \
      -malloc_limit_mb=1024 -max_len=65536 -print_final_stats=1 > "$log" 2>&1; then
    echo "fuzz target $t failed; its log:" >&2
    tail -40 "$log" >&2
    exit 1
  fi
  took=$(( $(date +%s) - start ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
  line="$t: ${execs:-?} executions in ${took} s, peak RSS ${rss:-?} MB, no crash"
  echo "$line"
  echo "$line" >> "$results"
done

# RESULTS.md keeps one line per target: a run replaces the lines of the
# targets it ran and keeps the others.
commit=$(git -C "$here" rev-parse --short HEAD)
today=$(date -u +%Y-%m-%d)
old_lines=$(grep '^- ' "$here/RESULTS.md" 2>/dev/null || true)
{
  echo "# Fuzzing results"
  echo
  echo "One line per target, from \`fuzz/run.sh\` on a $(nproc)-core machine: executions until"
  echo "the target reached its run or time limit, with the date and commit of that run."
  echo
  while read -r line; do
    [ -n "$line" ] || continue
    name=${line#- }; name=${name%%:*}
    grep -q "^$name:" "$results" || echo "$line"
  done <<< "$old_lines"
  sed "s/^/- /; s/\$/ ($today, $commit, limits $max_runs runs or $seconds s)/" "$results"
} > "$scratch/RESULTS.md"
cp "$scratch/RESULTS.md" "$here/RESULTS.md"
