#!/usr/bin/env bash
# A stand-in for `docker run --net=none NAME`: the container's network
# namespace, named NAME (the documents name it by the container's PID), with
# only lo, up, and IPv6 off as Docker (17.06 and later) leaves it:
# net.ipv6.conf.all.disable_ipv6=1, so not even lo has ::1 (document 003's
# `ip a` in the containers shows no inet6 address; see also
# containernetworking/cni#531 and moby/moby#42748).
#
# Usage: container.sh NAME...
set -euo pipefail
for name in "$@"; do
    ip netns add "$name"
    ip netns exec "$name" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    ip -n "$name" link set lo up
done
