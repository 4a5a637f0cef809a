#!/usr/bin/env bash
# Compares ways of building and tearing down W-N with the floor program, each
# round in a fresh sandbox, variants in turn (A B C A B C ...), with the same
# check as bench/containers.sh. A variant is LABEL=UP-FLAGS/DOWN-FLAGS, e.g.
#   bench/floor/variants.sh 3 1000 base=/ nosnoop=--snooping-off/ split="--per-bridge 250/--per-bridge 250"
# Prints each round's phase timings and, per variant, the median build and
# teardown (wall time of `floor up` and of `floor down` until no link is left).
# Usage: bench/floor/variants.sh ROUNDS N VARIANT...   (root; SETTLE: seconds of
# quiet after the kernel has freed a round's namespaces, default 2)
set -euo pipefail
rounds=$1 n=$2
shift 2
cd "$(dirname "$0")/../.."
cargo build --release --quiet
cargo build --release --quiet --manifest-path bench/floor/Cargo.toml
plumb=$PWD/target/release/plumb
floor=$PWD/bench/floor/target/release/floor
results=$(mktemp)
trap 'rm -f "$results"' EXIT

one_round() {
    set -euo pipefail
    local n=$1 up=$2 down=$3
    now() { date +%s.%N; }
    t0=$(now); $FLOOR up "$n" $up; t1=$(now)
    [ "$(ls /run/netns | wc -l)" = "$n" ] || { echo "$(ls /run/netns | wc -l) namespaces, not $n" >&2; exit 1; }
    ports=$(ip -o link show type veth | grep -c ' master plumb')
    [ "$ports" = "$n" ] || { echo "$ports bridge ports, not $n" >&2; exit 1; }
    last=$(ip netns exec "c$((n - 1))" ip -4 -o addr show eth0 | awk '{print $4}')
    ip netns exec c0 ping -c1 -W2 "${last%/*}" >/dev/null || { echo "c0 cannot ping $last" >&2; exit 1; }
    t2=$(now); $FLOOR down "$n" $down; t3=$(now)
    [ -z "$(ip -o link show type veth)$(ls /run/netns)" ] || { echo "links or namespaces left" >&2; exit 1; }
    python3 -c "print($t1 - $t0, $t3 - $t2)"
}

# As in bench/containers.sh: wait for the kernel to free a round's namespaces.
netns_objects() { awk '$1 == "net_namespace" {print $2}' /proc/slabinfo; }
settle_after() {
    for ((w = 0; w < 1200; w++)); do
        [ "$(netns_objects)" -gt $(($1 + 10)) ] || break
        sleep 0.1
    done
    sleep "${SETTLE:-2}"
}

for ((r = 1; r <= rounds; r++)); do
    for v in "$@"; do
        label=${v%%=*} flags=${v#*=}
        before=$(netns_objects)
        t=$(FLOOR=$floor "$plumb" sandbox -- bash -c "$(declare -f one_round); one_round $n '${flags%%/*}' '${flags#*/}'")
        echo "$label $t" >>"$results"
        echo "round $r $label: $t" >&2
        settle_after "$before"
    done
done
python3 - "$results" "$n" <<'PY'
import sys, statistics
from collections import defaultdict
runs = defaultdict(list)
for line in open(sys.argv[1]):
    label, b, d = line.split()
    runs[label].append((float(b), float(d)))
first = next(iter(runs))
b0 = statistics.median(b for b, _ in runs[first])
d0 = statistics.median(d for _, d in runs[first])
print(f"W{sys.argv[2]}, medians of {len(runs[first])} rounds; x = time / {first}'s")
for label, v in runs.items():
    b = statistics.median(x for x, _ in v)
    d = statistics.median(x for _, x in v)
    print(f"{label:<14} build {b:.3f} s (x{b / b0:.2f})  teardown {d:.3f} s (x{d / d0:.2f})   builds {' '.join(f'{x:.2f}' for x, _ in v)}")
PY
