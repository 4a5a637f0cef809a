# At the end of a run, its bridge and the host ends of its veths are deleted
# in one request (a device group of their own): links of other groups stay,
# and so does a link that took one of the run's names.
ip link add fg5 type bridge; ip link set fg5 group 5
ip link add fgbig type bridge; ip link set fgbig group 1073741825
before=$(snapshot)
plumb run tests/fixtures/two-containers.rhai 2>/dev/null
# veth1's pair is replaced by a foreign link of the same name.
ip link del veth1; ip link add veth1 type bridge
plumb rollback --last >/run/tg.out 2>&1 || die "rollback failed: $(cat /run/tg.out)"
ip link show veth1 >/dev/null 2>&1 || die "the foreign veth1 was deleted"
contains "veth1" </run/tg.out || die "the foreign veth1 was not named: $(cat /run/tg.out)"
for l in br0 veth0; do
    ! ip link show "$l" >/dev/null 2>&1 || die "$l was left"
done
[ "$(ip -o link show group 5)" ] || die "fg5 (group 5) was deleted"
[ "$(ip -o link show group 1073741825)" ] || die "fgbig was deleted"
ip link del veth1
[ "$before" = "$(snapshot)" ] || die "the sandbox differs: $(diff <(echo "$before") <(snapshot))"
# Above 1025 links they go one request each, the namespaces' with them.
plumb run bench/containers.rhai --set n=1030 >/dev/null 2>&1
plumb rollback --last >/run/tg.out 2>&1 || die "rollback of 1030 containers failed: $(cat /run/tg.out)"
[ "$before" = "$(snapshot)" ] || die "1030 containers: the sandbox differs: $(diff <(echo "$before") <(snapshot))"
echo "together: the run's links went, the others stayed"
