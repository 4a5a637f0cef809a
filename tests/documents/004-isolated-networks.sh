#!/usr/bin/env bash
# Document 004 (容器网络技术栈), 自定义网络 / Bridge: two user-defined bridge
# networks (`docker network create --driver bridge NAME`) with containers on
# them (`docker run --network NAME`): "containers on one network talk, SNAT
# out and DNAT in as on the default bridge, but one bridge cannot reach
# another". The document shows no commands, so these are the ones Docker
# (20.10) runs for it, as root. Runs in a sandbox: `plumb sandbox -- bash THIS`.
#
# Names and addresses the document leaves open are the script's: networks
# frontend (bridge br-front, 172.20.0.0/16) and backend (br-back,
# 172.21.0.0/16), containers front1, front2, back1, back2 with addresses from
# .2 and host-side veths named veth + container (Docker's are random).
# Substitutions:
# - the machine's uplink and the internet: namespace `outside` behind a veth
#   `uplink`, see lib/uplink.sh; outside also routes 172.20.0.0/16 here;
# - the containers' namespaces: lib/container.sh (lo up, IPv6 off);
# - Docker's default bridge docker0, on every Docker host, is left out.
set -euo pipefail
here=$(dirname "${BASH_SOURCE[0]}")
bash "$here/lib/uplink.sh" 10.0.2.15/24 10.0.2.2
ip -n outside route add 172.20.0.0/16 via 10.0.2.15

# The daemon: forwarding on, FORWARD policy DROP, its chains.
sysctl -w net.ipv4.ip_forward=1
iptables -P FORWARD DROP
iptables -t nat -N DOCKER
iptables -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
iptables -t nat -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
iptables -N DOCKER
iptables -N DOCKER-ISOLATION-STAGE-1
iptables -N DOCKER-ISOLATION-STAGE-2
iptables -N DOCKER-USER
iptables -A FORWARD -j DOCKER-USER
iptables -A FORWARD -j DOCKER-ISOLATION-STAGE-1
iptables -A DOCKER-USER -j RETURN
iptables -A DOCKER-ISOLATION-STAGE-1 -j RETURN
iptables -A DOCKER-ISOLATION-STAGE-2 -j RETURN

# docker network create --driver bridge --subnet SUBNET NAME
network() {
    local bridge=$1 subnet=$2 gateway=$3
    ip link add "$bridge" type bridge
    ip addr add "$gateway" brd + dev "$bridge"
    ip link set "$bridge" up
    iptables -t nat -I POSTROUTING -s "$subnet" ! -o "$bridge" -j MASQUERADE
    iptables -t nat -I DOCKER -i "$bridge" -j RETURN
    iptables -I FORWARD 3 -i "$bridge" -o "$bridge" -j ACCEPT
    iptables -I FORWARD 3 -i "$bridge" ! -o "$bridge" -j ACCEPT
    iptables -I FORWARD 3 -o "$bridge" -j DOCKER
    iptables -I FORWARD 3 -o "$bridge" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
    iptables -I DOCKER-ISOLATION-STAGE-1 -i "$bridge" ! -o "$bridge" -j DOCKER-ISOLATION-STAGE-2
    iptables -I DOCKER-ISOLATION-STAGE-2 -o "$bridge" -j DROP
}
network br-front 172.20.0.0/16 172.20.0.1/16
network br-back 172.21.0.0/16 172.21.0.1/16

# docker run --network NAME: a veth, eth0 inside, the next address, a default route
run() {
    local name=$1 bridge=$2 cidr=$3 gateway=$4
    bash "$here/lib/container.sh" "$name"
    ip link add "veth$name" type veth peer name eth0 netns "$name"
    ip link set "veth$name" master "$bridge" up
    ip -n "$name" addr add "$cidr" brd + dev eth0
    ip -n "$name" link set eth0 up
    ip -n "$name" route add default via "$gateway"
}
run front1 br-front 172.20.0.2/16 172.20.0.1
run back1 br-back 172.21.0.2/16 172.21.0.1
run front2 br-front 172.20.0.3/16 172.20.0.1
run back2 br-back 172.21.0.3/16 172.21.0.1
