#!/usr/bin/env bash
# The machine's uplink and "the internet" of a document, on one machine: the
# documents use the real host's eth0 (000: 10.0.2.15, 002: 192.168.17.10), its
# router and internet addresses (223.5.5.5, 8.8.8.8). Here namespace `outside`
# plays the router and the internet, joined to the host by a veth: `uplink` on
# the host holds HOST_CIDR, eth0 in outside holds ROUTER, and outside's lo holds
# each INTERNET address. The host's default route goes via ROUTER; outside has
# no route to the containers' subnets, so it answers them only through NAT.
#
# Usage: uplink.sh HOST_CIDR ROUTER [INTERNET_IP...]
set -euo pipefail
host_cidr=$1 router=$2
shift 2
ip netns add outside
ip -n outside link set lo up
ip link add uplink type veth peer name eth0 netns outside
ip addr add "$host_cidr" dev uplink
ip link set uplink up
ip -n outside addr add "$router/${host_cidr#*/}" dev eth0
ip -n outside link set eth0 up
ip route add default via "$router"
for internet_ip in "$@"; do
    ip -n outside addr add "$internet_ip/32" dev lo
done
