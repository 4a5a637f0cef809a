#!/usr/bin/env bash
# Issue 6 benchmark, workload W-N: N containers on one bridge, built and torn
# down by plumb (bench/containers.rhai, journal on), by the tutorial shell way
# (one `ip`/`iptables` process per command) and by `ip -batch` (peers created
# in their namespaces: the fastest shell form). Every build and teardown runs
# in a fresh sandbox, in turn (A B C A B C ...), and is checked: namespace
# count, bridge ports, and two containers pinging each other.
# Usage: bench/containers.sh [ROUNDS] [N...]   (root; default 3 rounds, N = 100 500)
set -euo pipefail
rounds=${1:-3}
shift || true
sizes=("${@:-100}")
[ $# -gt 0 ] || sizes=(100 500)
cd "$(dirname "$0")/.."
cargo build --release --quiet
plumb=$PWD/target/release/plumb
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Container I's address: host number I + 2 of 10.88.0.0/16, as the plumb script hands out.
container_ip() { echo "10.88.$((($1 + 2) / 256)).$((($1 + 2) % 256))"; }

# The tutorial way, one process per command (document 000's sequence).
shell_build() {
    local n=$1
    echo "ip link add plumb0 type bridge"
    echo "ip addr add 10.88.0.1/16 dev plumb0"
    echo "ip link set plumb0 up"
    for ((i = 0; i < n; i++)); do
        local ip
        ip=$(container_ip "$i")
        echo "ip netns add c$i"
        echo "ip link add vc$i type veth peer name ceth$i"
        echo "ip link set ceth$i netns c$i"
        echo "ip netns exec c$i ip link set ceth$i name eth0"
        echo "ip link set vc$i master plumb0"
        echo "ip link set vc$i up"
        echo "ip netns exec c$i ip addr add $ip/16 dev eth0"
        echo "ip netns exec c$i ip link set lo up"
        echo "ip netns exec c$i ip link set eth0 up"
        echo "ip netns exec c$i ip route add default via 10.88.0.1"
    done
    echo "iptables -t nat -A POSTROUTING -s 10.88.0.0/16 ! -o plumb0 -j MASQUERADE"
}
shell_teardown() {
    local n=$1
    echo "iptables -t nat -D POSTROUTING -s 10.88.0.0/16 ! -o plumb0 -j MASQUERADE"
    for ((i = 0; i < n; i++)); do echo "ip netns del c$i"; done
    echo "ip link del plumb0"
}
# ip -batch: one process for the host side, one per container for its inside.
batch_build() {
    local n=$1
    {
        echo "link add plumb0 type bridge"
        echo "addr add 10.88.0.1/16 dev plumb0"
        echo "link set plumb0 up"
        for ((i = 0; i < n; i++)); do
            echo "netns add c$i"
            echo "link add vc$i master plumb0 up type veth peer name eth0 netns c$i"
        done
    } >"$work/host.batch"
    echo "ip -batch $work/host.batch"
    for ((i = 0; i < n; i++)); do
        local ip
        ip=$(container_ip "$i")
        printf 'addr add %s/16 dev eth0\nlink set lo up\nlink set eth0 up\nroute add default via 10.88.0.1\n' "$ip" >"$work/c$i.batch"
        echo "ip -n c$i -batch $work/c$i.batch"
    done
    echo "iptables -t nat -A POSTROUTING -s 10.88.0.0/16 ! -o plumb0 -j MASQUERADE"
}
batch_teardown() {
    local n=$1
    {
        for ((i = 0; i < n; i++)); do echo "netns del c$i"; done
        echo "link del plumb0"
    } >"$work/down.batch"
    echo "iptables -t nat -D POSTROUTING -s 10.88.0.0/16 ! -o plumb0 -j MASQUERADE"
    echo "ip -batch $work/down.batch"
}

# Runs inside a sandbox: build, check, tear down, wait for the links to go.
# Prints "build_seconds teardown_seconds".
one_round() {
    set -euo pipefail
    local tool=$1 n=$2
    now() { date +%s.%N; }
    check() {
        [ "$(ls /run/netns | wc -l)" = "$n" ] || { echo "$tool: $(ls /run/netns | wc -l) namespaces, not $n" >&2; exit 1; }
        [ "$(ip -o link show master plumb0 | wc -l)" = "$n" ] || { echo "$tool: bridge ports wrong" >&2; exit 1; }
        ip netns exec c0 ping -c1 -W2 "10.88.$(((n + 1) / 256)).$(((n + 1) % 256))" >/dev/null || { echo "$tool: c0 cannot ping the last container" >&2; exit 1; }
    }
    links_gone() {
        while [ "$(ip -o link show type veth | wc -l)" != 0 ] || ip link show plumb0 >/dev/null 2>&1; do sleep 0.005; done
    }
    case $tool in
    plumb)
        t0=$(now); "$PLUMB" run --set n="$n" bench/containers.rhai 2>/dev/null; t1=$(now)
        check
        t2=$(now); "$PLUMB" rollback --last 2>/dev/null; links_gone; t3=$(now) ;;
    shell | batch)
        t0=$(now); sh -e "$WORK/$tool-build.sh"; t1=$(now)
        check
        t2=$(now); sh -e "$WORK/$tool-teardown.sh"; links_gone; t3=$(now) ;;
    esac
    [ -z "$(ls /run/netns)" ] || { echo "$tool: namespaces left after teardown" >&2; exit 1; }
    python3 -c "print($t1 - $t0, $t3 - $t2)"
}

results="$work/results"
for n in "${sizes[@]}"; do
    shell_build "$n" >"$work/shell-build.sh"
    shell_teardown "$n" >"$work/shell-teardown.sh"
    batch_build "$n" >"$work/batch-build.sh"
    batch_teardown "$n" >"$work/batch-teardown.sh"
    for ((r = 1; r <= rounds; r++)); do
        for tool in plumb shell batch; do
            # The kernel frees the previous sandbox's namespaces in the
            # background; let it finish so it does not slow the next build.
            sleep 5
            t=$(PLUMB=$plumb WORK=$work "$plumb" sandbox -- bash -c "$(declare -f one_round); one_round $tool $n")
            echo "$tool $n $t" >>"$results"
            echo "round $r: $tool W$n build/teardown $t" >&2
        done
    done
done
# An empty script: plumb's fixed cost.
echo "" >"$work/empty.rhai"
for ((r = 1; r <= 10; r++)); do
    t=$("$plumb" sandbox -- bash -c "s=\$(date +%s.%N); $plumb run $work/empty.rhai; e=\$(date +%s.%N); python3 -c \"print(\$e - \$s)\"")
    echo "empty 0 $t 0" >>"$results"
done

python3 - "$results" <<'PY'
import sys, statistics
from collections import defaultdict
runs = defaultdict(list)
for line in open(sys.argv[1]):
    tool, n, build, down = line.split()
    runs[(tool, int(n))].append((float(build), float(down)))
med = {k: (statistics.median(b for b, _ in v), statistics.median(d for _, d in v)) for k, v in runs.items()}
sizes = sorted({n for t, n in med if t != "empty"})
print(f"{'tool':<6} {'N':>4} {'build s':>9} {'teardown s':>11} {'build x':>8} {'teardown x':>11}   (medians; x = times plumb's)")
for n in sizes:
    pb, pd = med[("plumb", n)]
    for tool in ("plumb", "shell", "batch"):
        b, d = med[(tool, n)]
        print(f"{tool:<6} {n:>4} {b:>9.3f} {d:>11.3f} {b / pb:>8.1f} {d / pd:>11.1f}")
if len(sizes) >= 2:
    lo, hi = sizes[0], sizes[-1]
    for tool in ("plumb", "shell", "batch"):
        (b0, d0), (b1, d1) = med[(tool, lo)], med[(tool, hi)]
        print(f"growth W{lo} -> W{hi} {tool:<6} build x{b1 / b0:.2f}  teardown x{d1 / d0:.2f}")
print(f"plumb run of an empty script: {med[('empty', 0)][0] * 1000:.1f} ms (median of {len(runs[('empty', 0)])})")
PY
