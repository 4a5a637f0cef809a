#!/usr/bin/env bash
# podman 4.3 + its CNI backend + plumb as the network plugin, end to end:
# scripts/cni/bridge.rhai networks real containers. The same checks as
# reference-e2e.sh makes with the reference plugins, and one more: after
# `podman rm` nothing of the network is left (the reference plugins leave
# their bridge and chains; plumb's last DEL removes its shared objects).
#
# Usage (root, inside a fresh sandbox, plumb on PATH):
#   target/release/plumb sandbox -- bash tests/cni/plumb-e2e.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=tests/cni/podman-env.sh
. "$here/podman-env.sh"

net=plumbnet bridge=plumb-cni0 subnet=10.66.0.0/24 gateway=10.66.0.1
host_lan=192.0.2.10 outside_client=192.0.2.20

podman_env_setup /run/podman-env
rootfs=$PODMAN_ENV/rootfs
make_busybox_rootfs "$rootfs"
echo hello-from-web >"$rootfs/var/www/index.html"
# Installing plumb as a CNI plugin: a link named after the type.
ln -s "$(command -v plumb)" "$PODMAN_ENV_PLUGINS/plumb"
write_conflist "$net" "$(jq -n --arg net "$net" --arg script "$repo/scripts/cni/bridge.rhai" \
    --arg subnet "$subnet" --arg br "$bridge" '{
    cniVersion: "1.0.0", name: $net,
    plugins: [{type: "plumb", script: $script, params: {subnet: $subnet, bridge: $br},
               capabilities: {portMappings: true}}]}')"

make_host_lan "$host_lan" "$outside_client"

# snapshot DIR: the network state a container could leave behind.
snapshot() {
    mkdir -p "$1"
    ip -o link show | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | sort >"$1/links"
    ls /run/netns | sort >"$1/netns"
# iptables-nft keeps an emptied table's built-in chains: no state.
    { iptables-save; ip6tables-save; } | sed -e 's/ \[[0-9]*:[0-9]*\]$//' |
        grep -E '^(-A|:)' | grep -Ev '^:(PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) ACCEPT$' >"$1/rules" || true
    cat /proc/sys/net/ipv4/ip_forward >"$1/forwarding"
    { pgrep -a conmon || true; pgrep -a crun || true; } >"$1/procs"
    podman ps -aq >"$1/containers"
    plumb journal list 2>/dev/null | tail -n +2 >"$1/runs" || true
}

snapshot /run/snap-before

step "podman run: web (httpd, -p 8080:80) and c2 (sleep)"
podman run -d --name web --network "$net" -p 8080:80 --rootfs "$rootfs" httpd -f -p 80 -h /var/www >/dev/null
podman run -d --name c2 --network "$net" --rootfs "$rootfs" sleep 600 >/dev/null

step "addresses"
web_cidr=$(container_ipv4 web)
c2_cidr=$(container_ipv4 c2)
web_ip=${web_cidr%/*} c2_ip=${c2_cidr%/*}
for cidr in "$web_cidr" "$c2_cidr"; do
    case $cidr in 10.66.0.*/24) ;; *) fail "container address '$cidr' is not in $subnet" ;; esac
done
[ "$web_ip" != "$c2_ip" ] || fail "both containers got $web_ip"
[ "$(podman inspect -f "{{.NetworkSettings.Networks.$net.IPAddress}}" web)" = "$web_ip" ] || fail "podman inspect disagrees with web's eth0"
podman exec c2 ip route | grep -q "^default via $gateway dev eth0" || fail "c2 has no default route via $gateway"
echo "   web $web_cidr, c2 $c2_cidr, default via $gateway"
[ "$(plumb journal list | grep -c applied)" = 2 ] || fail "not one applied run per container: $(plumb journal list)"

step "ping"
podman exec c2 ping -c1 -W2 "$web_ip" >/dev/null || fail "c2 cannot ping web"
podman exec web ping -c1 -W2 "$c2_ip" >/dev/null || fail "web cannot ping c2"
ping -c1 -W2 "$c2_ip" >/dev/null || fail "the host cannot ping c2"
echo "   c2 <-> web, host -> c2"

step "published port 8080 -> web:80"
expect_web host "http://$host_lan:8080/"
expect_web host "http://$gateway:8080/"
expect_web host "http://127.0.0.1:8080/"
expect_web outside "http://$host_lan:8080/"
hairpin=$(printf 'GET / HTTP/1.0\r\n\r\n' | podman exec -i c2 nc -w 3 "$gateway" 8080 | tail -n1)
[ "$hairpin" = hello-from-web ] || fail "c2 -> $gateway:8080 answered '$hairpin'"
echo "   c2 -> $gateway:8080: $hairpin"
own=$(printf 'GET / HTTP/1.0\r\n\r\n' | podman exec -i web nc -w 3 "$gateway" 8080 | tail -n1)
[ "$own" = hello-from-web ] || fail "web -> its own published port answered '$own'"
echo "   web -> $gateway:8080 (its own port, hairpin): $own"

step "podman rm: nothing of the network is left"
podman rm -f -t 0 web >/dev/null
[ "$(plumb journal list | grep -c applied)" = 1 ] || fail "web's run is still there: $(plumb journal list)"
ip link show "$bridge" >/dev/null || fail "the shared bridge went while c2 uses it"
podman exec c2 ping -c1 -W2 "$gateway" >/dev/null || fail "c2 lost its gateway when web went"
podman rm -f -t 0 c2 >/dev/null
# conmon outlives `podman rm` by a moment (it reaps crun and exits).
for _ in $(seq 50); do pgrep -x conmon >/dev/null || break; sleep 0.1; done
snapshot /run/snap-after
for part in links netns rules forwarding procs containers runs; do
    diff "/run/snap-before/$part" "/run/snap-after/$part" || fail "$part differ after podman rm (above)"
done
echo "   identical to before: links, namespaces, rules, ip_forward, processes, runs"
echo "PASS"
