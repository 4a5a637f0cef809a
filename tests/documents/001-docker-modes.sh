#!/usr/bin/env bash
# Documents 001 (容器网络(一)) and 004 (Docker单节点的四种网络模型): one
# container in each of Docker's network modes. The documents show what Docker
# builds (docker0 172.17.0.1/16; a container's eth0 at 172.17.0.2/16 with its
# veth on docker0 and a default route via 172.17.0.1; MASQUERADE out; DNAT
# for a published port; host mode in the host's namespace; container mode in
# another container's; none mode with only lo) but not the commands; these
# are the ones Docker (20.10) runs for it, as root. Runs in a sandbox:
# `plumb sandbox -- bash THIS`.
#
# Containers, named as in the script: web (bridge mode, `docker run -p
# 8080:80`), tool (--net=host), box (--net=none), sidecar (--net=container:web).
# Substitutions and choices:
# - the machine's uplink: namespace `outside` behind a veth `uplink`, see
#   lib/uplink.sh; outside also routes 172.17.0.0/16 here;
# - the containers' namespaces: lib/container.sh (lo up, IPv6 off);
# - web's host-side veth is named vethweb (Docker's name is random);
# - Docker's userland proxy (docker-proxy, listening on the published port
#   for what the rules do not catch, such as 127.0.0.1:8080) is not run.
set -euo pipefail
here=$(dirname "${BASH_SOURCE[0]}")
bash "$here/lib/uplink.sh" 10.0.2.15/24 10.0.2.2
ip -n outside route add 172.17.0.0/16 via 10.0.2.15

# The daemon and its default network "bridge": docker0.
sysctl -w net.ipv4.ip_forward=1
ip link add docker0 type bridge
ip addr add 172.17.0.1/16 brd + dev docker0
ip link set docker0 up
iptables -P FORWARD DROP
iptables -t nat -N DOCKER
iptables -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
iptables -t nat -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
iptables -t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
iptables -t nat -A DOCKER -i docker0 -j RETURN
iptables -N DOCKER
iptables -N DOCKER-ISOLATION-STAGE-1
iptables -N DOCKER-ISOLATION-STAGE-2
iptables -N DOCKER-USER
iptables -A FORWARD -j DOCKER-USER
iptables -A FORWARD -j DOCKER-ISOLATION-STAGE-1
iptables -A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
iptables -A FORWARD -o docker0 -j DOCKER
iptables -A FORWARD -i docker0 ! -o docker0 -j ACCEPT
iptables -A FORWARD -i docker0 -o docker0 -j ACCEPT
iptables -A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2
iptables -A DOCKER-ISOLATION-STAGE-1 -j RETURN
iptables -A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP
iptables -A DOCKER-ISOLATION-STAGE-2 -j RETURN
iptables -A DOCKER-USER -j RETURN

# docker run -d --name web -p 8080:80 ... (bridge mode)
bash "$here/lib/container.sh" web
ip link add vethweb type veth peer name eth0 netns web
ip link set vethweb master docker0 up
ip -n web addr add 172.17.0.2/16 brd + dev eth0
ip -n web link set eth0 up
ip -n web route add default via 172.17.0.1
iptables -t nat -A POSTROUTING -s 172.17.0.2/32 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -j MASQUERADE
iptables -t nat -A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80
iptables -A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT

# docker run --net=host --name tool ...: the host's own namespace, nothing to build.
# docker run --net=none --name box ...: a namespace with only lo.
bash "$here/lib/container.sh" box
# docker run --net=container:web --name sidecar ...: web's namespace, nothing to build.
