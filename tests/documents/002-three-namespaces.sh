#!/usr/bin/env bash
# Document 002 (使用veth和bridge搭建容器网络), every command of its steps in
# order, as root. Runs in a sandbox: `plumb sandbox -- bash THIS`.
#
# Substitution, because the document runs on a real machine: its uplink ens33
# (192.168.17.10, router 192.168.17.2) and the internet (8.8.8.8) are
# namespace `outside` behind a veth `uplink`, see lib/uplink.sh.
set -euo pipefail
here=$(dirname "${BASH_SOURCE[0]}")
bash "$here/lib/uplink.sh" 192.168.17.10/24 192.168.17.2 8.8.8.8

# 步骤1：创建三个network namespace
ip netns add ns1
ip netns add ns2
ip netns add ns3

# step2：创建虚拟交换机
ip link add vbridge type bridge
ip link set dev vbridge up

ip link add veth-1 type veth peer name veth-1-br
ip link add veth-2 type veth peer name veth-2-br
ip link add veth-3 type veth peer name veth-3-br

ip link set veth-1 netns ns1
ip link set veth-1-br master vbridge
ip link set veth-2 netns ns2
ip link set veth-2-br master vbridge
ip link set veth-3 netns ns3
ip link set veth-3-br master vbridge

ip netns exec ns1 ip addr add 192.168.28.1/24 dev veth-1
ip netns exec ns2 ip addr add 192.168.28.2/24 dev veth-2
ip netns exec ns3 ip addr add 192.168.28.3/24 dev veth-3

ip netns exec ns1 ip link set veth-1 up
ip link set dev veth-1-br up
ip netns exec ns2 ip link set veth-2 up
ip link set dev veth-2-br up
ip netns exec ns3 ip link set veth-3 up
ip link set dev veth-3-br up

# step3： 实现可以和主机之间通讯
ip addr add 192.168.28.5/24 dev vbridge
ip netns exec ns1 ip route add default via 192.168.28.5
ip netns exec ns2 ip route add default via 192.168.28.5
ip netns exec ns3 ip route add default via 192.168.28.5

# step4： namespace实现可以和外网通讯
sysctl -w net.ipv4.ip_forward=1
iptables -t nat -A POSTROUTING -s 192.168.28.0/24 -j MASQUERADE
