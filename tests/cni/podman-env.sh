# podman 4.3 with its CNI backend, offline, inside a throw-away sandbox.
# Source this from bash running INSIDE a sandbox (`plumb sandbox -- bash ...`
# or `unshare --net --mount --pid --fork --mount-proc` with a tmpfs on /run):
#
#   . tests/cni/podman-env.sh
#   podman_env_setup /run/podman-env        # config, storage, cgroup2, plugin dir
#   make_busybox_rootfs "$PODMAN_ENV/rootfs"
#   write_conflist refnet "$(reference_conflist refnet refbr0 10.77.0.0/24)"
#   podman run -d --network refnet --rootfs "$PODMAN_ENV/rootfs" sleep 600
#
# Nothing lands on the machine's disk or network: the config and podman's
# graph live under the sandbox's /run (a tmpfs), /var/lib is overlaid by a
# tmpfs upper layer (host-local leases in /var/lib/cni/networks, libcni's cache
# in /var/lib/cni/results), and /sys/fs/cgroup is a fresh cgroup2 mount (crun
# 1.8 refuses the machine's hybrid tree).
# shellcheck shell=bash

# Refuse to run anywhere but a fresh sandbox: /run must be a tmpfs and the
# network namespace must hold nothing but loopback.
podman_env_in_fresh_sandbox() {
    [ "$(stat -f -c %T /run)" = tmpfs ] || { echo "podman-env: /run is not a tmpfs: not in a sandbox" >&2; return 1; }
    local links
    links=$(ip -o link show | awk -F': ' '{print $2}' | grep -vx lo || true)
    [ -z "$links" ] || { echo "podman-env: this network namespace has links ($links): run it in a fresh sandbox" >&2; return 1; }
}

# podman_env_setup DIR: write containers.conf and storage.conf under DIR
# (which must be under /run), export CONTAINERS_CONF, CONTAINERS_STORAGE_CONF,
# PODMAN_ENV (=DIR), PODMAN_ENV_NETD (network_config_dir) and
# PODMAN_ENV_PLUGINS (the first CNI plugin dir; /usr/lib/cni comes after it).
podman_env_setup() {
    local dir=${1:?usage: podman_env_setup DIR}
    case $dir in /run/*) ;; *) echo "podman-env: DIR must be under /run (the sandbox's tmpfs)" >&2; return 1 ;; esac
    podman_env_in_fresh_sandbox || return 1
    mkdir -p "$dir"/{net.d,plugins,graph,varlib-upper,varlib-work}
    # Writes under /var/lib (CNI leases and cache, anything podman adds) go to the tmpfs.
    mount -t overlay overlay -o "lowerdir=/var/lib,upperdir=$dir/varlib-upper,workdir=$dir/varlib-work" /var/lib || return 1
    if [ "$(stat -f -c %T /sys/fs/cgroup)" != cgroup2fs ]; then
        mount -t cgroup2 cgroup2 /sys/fs/cgroup || return 1
    fi
    cat >"$dir/containers.conf" <<EOF
[containers]
cgroups = "disabled"
log_driver = "k8s-file"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "crun"
tmp_dir = "/run/libpod"

[network]
network_backend = "cni"
cni_plugin_dirs = ["$dir/plugins", "/usr/lib/cni"]
network_config_dir = "$dir/net.d"
EOF
    cat >"$dir/storage.conf" <<EOF
[storage]
driver = "vfs"
runroot = "/run/containers/storage"
graphroot = "$dir/graph"
EOF
    export CONTAINERS_CONF=$dir/containers.conf
    export CONTAINERS_STORAGE_CONF=$dir/storage.conf
    export PODMAN_ENV=$dir
    export PODMAN_ENV_NETD=$dir/net.d
    export PODMAN_ENV_PLUGINS=$dir/plugins
}

# write_conflist NAME JSON: install JSON (a whole conflist whose "name" is
# NAME) as NAME.conflist in podman's network_config_dir.
write_conflist() {
    local name=${1:?usage: write_conflist NAME JSON} json=${2:?usage: write_conflist NAME JSON}
    [ -n "${PODMAN_ENV_NETD:-}" ] || { echo "podman-env: run podman_env_setup first" >&2; return 1; }
    local named
    named=$(jq -er .name <<<"$json") || { echo "write_conflist: not JSON with a name" >&2; return 1; }
    [ "$named" = "$name" ] || { echo "write_conflist: JSON names network '$named', not '$name'" >&2; return 1; }
    printf '%s\n' "$json" >"$PODMAN_ENV_NETD/$name.conflist"
}

# reference_conflist NAME BRIDGE SUBNET [CNIVERSION]: the reference plugins'
# conflist: bridge (gateway, masquerade) + host-local (default route) + portmap.
# BRIDGE_TYPE and PORTMAP_TYPE override the plugins' types (say, the
# log-plugin.sh wrappers: log-bridge, log-portmap).
reference_conflist() {
    local name=$1 bridge=$2 subnet=$3 version=${4:-1.0.0}
    jq -n --arg name "$name" --arg br "$bridge" --arg subnet "$subnet" --arg v "$version" \
        --arg bridge_type "${BRIDGE_TYPE:-bridge}" --arg portmap_type "${PORTMAP_TYPE:-portmap}" '{
        cniVersion: $v, name: $name,
        plugins: [
            {type: $bridge_type, bridge: $br, isGateway: true, ipMasq: true, hairpinMode: true,
             ipam: {type: "host-local", ranges: [[{subnet: $subnet}]], routes: [{dst: "0.0.0.0/0"}]}},
            {type: $portmap_type, capabilities: {portMappings: true}}
        ]}'
}

# make_busybox_rootfs DIR: a container root made of busybox-static, with the
# files podman and the applets expect.
make_busybox_rootfs() {
    local root=${1:?usage: make_busybox_rootfs DIR}
    mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,root,var/www}
    cp /bin/busybox "$root/bin/busybox"
    chroot "$root" /bin/busybox --install -s
    echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
    echo 'root:x:0:' >"$root/etc/group"
    : >"$root/etc/hosts"
    : >"$root/etc/resolv.conf"
    echo container >"$root/etc/hostname"
}

# The end-to-end tests' helpers: a fatal check, a step's title.
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
step() { echo "== $*"; }

# make_host_lan HOST_IP CLIENT_IP: the host's LAN, a veth whose far end is a
# client in its own namespace, "outside".
make_host_lan() {
    ip netns add outside
    ip link add uplink0 type veth peer name uplink1 netns outside
    ip addr add "$1/24" dev uplink0
    ip link set uplink0 up
    ip -n outside addr add "$2/24" dev uplink1
    ip -n outside link set uplink1 up
    ip -n outside link set lo up
}

# container_ipv4 NAME: the address (with prefix) on the container's eth0.
container_ipv4() { podman exec "$1" ip -4 -o addr show eth0 | awk '{print $4}'; }
# http_get CLIENT URL: curl from the host, or from the namespace CLIENT.
http_get() {
    local client=$1 url=$2 tries
    for tries in 1 2 3 4 5 6 7 8 9 10; do
        if [ "$client" = host ]; then
            curl -sS -m 2 "$url" 2>/dev/null && return 0
        else
            ip netns exec "$client" curl -sS -m 2 "$url" 2>/dev/null && return 0
        fi
        sleep 0.2 # httpd may not listen yet
    done
    return 1
}
# expect_web CLIENT URL: the GET answers the test page.
expect_web() {
    local got
    got=$(http_get "$1" "$2") || fail "$1 cannot GET $2"
    [ "$got" = hello-from-web ] || fail "$1 GET $2 answered '$got'"
    echo "   $1 -> $2: $got"
}
