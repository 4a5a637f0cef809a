#!/usr/bin/env bash
# Document 003 (使用 iproute2 客製化你的 Container 網路), section 解決(使用 veth
# peer): two containers joined by one veth pair, every command in order, as
# root. Runs in a sandbox: `plumb sandbox -- bash THIS`.
#
# Substitution: `docker run -itd --name=left --net=none alpine` (and right)
# and the /var/run/netns/$pid links to their namespaces become namespaces
# named left and right, as Docker leaves them (lib/container.sh); $left_pid
# and $right_pid are those names.
set -euo pipefail
here=$(dirname "${BASH_SOURCE[0]}")
bash "$here/lib/container.sh" left right
left_pid=left right_pid=right

ip link add A type veth peer name B

ip link set A netns $left_pid
ip netns exec $left_pid ip link set dev A name eth0
ip netns exec $left_pid ip link set eth0 up
ip netns exec $left_pid ip addr add 10.113.1.1/24 dev eth0
#ip netns exec $left_pid ip route add default via 10.113.1.254

ip link set B netns $right_pid
ip netns exec $right_pid ip link set dev B name eth0
ip netns exec $right_pid ip link set eth0 up
ip netns exec $right_pid ip addr add 10.113.1.2/24 dev eth0
#ip netns exec $right_pid ip route add default via 10.113.1.254
