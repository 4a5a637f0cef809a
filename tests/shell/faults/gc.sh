# Orphans: the journal is deleted; gc lists exactly plumb's objects, removes
# them with --yes, and never touches what it did not mark.
ip link add hand0 type veth peer name hand1
ip netns add handns
iptables -A INPUT -s 10.9.9.9 -m comment --comment mine -j DROP
sleep 1003 & hand=$!
before=$(snapshot)
plumb run tests/fixtures/faults/workload.rhai --set rules=20 2>/dev/null
rm -f /run/plumb/*.jsonl
plumb gc >/run/gc.list 2>/dev/null && die "gc found nothing"
for w in "namespace fw0" "link fw0" "link fwv0" "plumb:shared/" "sleep 1000" "ip_forward"; do
  grep -q "$w" /run/gc.list || die "gc missed $w: $(cat /run/gc.list)"
done
for w in hand0 handns mine "sleep 1003"; do
  ! grep -q "$w" /run/gc.list || die "gc lists $w, which plumb did not make"
done
plumb gc --yes 2>/run/gc.err || die "gc --yes failed: $(cat /run/gc.err)"
[ "$before" = "$(snapshot)" ] || { diff <(echo "$before") <(echo "$(snapshot)"); die "gc did not restore the sandbox"; }
kill -0 $hand || die "gc killed a process it did not start"
kill $hand
echo "gc: $(wc -l </run/gc.list) orphans removed, nothing else touched"
