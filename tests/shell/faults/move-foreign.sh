# move_to() of a link plumb did not make is refused: moving it strips its
# addresses and routes, which no undo could put back exactly.
ip link add up0 type veth peer name up0p
ip addr add 10.1.1.1/24 dev up0
ip link set up0 up; ip link set up0p up
ip route add 10.2.0.0/16 via 10.1.1.254
before=$(snapshot)
printf 'let ns = netns("mv");\nlink("up0").move_to(ns);\n' >/run/move.rhai
if plumb run /run/move.rhai 2>/run/move.err; then die "moving a foreign link was allowed"; fi
grep -q "move.rhai:2:.*'up0' was not made by this run" /run/move.err || die "unclear refusal: $(cat /run/move.err)"
[ "$before" = "$(snapshot)" ] || { diff <(echo "$before") <(echo "$(snapshot)"); die "the refusal changed something"; }
ip -o addr show up0 | contains 10.1.1.1/24 || die "up0 lost its address"
ip route | contains '10.2.0.0/16 via 10.1.1.254' || die "up0 lost its route"
# A link the run made moves, and comes back on rollback.
printf 'let ns = netns("mv");\nlet v = veth("mine0", #{ peer: "mine1" });\nv.move_to(ns, "eth0");\n' >/run/mine.rhai
plumb run /run/mine.rhai 2>/dev/null || die "moving the run's own link failed"
ip -n mv link show eth0 >/dev/null || die "mine0 did not move"
plumb rollback --last 2>/dev/null
[ "$before" = "$(snapshot)" ] || die "rolling the move back left something"
echo "move: foreign refused, own moved and back"
