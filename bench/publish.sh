#!/usr/bin/env bash
# Issue 3 benchmark: N port publications applied and rolled back by plumb
# (one journaled iptables-restore batch) against the same rules applied and
# deleted with one iptables process per rule, each round in a fresh sandbox.
# Usage: bench/publish.sh [N] [ROUNDS]      (needs root; builds --release)
# SHELL_MAX (default 1000): the rule-by-rule comparison only up to this N
# (deleting rule by rule is quadratic: 1000 publications already take a minute).
set -euo pipefail
n=${1:-1000}
rounds=${2:-5}
shell_max=${SHELL_MAX:-1000}
cd "$(dirname "$0")/.."
cargo build --release --quiet
plumb=$PWD/target/release/plumb

# One round, run inside a sandbox; prints six timestamps around the four phases.
round() {
    set -euo pipefail
    now() { date +%s.%N; }
    export PLUMB_STATE_DIR=/run/plumb
    t0=$(now)
    "$plumb" run --set n="$n" bench/publish.rhai >/dev/null 2>/tmp/plumb.log || { cat /tmp/plumb.log >&2; exit 1; }
    t1=$(now)
    "$plumb" rollback --last >/dev/null 2>>/tmp/plumb.log || { cat /tmp/plumb.log >&2; exit 1; }
    t2=$(now)
    [ "$(iptables-save | grep -c -- '--comment')" = 0 ] || { echo "rules left after rollback" >&2; exit 1; }
    if [ "$n" -gt "$shell_max" ]; then echo "$t0 $t1 $t2"; return; fi
    # The same rules as shell commands: plumb's dry run is that text.
    "$plumb" run --dry-run --set n="$n" bench/publish.rhai >/tmp/apply.sh
    grep -- ' -A PLUMB-' /tmp/apply.sh | sed 's/ -A PLUMB-/ -D PLUMB-/' >/tmp/delete.sh
    t3=$(now)
    sh /tmp/apply.sh
    t4=$(now)
    sh -e /tmp/delete.sh
    t5=$(now)
    rules=$(grep -c -- ' -A PLUMB-' /tmp/apply.sh)
    [ "$rules" = $((3 * n)) ] || { echo "expected $((3 * n)) rules, dry run has $rules" >&2; exit 1; }
    echo "$t0 $t1 $t2 $t3 $t4 $t5"
}

results=()
for ((r = 1; r <= rounds; r++)); do
    results+=("$("$plumb" sandbox -- bash -c "$(declare -f round); n=$n plumb=$plumb shell_max=$shell_max; round")")
done
printf '%s\n' "${results[@]}" | python3 -c '
import sys, statistics
stamps = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
rows = [(t[1] - t[0], t[2] - t[1]) + ((t[4] - t[3], t[5] - t[4]) if len(t) == 6 else ()) for t in stamps]
med = [statistics.median(c) for c in zip(*rows)]
n = '"$n"'
print(f"{n} publications ({3*n} rules), median of {len(rows)} rounds:")
print(f"  plumb   apply {med[0]:.3f} s   rollback {med[1]:.3f} s")
if len(med) == 4:
    print(f"  shell   apply {med[2]:.3f} s   delete   {med[3]:.3f} s   (one iptables process per rule)")
    print(f"  plumb is {med[2]/med[0]:.0f}x faster to apply, {med[3]/med[1]:.0f}x to undo")
'
