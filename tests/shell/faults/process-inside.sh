# A process plumb did not start keeps a namespace alive: rollback says so
# at once (by pid and command), deletes the links it owns outside, keeps the
# namespace named, says "incomplete"; --kill ends the process and finishes.
before=$(snapshot)
plumb run tests/fixtures/two-containers.rhai 2>/dev/null
ip netns exec netns0 sleep 1000 & holder=$!
sleep 0.2
start=$(date +%s)
if plumb rollback --last 2>/run/busy.err; then die "rollback claimed success with a process inside"; fi
[ $(( $(date +%s) - start )) -le 5 ] || die "rollback took more than 5 s"
grep -q "pid $holder (sleep 1000)" /run/busy.err || die "the process is not named: $(cat /run/busy.err)"
! ip link show veth0 >/dev/null 2>&1 || die "the host end veth0 was left"
ip netns list | contains netns0 || die "the busy namespace was unnamed"
! ip netns list | contains netns1 || die "the free namespace was kept"
plumb journal list | contains incomplete || die "the journal does not say incomplete: $(plumb journal list)"
! plumb journal list | contains 'rolled back' || die "the journal says rolled back"
plumb rollback --last --kill 2>/run/kill.err || die "rollback --kill failed: $(cat /run/kill.err)"
! kill -0 $holder 2>/dev/null || die "the process survived --kill"
wait $holder 2>/dev/null || true
[ "$before" = "$(snapshot)" ] || { diff <(echo "$before") <(echo "$(snapshot)"); die "the sandbox differs"; }
# A spawned program and what it starts in the background all go.
printf 'let ns = netns("sp");\nspawn_in(ns, ["sh", "-c", "sleep 1001 & sleep 1002"]);\n' >/run/spawn.rhai
plumb run /run/spawn.rhai 2>/dev/null
sleep 0.2
[ "$(pgrep -c -f '^sleep 100[12]$')" = 2 ] || die "the spawned tree did not start"
plumb rollback --last 2>/dev/null || die "rollback of the spawned tree failed"
! pgrep -f '^sleep 100[12]$' >/dev/null || die "part of the spawned tree survived: $(pgrep -af 'sleep 100')"
[ "$before" = "$(snapshot)" ] || die "the sandbox differs after the spawned tree"
echo "process inside: named, kept, --kill finished; spawned tree stopped"
