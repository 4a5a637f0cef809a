#!/usr/bin/env bash
# Document 003 (使用 iproute2 客製化你的 Container 網路), section 使用 Bridge:
# two containers on a hand-made bridge, every command in order, as root.
# Runs in a sandbox: `plumb sandbox -- bash THIS`.
#
# Substitutions:
# - the document's machine runs Docker, whose FORWARD policy is DROP: set
#   here first (the document then sets it back to ACCEPT, its last step);
# - `docker run -itd --network=none --name left alpine` (and right) and the
#   /var/run/netns/$pid links become namespaces named left and right, as
#   Docker leaves them (lib/container.sh); $left_pid and $right_pid are those
#   names;
# - brctl (bridge-utils) is not installed: `brctl addbr br0` and `brctl addif
#   br0 X` are written as their iproute2 equivalents.
set -euo pipefail
here=$(dirname "${BASH_SOURCE[0]}")
iptables -P FORWARD DROP

bash "$here/lib/container.sh" left right

# brctl addbr br0
ip link add br0 type bridge
ip link set dev br0 up

ip link add dev left-eth0 type veth peer name left-veth0
ip link add dev right-eth0 type veth peer name right-veth0

left_pid=left right_pid=right

ip link set left-eth0 netns ${left_pid} name eth0
ip link set right-eth0 netns ${right_pid} name eth0

# brctl addif br0 left-veth0; brctl addif br0 right-veth0
ip link set left-veth0 master br0
ip link set right-veth0 master br0

ip link set dev left-veth0 up
ip link set dev right-veth0 up

ip netns exec $left_pid ip addr add 10.113.1.1/24 dev eth0
ip netns exec $left_pid ip link set eth0 up
ip netns exec $right_pid ip addr add 10.113.1.2/24 dev eth0
ip netns exec $right_pid ip link set eth0 up

# 如果沒通的話,可以看一下 iptables 的 FORWARD chain 是不是被 DROP 掉了,是的話先把 Policy 改成 ACCEPT 即可
iptables -P FORWARD ACCEPT
