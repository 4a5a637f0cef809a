#!/usr/bin/env bash
# Document 004 (容器网络技术栈), Docker多节点网络方案 / 路由: the routed model
# (Calico, flannel host-gw): every host has a container subnet of its own,
# and the hosts reach each other's containers through plain routes via the
# other host, with no overlay and no NAT. The document shows no commands;
# these build what it describes, as root. Runs in a sandbox:
# `plumb sandbox -- bash THIS`.
#
# Substitutions and choices, because the document spans machines:
# - the two hosts are namespaces host1 and host2 (IPv6 on, as on a machine)
#   whose eth0s are the two ends of one veth, 192.168.1.1 and .2;
# - the containers' namespaces: lib/container.sh (lo up, IPv6 off);
# - names and addresses the document leaves open are the script's: on host N
#   a bridge cbr0 with 10.244.N.1/24 and container cN at 10.244.N.2 behind
#   veth-cN.
set -euo pipefail
here=$(dirname "${BASH_SOURCE[0]}")

ip netns add host1
ip netns add host2
ip -n host1 link set lo up
ip -n host2 link set lo up
ip -n host1 link add eth0 type veth peer name eth0 netns host2
ip -n host1 addr add 192.168.1.1/24 dev eth0
ip -n host2 addr add 192.168.1.2/24 dev eth0
ip -n host1 link set eth0 up
ip -n host2 link set eth0 up

bash "$here/lib/container.sh" c1 c2
for n in 1 2; do
    other=$((3 - n))
    ip netns exec host$n sysctl -w net.ipv4.ip_forward=1
    ip -n host$n link add cbr0 type bridge
    ip -n host$n addr add 10.244.$n.1/24 dev cbr0
    ip -n host$n link set cbr0 up
    ip -n host$n link add veth-c$n type veth peer name eth0 netns c$n
    ip -n host$n link set veth-c$n master cbr0 up
    ip -n c$n addr add 10.244.$n.2/24 dev eth0
    ip -n c$n link set eth0 up
    ip -n c$n route add default via 10.244.$n.1
    # The other host's containers, via the other host.
    ip -n host$n route add 10.244.$other.0/24 via 192.168.1.$other
done
