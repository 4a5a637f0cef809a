# --dry-run prints `ip addr add` with the broadcast plumb sets (brd +) and
# IPv6 addresses with nodad (usable at once, as Docker adds them); the text
# runs in sh and builds those addresses.
cat >/run/addrs.rhai <<'R'
let b = bridge("br-d");
addr(b, "10.31.0.1/24");
let ns = netns("d6", #{ ipv6: true });
let v = veth("v-d6", #{ peer: "e-d6", netns: ns });
addr(v.peer, "fd31::2/64");
R
plumb run --dry-run /run/addrs.rhai >/run/addrs.sh
grep -x 'ip addr add 10.31.0.1/24 brd + dev br-d' /run/addrs.sh >/dev/null || { cat /run/addrs.sh; die "no brd + in the IPv4 address line"; }
grep -x 'ip -n d6 addr add fd31::2/64 nodad dev e-d6' /run/addrs.sh >/dev/null || { cat /run/addrs.sh; die "no nodad in the IPv6 address line"; }
sh -e /run/addrs.sh
ip -o -4 addr show br-d | contains 'inet 10.31.0.1/24 brd 10.31.0.255' || die "sh did not build the broadcast"
global=$(ip -n d6 -o -6 addr show e-d6 | grep 'fd31::2/64' || true)
contains 'scope global nodad' <<<"$global" || die "sh did not add the IPv6 address without DAD: $global"
contains tentative <<<"$global" && die "the IPv6 address waits for DAD"
echo ok
