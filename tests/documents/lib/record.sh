#!/usr/bin/env bash
# Dump the network state of the host and every named namespace, raw, for
# tests/documents.rs to normalise: links, addresses and routes as `ip -j`
# JSON, the sysctls that matter, and the iptables rules as iptables-save text.
# Each part starts with a line "@@ NAMESPACE PART".
set -euo pipefail
namespaces="host $(ls /run/netns 2>/dev/null | sort)"
in_ns() { if [ "$1" = host ]; then "${@:2}"; else ip netns exec "$@"; fi; }

# Wait (at most 5 s) until the kernel has settled what it does on its own
# after a link comes up: the operational state (applied by linkwatch up to a
# second later, which then adds the IPv6 link-local address) and duplicate
# address detection (the address's local route appears when it ends).
unsettled() {
    local links addrs
    for ns in $namespaces; do
        links=$(in_ns "$ns" ip -o link show) addrs=$(in_ns "$ns" ip -o addr show)
        grep -Eq 'LOWER_UP.* state (DOWN|LOWERLAYERDOWN) ' <<<"$links" && return 0
        grep -q tentative <<<"$addrs" && return 0
    done
    return 1
}
for _ in $(seq 50); do unsettled || break; sleep 0.1; done
if unsettled; then
    echo "record.sh: links or addresses still settling after 5 s" >&2
    exit 1
fi

for ns in $namespaces; do
    echo "@@ $ns link"; in_ns "$ns" ip -d -j link show
    echo "@@ $ns addr"; in_ns "$ns" ip -j addr show
    echo "@@ $ns route4"; in_ns "$ns" ip -d -j -4 route show table all
    echo "@@ $ns route6"; in_ns "$ns" ip -d -j -6 route show table all
    echo "@@ $ns sysctl"
    in_ns "$ns" sysctl net.ipv4.ip_forward net.ipv6.conf.all.disable_ipv6 net.ipv6.conf.default.disable_ipv6 \
        net.bridge.bridge-nf-call-iptables
    echo "@@ $ns iptables"; in_ns "$ns" iptables-save
    echo "@@ $ns ip6tables"; in_ns "$ns" ip6tables-save
done
