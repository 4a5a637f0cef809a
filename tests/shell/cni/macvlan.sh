# scripts/cni/macvlan.rhai as the plugin: two containers become peers on the
# parent's LAN (each its own MAC and leased address, reaching each other and
# a LAN neighbour through the parent), the host's parent is untouched, and
# DEL leaves the sandbox as it began.
source tests/shell/cni/lib.sh
# The LAN: `lan0` is the parent; its peer in `router` plays the LAN's router.
ip netns add router
ip link add lan0 type veth peer name lan1 netns router
# No IPv6 on the LAN: its addresses' DAD would change the snapshot meanwhile.
sysctl -qw net.ipv6.conf.lan0.disable_ipv6=1
ip netns exec router sysctl -qw net.ipv6.conf.lan1.disable_ipv6=1
ip link set lan0 up
ip -n router addr add 192.168.77.1/24 dev lan1
ip -n router link set lan1 up
for _ in $(seq 50); do ip -n router link show lan1 | contains "state UP" && break; sleep 0.1; done
before=$(snapshot)
parent_mac=$(cat /sys/class/net/lan0/address)
c=$(jq -nc --arg script "$PWD/scripts/cni/macvlan.rhai" '{cniVersion: "1.0.0", name: "plumbmac", type: "plumb",
  script: $script, params: {parent: "lan0", subnet: "192.168.77.0/24", gateway: "192.168.77.1"}}')
ip netns add m1; ip netns add m2
r1=$(cni ADD m1 /run/netns/m1 <<<"$c") || die "ADD m1: $r1"
r2=$(cni ADD m2 /run/netns/m2 <<<"$c") || die "ADD m2: $r2"
a1=$(jq -r '.ips[0].address' <<<"$r1"); a2=$(jq -r '.ips[0].address' <<<"$r2")
[ "$a1" = 192.168.77.2/24 ] && [ "$a2" = 192.168.77.3/24 ] || die "leases: $a1 $a2"
[ "$(ip -n m1 -4 -o addr show eth0 | awk '{print $4}')" = "$a1" ] || die "m1's eth0 has not $a1"
ip -n m1 -d link show eth0 | contains "macvlan mode bridge" || die "m1's eth0 is not a bridge-mode macvlan"
m1_mac=$(ip -n m1 -j link show eth0 | jq -r '.[0].address')
[ "$(jq -r '.interfaces[0].mac' <<<"$r1")" = "$m1_mac" ] || die "ADD answered another MAC: $r1"
[ "$m1_mac" != "$parent_mac" ] || die "m1 took the parent's MAC"
ip -n m1 route | contains "default via 192.168.77.1 dev eth0" || die "m1 has no default route"
ip netns exec m1 ping -c1 -W2 "${a2%/*}" >/dev/null || die "m1 cannot reach m2"
ip netns exec m2 ping -c1 -W2 192.168.77.1 >/dev/null || die "m2 cannot reach the LAN's router"
! ip link show type macvlan | contains plmb || die "a macvlan child stayed beside the parent"
cni CHECK m1 /run/netns/m1 <<<"$c" || die "CHECK of an intact m1 failed"
cni DEL m1 /run/netns/m1 <<<"$c" || die "DEL m1"
cni DEL m2 /run/netns/m2 <<<"$c" || die "DEL m2"
! ip -n m1 link show eth0 >/dev/null 2>&1 || die "DEL left m1's eth0"
ip netns del m1; ip netns del m2
[ "$(cat /sys/class/net/lan0/address)" = "$parent_mac" ] || die "the parent's MAC changed"
[ -z "$(ls /run/plumb/*.jsonl 2>/dev/null)" ] || die "journals left: $(plumb journal list)"
[ "$before" = "$(snapshot)" ] || { diff <(echo "$before") <(echo "$(snapshot)"); die "the sandbox differs at the end"; }
echo "macvlan: peers on the parent's LAN, nothing left"
