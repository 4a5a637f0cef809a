#!/usr/bin/env bash
# Issue 12 benchmark: N containers networked one plugin process per container,
# as a runtime does, then torn down the same way. Tools:
#   reference  the reference CNI plugins: /usr/lib/cni/bridge (+ host-local,
#              which bridge execs), env + stdin, DEL with prevResult as libcni sends it
#   netavark   netavark 1.4 `setup` / `teardown`, static IPs
#   plumb      plumb's CNI mode running scripts/cni/bridge.rhai, the same
#              env + stdin protocol as `reference`
# Each tool runs in a fresh sandbox per round; the containers' namespaces are
# made beforehand with `ip netns add` and are NOT timed, only the plugin
# processes are (process start included). Every build is checked (each
# container has its address, addresses are distinct, c0 pings the last one) and
# so is every teardown (no veth, no eth0 in a container, no rule naming a
# container's address, no lease left).
# Usage: bench/cni.sh [ROUNDS] [N...]   (root; default 2 rounds, N = 100;
#        `bench/cni.sh 1 20` is a quick run). TOOLS="reference netavark plumb"
#        picks the tools (default: all three).
set -euo pipefail

subnet=10.88.0.0/16 gateway=10.88.0.1 bridge=cni0 net=benchnet
REPO=${REPO:-$(cd "$(dirname "$0")/.." && pwd)}

# The network config plumb's CNI mode reads on stdin: the same network as the
# reference plugins' (subnet, bridge, MASQUERADE).
plumb_netconf() {
    jq -n --arg net "$net" --arg br "$bridge" --arg subnet "$subnet" --arg script "$REPO/scripts/cni/bridge.rhai" '{
        cniVersion: "1.0.0", name: $net, type: "plumb", script: $script,
        params: {subnet: $subnet, bridge: $br}}'
}

# --- Inside a sandbox: one round of one tool -------------------------------------
# Prints "TOOL N add|del I SECONDS" per plugin call.
work=/run/cni-bench

# cni_call BINARY VERB I CONFIG: one plugin process, as libcni execs it.
cni_call() {
    CNI_COMMAND=$2 CNI_CONTAINERID=bench-c$3 CNI_NETNS=/run/netns/c$3 CNI_IFNAME=eth0 \
        CNI_PATH=/usr/lib/cni CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAME=c$3" \
        "$1" <"$4" >"$work/$2.$3.json" || {
        echo "$1 $2 c$3 failed: $(cat "$work/$2.$3.json")" >&2
        return 1
    }
}
# The DEL configs carry the ADD result as prevResult, as libcni sends it
# (made between the timed phases).
cni_prepare_del() {
    python3 - "$work" "$1" <<'PY'
import json, sys
work, n = sys.argv[1], int(sys.argv[2])
conf = json.load(open(f"{work}/netconf.json"))
for i in range(n):
    conf["prevResult"] = json.load(open(f"{work}/ADD.{i}.json"))
    json.dump(conf, open(f"{work}/del.{i}.json", "w"))
PY
}
cni_address() { jq -r '.ips[0].address' "$work/ADD.$1.json"; }

reference_prepare() {
    jq -n --arg net "$net" --arg br "$bridge" --arg subnet "$subnet" --arg data "$work/host-local" '{
        cniVersion: "1.0.0", name: $net, type: "bridge", bridge: $br, isGateway: true, ipMasq: true,
        ipam: {type: "host-local", dataDir: $data, ranges: [[{subnet: $subnet}]], routes: [{dst: "0.0.0.0/0"}]}}' \
        >"$work/netconf.json"
}
reference_add() { cni_call /usr/lib/cni/bridge ADD "$1" "$work/netconf.json"; }
reference_prepare_del() { cni_prepare_del "$1"; }
reference_del() { cni_call /usr/lib/cni/bridge DEL "$1" "$work/del.$1.json"; }
reference_address() { cni_address "$1"; }

plumb_prepare() { plumb_netconf >"$work/netconf.json"; }
plumb_add() { cni_call "$PLUMB" ADD "$1" "$work/netconf.json"; }
plumb_prepare_del() { cni_prepare_del "$1"; }
plumb_del() { cni_call "$PLUMB" DEL "$1" "$work/del.$1.json"; }
plumb_address() { cni_address "$1"; }

# netavark needs the addresses given (podman's own IPAM picks them): container
# I gets host number I + 2, as host-local hands them out.
netavark_prepare() {
    python3 - "$work" "$1" "$net" "$bridge" "$subnet" "$gateway" <<'PY'
import json, sys
work, n, net, bridge, subnet, gateway = sys.argv[1], int(sys.argv[2]), *sys.argv[3:]
for i in range(n):
    host = i + 2
    opts = {
        "container_id": f"{i:064x}", "container_name": f"c{i}", "port_mappings": None,
        "networks": {net: {"static_ips": [f"10.88.{host // 256}.{host % 256}"],
                           "interface_name": "eth0", "aliases": None}},
        "network_info": {net: {"name": net, "id": "ab" * 32, "driver": "bridge",
                               "network_interface": bridge,
                               "subnets": [{"subnet": subnet, "gateway": gateway}],
                               "ipv6_enabled": False, "internal": False, "dns_enabled": False,
                               "ipam_options": {"driver": "host-local"}}},
    }
    json.dump(opts, open(f"{work}/opts.{i}.json", "w"))
PY
}
netavark_call() {
    /usr/lib/podman/netavark --config "$work/netavark" "$1" "/run/netns/c$2" <"$work/opts.$2.json" >"$work/$1.$2.json" || {
        echo "netavark $1 c$2 failed" >&2
        return 1
    }
}
netavark_add() { netavark_call setup "$1"; }
netavark_prepare_del() { :; } # teardown reads the same options as setup
netavark_del() { netavark_call teardown "$1"; }
netavark_address() { jq -r ".$net.interfaces.eth0.subnets[0].ipnet" "$work/setup.$1.json"; }

inside() {
    local tool=$1 n=$2 i t0 t1
    mkdir -p "$work/netavark"
    for ((i = 0; i < n; i++)); do ip netns add "c$i"; done
    "${tool}_prepare" "$n"
    local -a add_us del_us
    for ((i = 0; i < n; i++)); do
        t0=$EPOCHREALTIME
        "${tool}_add" "$i"
        t1=$EPOCHREALTIME
        add_us[i]=$((${t1/./} - ${t0/./}))
    done

    # Check the build: every container has its own address, c0 reaches the last.
    local -a addrs
    for ((i = 0; i < n; i++)); do
        addrs[i]=$("${tool}_address" "$i")
        ip -n "c$i" -4 -o addr show eth0 | grep -qF " ${addrs[i]} " ||
            { echo "$tool: c$i lacks ${addrs[i]} on eth0" >&2; return 1; }
    done
    [ -z "$(printf '%s\n' "${addrs[@]}" | sort | uniq -d)" ] || { echo "$tool: an address was given twice" >&2; return 1; }
    ip netns exec c0 ping -c1 -W2 "${addrs[n - 1]%/*}" >/dev/null || { echo "$tool: c0 cannot ping c$((n - 1))" >&2; return 1; }

    "${tool}_prepare_del" "$n"
    for ((i = 0; i < n; i++)); do
        t0=$EPOCHREALTIME
        "${tool}_del" "$i"
        t1=$EPOCHREALTIME
        del_us[i]=$((${t1/./} - ${t0/./}))
    done

    # Check the teardown: nothing per container is left.
    [ "$(ip -o link show type veth | wc -l)" = 0 ] || { echo "$tool: veths left after DEL" >&2; return 1; }
    for ((i = 0; i < n; i++)); do
        ! ip -n "c$i" link show eth0 >/dev/null 2>&1 || { echo "$tool: c$i still has eth0" >&2; return 1; }
    done
    local rules
    rules=$({ iptables-save; ip6tables-save; } | grep -cF -e "$(printf '%s\n' "${addrs[@]%/*}" | sed 's|$|/32 |')" || true)
    [ "$rules" = 0 ] || { echo "$tool: $rules iptables rules still name a container address" >&2; return 1; }
    if [ -d "$work/host-local" ] && find "$work/host-local" -name '10.*' | grep -q .; then
        echo "$tool: host-local leases left" >&2
        return 1
    fi

    for ((i = 0; i < n; i++)); do
        echo "$tool $n add $i ${add_us[i]}e-6"
        echo "$tool $n del $i ${del_us[i]}e-6"
    done
}

if [ "${1:-}" = --inside ]; then
    inside "$2" "$3"
    exit
fi

# --- Outside: rounds, sandboxes, the table ---------------------------------------
rounds=${1:-2}
shift || true
sizes=("${@:-100}")
read -ra tools <<<"${TOOLS:-plumb reference netavark}"
cd "$(dirname "$0")/.."
for tool in "${tools[@]}"; do
    case $tool in
    reference | netavark) ;;
    plumb) plumb_netconf >/dev/null || exit 2 ;;
    *) echo "bench/cni.sh: unknown tool '$tool'" >&2; exit 2 ;;
    esac
done
nice -n 10 cargo build --release --quiet
plumb=$PWD/target/release/plumb
results=$(mktemp)
trap 'rm -f "$results"' EXIT

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for n in "${sizes[@]}"; do
    for ((r = 1; r <= rounds; r++)); do
        for tool in "${tools[@]}"; do
            # Let the kernel finish freeing the previous sandbox's namespaces.
            sleep 3
            REPO=$PWD PLUMB=$plumb "$plumb" sandbox -- bash "$PWD/bench/cni.sh" --inside "$tool" "$n" >>"$results"
            echo "round $r: $tool N=$n done" >&2
        done
    done
done

python3 - "$results" "${tools[@]}" <<'PY'
import sys, statistics
from collections import defaultdict
path, tools = sys.argv[1], sys.argv[2:]
calls = defaultdict(list)            # (tool, n, verb) -> [seconds per call]
for line in open(path):
    tool, n, verb, _, secs = line.split()
    calls[(tool, int(n), verb)].append(float(secs))
base = "plumb" if "plumb" in tools else None
print(f"{'tool':<10} {'N':>4} {'ADD median ms':>14} {'ADD total s':>12} {'DEL median ms':>14} {'DEL total s':>12}"
      + ("   x = times plumb's medians" if base else ""))
for n in sorted({n for _, n, _ in calls}):
    rounds = len(calls[(tools[0], n, "add")]) // n
    for tool in tools:
        add, dele = calls[(tool, n, "add")], calls[(tool, n, "del")]
        ma, md = statistics.median(add) * 1e3, statistics.median(dele) * 1e3
        # A round's total, median over rounds.
        total = lambda xs: statistics.median(sum(xs[r * n:(r + 1) * n]) for r in range(rounds))
        row = f"{tool:<10} {n:>4} {ma:>14.2f} {total(add):>12.3f} {md:>14.2f} {total(dele):>12.3f}"
        if base:
            ba = statistics.median(calls[(base, n, "add")]) * 1e3
            bd = statistics.median(calls[(base, n, "del")]) * 1e3
            row += f"   x{ma / ba:.1f} ADD, x{md / bd:.1f} DEL"
        print(row)
print(f"({rounds} round(s); medians over all calls of all rounds; totals = median round)")
PY
