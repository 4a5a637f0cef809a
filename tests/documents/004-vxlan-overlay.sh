#!/usr/bin/env bash
# Document 004 (容器网络技术栈), 自定义网络 / Overlay: `docker network create
# -d overlay my-overlay` and a container on it on each of two hosts. The
# document describes what Docker builds but shows no commands; these build
# exactly what it describes, as root: on each host a namespace of the overlay
# network's own holding a bridge br0, joined by a VXLAN device (UDP port 4789)
# and by one end of a veth pair whose other end is the container's eth0, with
# MTU 1450; the network's subnet 10.0.0.0/24 shared by the hosts, addresses
# handed out in order. Runs in a sandbox: `plumb sandbox -- bash THIS`.
#
# Substitutions and choices, because the document spans two machines:
# - the two hosts are namespaces host1 and host2 (IPv6 on, as on a machine)
#   whose eth0s are the two ends of one veth, 192.168.1.1 and .2;
# - the overlay namespace, which Docker names alike on both hosts
#   (1-625e8bbfff), is ov-host1 on host1 and ov-host2 on host2; like the
#   containers' (lib/container.sh) it has lo up and IPv6 off;
# - Docker's VXLAN device learns its peers from Docker's control plane; here
#   it is told the other host (remote) and learns MACs itself;
# - names the document leaves open are the script's: VNI 42, VXLAN device
#   vxlan42, host-side veth ends vxc1 and vxc2, containers c1 and c2;
# - the containers' second interface eth1 on docker_gwbridge (their way out
#   through NAT, which the document mentions) is left out, as in the script.
set -euo pipefail
here=$(dirname "${BASH_SOURCE[0]}")

# Two machines on one LAN.
ip netns add host1
ip netns add host2
ip -n host1 link set lo up
ip -n host2 link set lo up
ip -n host1 link add eth0 type veth peer name eth0 netns host2
ip -n host1 addr add 192.168.1.1/24 dev eth0
ip -n host2 addr add 192.168.1.2/24 dev eth0
ip -n host1 link set eth0 up
ip -n host2 link set eth0 up

# On host N: the overlay network's namespace ov-hostN with br0 and vxlan42
# (made in the host, where its UDP socket lives, then moved in), and
# container cN with eth0 at ADDRESS.
overlay() {
    local n=$1 address=$2 local_ip=$3 remote_ip=$4
    local host=host$n ov=ov-host$n c=c$n
    bash "$here/lib/container.sh" "$ov" "$c"
    ip -n "$ov" link add br0 type bridge
    ip -n "$ov" link set br0 mtu 1450
    ip -n "$ov" link set br0 up
    ip -n "$host" link add vxlan42 type vxlan id 42 dstport 4789 local "$local_ip" remote "$remote_ip" dev eth0
    ip -n "$host" link set vxlan42 netns "$ov"
    ip -n "$ov" link set vxlan42 master br0
    ip -n "$ov" link set vxlan42 up
    ip -n "$ov" link add "vx$c" mtu 1450 type veth peer name eth0 mtu 1450 netns "$c"
    ip -n "$ov" link set "vx$c" master br0 up
    ip -n "$c" addr add "$address" brd + dev eth0
    ip -n "$c" link set eth0 up
}
overlay 1 10.0.0.2/24 192.168.1.1 192.168.1.2
overlay 2 10.0.0.3/24 192.168.1.2 192.168.1.1
