#!/usr/bin/env bash
# Document 004 (容器网络技术栈): macvlan, one of the drivers of `docker network
# create --driver` and of the routed multi-host solutions ("基于二层隔离"):
# containers on macvlan sub-interfaces of the host's uplink, each with a MAC
# of its own, talking directly (bridge mode) without a Linux bridge. The
# document shows no commands; these build what it describes, as root. Runs in
# a sandbox: `plumb sandbox -- bash THIS`.
#
# Substitutions and choices:
# - the parent, the machine's uplink, is a stand-in veth mv-parent (its peer
#   mv-peer up, so the parent has carrier as a plugged-in eth0 does);
# - the containers' namespaces: lib/container.sh (lo up, IPv6 off);
# - names and addresses the document leaves open are the script's: children
#   mv-c1, mv-c2 in containers c1, c2, at 192.168.100.11 and .12 (Docker
#   would rename them eth0 and give them .2, .3 and a default route via .1).
set -euo pipefail
here=$(dirname "${BASH_SOURCE[0]}")

ip link add mv-parent type veth peer name mv-peer
ip link set mv-parent up
ip link set mv-peer up

bash "$here/lib/container.sh" c1 c2
for i in 1 2; do
    ip link add mv-c$i link mv-parent type macvlan mode bridge
    ip link set mv-c$i netns c$i
    ip -n c$i addr add 192.168.100.$((10 + i))/24 dev mv-c$i
    ip -n c$i link set mv-c$i up
done
