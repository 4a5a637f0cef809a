#!/usr/bin/env bash
# Issues 6 and 17 benchmark, workload W-N: N containers on bridges of at most
# PER_BRIDGE ports (bridge k: plumbK, 10.(88+k).0.0/16; see bench/containers.rhai),
# built and torn down by
#   plumb    bench/containers.rhai, journal on (peak RSS and journal size reported)
#   floor    bench/floor: the same kernel work and end state, nothing else
#   shell    the tutorial way, one `ip`/`iptables` process per command
#   batch    `ip -batch` (peers created in their namespaces): the fastest shell form
#   netavark netavark 1.4 as Podman runs it: one `netavark setup` per container
# Every build and teardown runs in a fresh sandbox, tools in turn (A B C A B C
# ...), and is checked: namespace count, bridge ports, c0 pinging the last
# container (across bridges when there are several). Teardown lasts until the
# kernel has removed every link.
# Usage: bench/containers.sh [ROUNDS] [N...]   (root; default 3 rounds, N = 100 500)
# Environment: TOOLS (default "plumb floor shell batch netavark"), PER_BRIDGE
# (default 1000), SLOW_MAX (default 1000: shell and netavark only up to this N),
# SETTLE (seconds of quiet after the kernel has freed a round's namespaces, default 2).
set -euo pipefail
rounds=${1:-3}
shift || true
sizes=("${@:-100}")
[ $# -gt 0 ] || sizes=(100 500)
read -ra tools <<<"${TOOLS:-plumb floor shell batch netavark}"
per_bridge=${PER_BRIDGE:-1000}
slow_max=${SLOW_MAX:-1000}
settle=${SETTLE:-2}
cd "$(dirname "$0")/.."
cargo build --release --quiet
cargo build --release --quiet --manifest-path bench/floor/Cargo.toml
plumb=$PWD/target/release/plumb
floor=$PWD/bench/floor/target/release/floor
netavark=/usr/lib/podman/netavark
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The layout of bench/containers.rhai: container I is on bridge I / PER_BRIDGE,
# host number I % PER_BRIDGE + 2 of that bridge's subnet.
bridges() { echo $((($1 + per_bridge - 1) / per_bridge > 1 ? ($1 + per_bridge - 1) / per_bridge : 1)); }
octet() { echo $((88 + $1)); }
container_ip() {
    local h=$(($1 % per_bridge + 2))
    echo "10.$(octet $(($1 / per_bridge))).$((h / 256)).$((h % 256))"
}

# The tutorial way, one process per command (document 000's sequence).
shell_build() {
    local n=$1 k
    for ((k = 0; k < $(bridges "$n"); k++)); do
        echo "ip link add plumb$k type bridge"
        echo "ip addr add 10.$(octet $k).0.1/16 dev plumb$k"
        echo "ip link set plumb$k up"
    done
    for ((i = 0; i < n; i++)); do
        local ip
        ip=$(container_ip "$i")
        echo "ip netns add c$i"
        echo "ip link add vc$i type veth peer name ceth$i"
        echo "ip link set ceth$i netns c$i"
        echo "ip netns exec c$i ip link set ceth$i name eth0"
        echo "ip link set vc$i master plumb$((i / per_bridge))"
        echo "ip link set vc$i up"
        echo "ip netns exec c$i ip addr add $ip/16 dev eth0"
        echo "ip netns exec c$i ip link set lo up"
        echo "ip netns exec c$i ip link set eth0 up"
        echo "ip netns exec c$i ip route add default via 10.$(octet $((i / per_bridge))).0.1"
    done
    echo "sysctl -qw net.ipv4.ip_forward=1"
    for ((k = 0; k < $(bridges "$n"); k++)); do
        echo "iptables -t nat -A POSTROUTING -s 10.$(octet $k).0.0/16 ! -o plumb$k -j MASQUERADE"
    done
}
shell_teardown() {
    local n=$1 k
    for ((k = 0; k < $(bridges "$n"); k++)); do
        echo "iptables -t nat -D POSTROUTING -s 10.$(octet $k).0.0/16 ! -o plumb$k -j MASQUERADE"
    done
    for ((i = 0; i < n; i++)); do echo "ip netns del c$i"; done
    for ((k = 0; k < $(bridges "$n"); k++)); do echo "ip link del plumb$k"; done
}
# ip -batch: one process for the host side, one per container for its inside.
batch_build() {
    local n=$1 k
    {
        for ((k = 0; k < $(bridges "$n"); k++)); do
            echo "link add plumb$k type bridge"
            echo "addr add 10.$(octet $k).0.1/16 dev plumb$k"
            echo "link set plumb$k up"
        done
        for ((i = 0; i < n; i++)); do
            echo "netns add c$i"
            echo "link add vc$i master plumb$((i / per_bridge)) up type veth peer name eth0 netns c$i"
        done
    } >"$work/host.batch"
    echo "ip -batch $work/host.batch"
    for ((i = 0; i < n; i++)); do
        printf 'addr add %s/16 dev eth0\nlink set lo up\nlink set eth0 up\nroute add default via 10.%s.0.1\n' \
            "$(container_ip "$i")" "$(octet $((i / per_bridge)))" >"$work/c$i.batch"
        echo "ip -n c$i -batch $work/c$i.batch"
    done
    echo "sysctl -qw net.ipv4.ip_forward=1"
    for ((k = 0; k < $(bridges "$n"); k++)); do
        echo "iptables -t nat -A POSTROUTING -s 10.$(octet $k).0.0/16 ! -o plumb$k -j MASQUERADE"
    done
}
batch_teardown() {
    local n=$1 k
    {
        for ((i = 0; i < n; i++)); do echo "netns del c$i"; done
        for ((k = 0; k < $(bridges "$n"); k++)); do echo "link del plumb$k"; done
    } >"$work/down.batch"
    for ((k = 0; k < $(bridges "$n"); k++)); do
        echo "iptables -t nat -D POSTROUTING -s 10.$(octet $k).0.0/16 ! -o plumb$k -j MASQUERADE"
    done
    echo "ip -batch $work/down.batch"
}
# netavark as Podman drives it: Podman makes the namespace (here one `ip
# -batch` for all), then runs `netavark setup` per container with the
# container's network options; each bridge is a network of its own. netavark
# makes the bridge, its address and firewall chains and forwarding itself,
# and removes the bridge with its last container.
netavark_build() {
    local n=$1 k
    mkdir -p "$work/nv"
    for ((i = 0; i < n; i++)); do
        k=$((i / per_bridge))
        printf '{"container_id":"%064x","container_name":"c%d","port_mappings":null,"networks":{"plumb%d":{"static_ips":["%s"],"interface_name":"eth0"}},"network_info":{"plumb%d":{"name":"plumb%d","id":"%064x","driver":"bridge","network_interface":"plumb%d","subnets":[{"subnet":"10.%d.0.0/16","gateway":"10.%d.0.1"}],"ipv6_enabled":false,"internal":false,"dns_enabled":false,"ipam_options":{"driver":"host-local"}}}}\n' \
            "$i" "$i" "$k" "$(container_ip "$i")" "$k" "$k" "$((k + 1))" "$k" "$(octet $k)" "$(octet $k)" >"$work/nv/c$i.json"
    done
    for ((i = 0; i < n; i++)); do echo "netns add c$i"; done >"$work/nv-netns.batch"
    echo "ip -batch $work/nv-netns.batch"
    for ((i = 0; i < n; i++)); do
        echo "$netavark --config $work/nv setup /run/netns/c$i < $work/nv/c$i.json >/dev/null"
    done
}
netavark_teardown() {
    local n=$1
    for ((i = 0; i < n; i++)); do
        echo "$netavark --config $work/nv teardown /run/netns/c$i < $work/nv/c$i.json"
    done
    for ((i = 0; i < n; i++)); do echo "netns del c$i"; done >"$work/nv-netns-del.batch"
    echo "ip -batch $work/nv-netns-del.batch"
}

# Runs inside a sandbox: build, check, tear down, wait for the links to go.
# Prints "build_seconds teardown_seconds" and, for plumb and floor, the peak
# RSS (KiB) of build and teardown; for plumb also the journal's size in bytes.
# (The floor's phase timings go to stderr, with the round log.)
one_round() {
    set -euo pipefail
    local tool=$1 n=$2
    now() { date +%s.%N; }
    check() {
        [ "$(ls /run/netns | wc -l)" = "$n" ] || { echo "$tool: $(ls /run/netns | wc -l) namespaces, not $n" >&2; exit 1; }
        local k ports=0 p
        for ((k = 0; k < $(bridges "$n"); k++)); do
            p=$(ip -o link show master "plumb$k" | wc -l)
            [ "$p" -le "$PER_BRIDGE" ] || { echo "$tool: plumb$k has $p ports" >&2; exit 1; }
            ports=$((ports + p))
        done
        [ "$ports" = "$n" ] || { echo "$tool: $ports bridge ports, not $n" >&2; exit 1; }
        ip netns exec c0 ping -c1 -W2 "$(container_ip $((n - 1)))" >/dev/null || { echo "$tool: c0 cannot ping the last container" >&2; exit 1; }
    }
    links_gone() {
        while [ "$(ip -o link show type veth | wc -l)" != 0 ] || [ "$(ip -o link show type bridge | wc -l)" != 0 ]; do sleep 0.005; done
    }
    local extra=""
    case $tool in
    plumb)
        t0=$(now); /usr/bin/time -o "$WORK/rss" -f %M "$PLUMB" run --set n="$n" --set per_bridge="$PER_BRIDGE" bench/containers.rhai 2>/dev/null; t1=$(now)
        extra="$(cat "$WORK/rss") $(cat /run/plumb/*.jsonl | wc -c)"
        check
        t2=$(now); /usr/bin/time -o "$WORK/rss" -f %M "$PLUMB" rollback --last 2>/dev/null; links_gone; t3=$(now)
        extra="$extra $(cat "$WORK/rss")" ;;
    floor)
        t0=$(now); /usr/bin/time -o "$WORK/rss" -f %M "$FLOOR" up "$n" --per-bridge "$PER_BRIDGE"; t1=$(now)
        extra="$(cat "$WORK/rss")"
        check
        t2=$(now); /usr/bin/time -o "$WORK/rss" -f %M "$FLOOR" down "$n" --per-bridge "$PER_BRIDGE"; links_gone; t3=$(now)
        extra="$extra - $(cat "$WORK/rss")" ;;
    shell | batch | netavark)
        t0=$(now); sh -e "$WORK/$tool-build.sh"; t1=$(now)
        check
        t2=$(now); sh -e "$WORK/$tool-teardown.sh"; links_gone; t3=$(now) ;;
    esac
    [ -z "$(ls /run/netns)" ] || { echo "$tool: namespaces left after teardown" >&2; exit 1; }
    echo "$(python3 -c "print($t1 - $t0, $t3 - $t2)") $extra"
}

# The kernel frees a sandbox's namespaces in the background after its
# teardown; the next round starts once it has (net_namespace objects back to
# where they were, give or take other users of the machine) and SETTLE more
# seconds have passed, so one round's clean-up does not slow the next.
netns_objects() { awk '$1 == "net_namespace" {print $2}' /proc/slabinfo; }
settle_after() {
    for ((w = 0; w < 1200; w++)); do
        [ "$(netns_objects)" -gt $(($1 + 10)) ] || break
        sleep 0.1
    done
    sleep "$settle"
}

results="$work/results"
for n in "${sizes[@]}"; do
    for tool in shell batch netavark; do
        "${tool}_build" "$n" >"$work/$tool-build.sh"
        "${tool}_teardown" "$n" >"$work/$tool-teardown.sh"
    done
    for ((r = 1; r <= rounds; r++)); do
        for tool in "${tools[@]}"; do
            case $tool in shell | netavark) [ "$n" -le "$slow_max" ] || continue ;; esac
            before=$(netns_objects)
            t=$(PLUMB=$plumb FLOOR=$floor WORK=$work PER_BRIDGE=$per_bridge "$plumb" sandbox -- \
                bash -c "per_bridge=$per_bridge; $(declare -f bridges octet container_ip one_round); one_round $tool $n")
            echo "$tool $n $t" >>"$results"
            echo "round $r: $tool W$n build/teardown $t" >&2
            settle_after "$before"
        done
    done
done
# An empty script: plumb's fixed cost.
echo "" >"$work/empty.rhai"
for ((r = 1; r <= 10; r++)); do
    t=$("$plumb" sandbox -- bash -c "s=\$(date +%s.%N); $plumb run $work/empty.rhai; e=\$(date +%s.%N); python3 -c \"print(\$e - \$s)\"")
    echo "empty 0 $t 0" >>"$results"
done

python3 - "$results" "$per_bridge" <<'PY'
import sys, statistics
from collections import defaultdict
runs = defaultdict(list)
extra = defaultdict(list)
for line in open(sys.argv[1]):
    tool, n, build, down, *more = line.split()
    runs[(tool, int(n))].append((float(build), float(down)))
    if more:
        extra[(tool, int(n))].append(more)
med = {k: (statistics.median(b for b, _ in v), statistics.median(d for _, d in v)) for k, v in runs.items()}
sizes = sorted({n for t, n in med if t != "empty"})
order = [t for t in ("plumb", "floor", "shell", "batch", "netavark") if any((t, n) in med for n in sizes)]
ref = "floor" if "floor" in order else "plumb"
print(f"per_bridge {sys.argv[2]}; medians; 'x {ref}' = time / {ref}'s time in the same N")
print(f"{'tool':<9} {'N':>5} {'build s':>9} {'teardown s':>11} {'build x ' + ref:>14} {'teardown x ' + ref:>17} {'rounds':>6}")
for n in sizes:
    if (ref, n) not in med:
        continue
    rb, rd = med[(ref, n)]
    for tool in order:
        if (tool, n) not in med:
            continue
        b, d = med[(tool, n)]
        print(f"{tool:<9} {n:>5} {b:>9.3f} {d:>11.3f} {b / rb:>14.2f} {d / rd:>17.2f} {len(runs[(tool, n)]):>6}")
for n in sizes:
    if ("plumb", n) in extra:
        e = extra[("plumb", n)]
        rss = max(max(int(x[0]), int(x[2])) for x in e) / 1024
        journal = statistics.median(int(x[1]) for x in e)
        print(f"plumb W{n}: peak RSS {rss:.1f} MiB (run or rollback, max over rounds), journal {journal / 1024:.0f} KiB ({journal / n:.0f} B per container)")
if len(sizes) >= 2:
    lo, hi = sizes[0], sizes[-1]
    for tool in order:
        if (tool, lo) in med and (tool, hi) in med:
            (b0, d0), (b1, d1) = med[(tool, lo)], med[(tool, hi)]
            print(f"growth W{lo} -> W{hi} {tool:<9} build x{b1 / b0:.2f}  teardown x{d1 / d0:.2f}")
for tool in order:
    per = [f"W{n} {med[(tool, n)][0] / n * 1000:.2f}/{med[(tool, n)][1] / n * 1000:.2f}" for n in sizes if (tool, n) in med]
    print(f"ms per container (build/teardown) {tool:<9} " + "  ".join(per))
print(f"plumb run of an empty script: {med[('empty', 0)][0] * 1000:.1f} ms (median of {len(runs[('empty', 0)])})")
PY
