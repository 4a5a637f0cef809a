#!/usr/bin/env bash
# podman 4.3 + its CNI backend + the REFERENCE plugins (bridge, host-local,
# portmap), end to end: what plumb's CNI mode must do as well, proven with the
# plugins every runtime already trusts. Later only the plugin type changes.
#
# Usage (root, inside a fresh sandbox):
#   target/release/plumb sandbox -- bash tests/cni/reference-e2e.sh
# With PLUGIN_CALL_LOG_OUT=FILE, bridge and portmap run behind log-plugin.sh and
# every call podman made (VERSION, ADD, DEL) is copied to FILE, one JSON a line.
#
# Checks, each fatal: containers get addresses in the subnet and a default
# route; two containers ping each other; `-p 8080:80` reaches busybox httpd
# from the host (its LAN address, the bridge gateway and 127.0.0.1), from a
# client outside the host and from another container (hairpin); `podman rm`
# leaves no veth, netns, lease, per-container iptables rule or process, and
# the state left after a first rm (the reference bridge and portmap's shared
# chains, which the reference plugins never remove) is exactly restored by a
# second run + rm.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/cni/podman-env.sh
. "$here/podman-env.sh"

now_ms() { echo $(($(date +%s%N) / 1000000)); }
timings=()
# timed LABEL CMD...: run CMD, keep its wall time in ms.
timed() {
    local label=$1 start
    shift
    start=$(now_ms)
    "$@" >/dev/null
    timings+=("$label $(($(now_ms) - start))")
}

net=refnet bridge=refbr0 subnet=10.77.0.0/24 gateway=10.77.0.1
host_lan=192.0.2.10 outside_client=192.0.2.20

podman_env_setup /run/podman-env
rootfs=$PODMAN_ENV/rootfs
make_busybox_rootfs "$rootfs"
echo hello-from-web >"$rootfs/var/www/index.html"
if [ -n "${PLUGIN_CALL_LOG_OUT:-}" ]; then
    for type in bridge portmap; do ln -s "$here/log-plugin.sh" "$PODMAN_ENV_PLUGINS/log-$type"; done
    export BRIDGE_TYPE=log-bridge PORTMAP_TYPE=log-portmap
    unset PLUGIN_CALL_LOG # the default path catches the calls of podman's cleanup process too
fi
write_conflist "$net" "$(reference_conflist "$net" "$bridge" "$subnet")"

make_host_lan "$host_lan" "$outside_client"

# snapshot DIR: what a container could leave behind.
snapshot() {
    mkdir -p "$1"
    ip -o link show | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | sort >"$1/links"
    ls /run/netns | sort >"$1/netns"
    { iptables-save; ip6tables-save; } | sed -e '/^#/d' -e 's/ \[[0-9]*:[0-9]*\]$//' >"$1/rules"
    # host-local keeps one file per leased address (plus lock and last_reserved_ip.0).
    find /var/lib/cni/networks -name '[0-9]*.*' 2>/dev/null | grep -v last_reserved | sort >"$1/leases" || true
    { pgrep -a conmon || true; pgrep -a crun || true; } >"$1/procs"
    podman ps -aq >"$1/containers"
}

snapshot /run/snap-before

step "podman run: web (httpd, -p 8080:80) and c2 (sleep)"
timed "run -d -p 8080:80 (web)" podman run -d --name web --network "$net" -p 8080:80 --rootfs "$rootfs" httpd -f -p 80 -h /var/www
timed "run -d (c2)" podman run -d --name c2 --network "$net" --rootfs "$rootfs" sleep 600

step "addresses"
web_cidr=$(container_ipv4 web)
c2_cidr=$(container_ipv4 c2)
web_ip=${web_cidr%/*} c2_ip=${c2_cidr%/*}
for cidr in "$web_cidr" "$c2_cidr"; do
    case $cidr in 10.77.0.*/24) ;; *) fail "container address '$cidr' is not in $subnet" ;; esac
done
[ "$web_ip" != "$c2_ip" ] || fail "both containers got $web_ip"
[ "$(podman inspect -f "{{.NetworkSettings.Networks.$net.IPAddress}}" web)" = "$web_ip" ] || fail "podman inspect disagrees with web's eth0"
podman exec c2 ip route | grep -qx "default via $gateway dev eth0 *" || fail "c2 has no default route via $gateway"
echo "   web $web_cidr, c2 $c2_cidr, default via $gateway"

step "ping"
podman exec c2 ping -c1 -W2 "$web_ip" >/dev/null || fail "c2 cannot ping web"
podman exec web ping -c1 -W2 "$c2_ip" >/dev/null || fail "web cannot ping c2"
ping -c1 -W2 "$c2_ip" >/dev/null || fail "the host cannot ping c2"
echo "   c2 <-> web, host -> c2"

step "published port 8080 -> web:80"
# From the host itself, packets to a local address pass nat OUTPUT, not
# PREROUTING: portmap hooks CNI-HOSTPORT-DNAT into both.
iptables -t nat -C OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT || fail "portmap has no OUTPUT hook"
iptables -t nat -C PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT || fail "portmap has no PREROUTING hook"
expect_web host "http://$host_lan:8080/"
expect_web host "http://$gateway:8080/"
# 127.0.0.1 works because portmap (snat on by default) sets route_localnet=1
# on the bridge and marks 127.0.0.1-sourced connections for masquerade.
[ "$(sysctl -n "net.ipv4.conf.$bridge.route_localnet")" = 1 ] || fail "portmap did not set route_localnet on $bridge"
expect_web host "http://127.0.0.1:8080/"
expect_web outside "http://$host_lan:8080/"
# Hairpin: c2 through the host's published port back onto the same bridge.
# (busybox-static's wget segfaults in these containers; nc does the GET.)
hairpin=$(printf 'GET / HTTP/1.0\r\n\r\n' | podman exec -i c2 nc -w 3 "$gateway" 8080 | tail -n1)
[ "$hairpin" = hello-from-web ] || fail "c2 -> $gateway:8080 (hairpin) answered '$hairpin'"
echo "   c2 -> $gateway:8080: $hairpin"

snapshot /run/snap-running
echo "   while running: $(comm -13 <(sort /run/snap-before/rules) <(sort /run/snap-running/rules) | wc -l) new iptables lines; new links: $(comm -13 /run/snap-before/links /run/snap-running/links | tr '\n' ' ')"

step "podman rm"
timed "rm -f -t 0 (web)" podman rm -f -t 0 web
timed "rm -f -t 0 (c2)" podman rm -f -t 0 c2
snapshot /run/snap-after
diff /run/snap-before/netns /run/snap-after/netns || fail "network namespaces left behind"
[ ! -s /run/snap-after/leases ] || fail "leases left: $(cat /run/snap-after/leases)"
[ ! -s /run/snap-after/procs ] || fail "processes left: $(cat /run/snap-after/procs)"
[ ! -s /run/snap-after/containers ] || fail "containers left"
new_links=$(comm -13 /run/snap-before/links /run/snap-after/links)
[ "$new_links" = "$bridge" ] || fail "links left besides the reference bridge: $new_links"
new_rules=$(comm -13 <(sort /run/snap-before/rules) <(sort /run/snap-after/rules))
if grep -E "10\.77\.|CNI-[0-9a-f]{24}|CNI-DN-" <<<"$new_rules"; then
    fail "per-container iptables state left (above)"
fi
echo "   gone: veths, netns, leases, per-container rules, conmon/crun; left (shared, by design of the reference plugins): link $new_links and"
grep -E '^(-A|:CNI)' <<<"$new_rules" | sed 's/^/      /'

step "second run + rm restores exactly the state after the first rm"
timed "run -d -p 8080:80 (web2)" podman run -d --name web2 --network "$net" -p 8080:80 --rootfs "$rootfs" httpd -f -p 80 -h /var/www
expect_web host "http://$host_lan:8080/"
timed "rm -f -t 0 (web2)" podman rm -f -t 0 web2
snapshot /run/snap-again
for part in links netns rules leases procs containers; do
    diff "/run/snap-after/$part" "/run/snap-again/$part" || fail "$part differ after the second run + rm"
done
echo "   identical"

if [ -n "${PLUGIN_CALL_LOG_OUT:-}" ]; then
    cp /run/cni-calls.jsonl "$PLUGIN_CALL_LOG_OUT"
    echo "   plugin calls: $(wc -l <"$PLUGIN_CALL_LOG_OUT") in $PLUGIN_CALL_LOG_OUT"
fi

step "podman timings (ms, wall, this sandbox)"
printf '   %s\n' "${timings[@]}"
echo "PASS"
