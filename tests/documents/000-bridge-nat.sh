#!/usr/bin/env bash
# Document 000 (容器网络原理), every command of its sections in order, as root
# (the document's `sudo nsenter --net=/var/run/netns/NS` shells become
# `ip netns exec NS`). Runs in a sandbox: `plumb sandbox -- bash THIS`.
#
# Substitutions, because the document runs on a real machine:
# - its uplink eth0 (10.0.2.15) and the internet (223.5.5.5): namespace
#   `outside` behind a veth `uplink`, see lib/uplink.sh;
# - `modprobe br_netfilter`: loading a module from a sandbox would change the
#   whole machine, so the module must already be loaded (this checks it);
# - the web server in netns0 (`python3 -m http.server --bind 172.18.0.10
#   5000`) is started by the test, as on the script's side.
set -euo pipefail
here=$(dirname "${BASH_SOURCE[0]}")
bash "$here/lib/uplink.sh" 10.0.2.15/24 10.0.2.2 223.5.5.5

# network namespace
ip netns add netns0

# 容器连通容器: netns0 and netns1, each with a veth, on bridge br0
ip link add veth0 type veth peer name ceth0
ip link set veth0 up
ip link set ceth0 netns netns0
ip netns exec netns0 ip link set lo up
ip netns exec netns0 ip link set ceth0 up
ip netns exec netns0 ip addr add 172.18.0.10/16 dev ceth0

ip netns add netns1
ip link add veth1 type veth peer name ceth1
ip link set veth1 up
ip link set ceth1 netns netns1
ip netns exec netns1 ip link set lo up
ip netns exec netns1 ip link set ceth1 up
ip netns exec netns1 ip addr add 172.18.0.20/16 dev ceth1

ip link add br0 type bridge
ip link set br0 up
ip link set veth0 master br0
ip link set veth1 master br0

# 容器连通 root namespace: an address on the bridge, a default route in netns0 only
ip addr add 172.18.0.1/16 dev br0
ip netns exec netns0 ip route add default via 172.18.0.1

# 容器连通外界
iptables -t nat -A POSTROUTING -s 172.18.0.0/16 ! -o br0 -j MASQUERADE

# 容器端口发布
iptables -t nat -A PREROUTING -d 10.0.2.15 -p tcp -m tcp --dport 5000 -j DNAT --to-destination 172.18.0.10:5000
iptables -t nat -A OUTPUT -d 10.0.2.15 -p tcp -m tcp --dport 5000 -j DNAT --to-destination 172.18.0.10:5000
# sudo modprobe br_netfilter
[ "$(cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null)" = 1 ] ||
    { echo "br_netfilter is not loaded (modprobe br_netfilter on the machine)" >&2; exit 1; }
