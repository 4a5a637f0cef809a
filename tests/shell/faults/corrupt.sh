# An unreadable journal line: rollback undoes the rest, says which line,
# and does not claim "rolled back"; plumb gc finds what the line described.
before=$(snapshot)
plumb run tests/fixtures/two-containers.rhai 2>/dev/null
journal=$(ls /run/plumb/*.jsonl)
n=$(grep -n '"netns_add","name":"netns0"' "$journal" | cut -d: -f1)
[ -n "$n" ] || die "no netns0 line in the journal"
sed -i "${n}s/.*/{\"t\":\"op\",garbage/" "$journal"
if plumb rollback --last 2>/run/cor.err; then die "rollback claimed success past an unreadable line"; fi
grep -q "unreadable line(s) $n" /run/cor.err || die "the line is not named: $(cat /run/cor.err)"
! plumb journal list | contains 'rolled back' || die "the journal says rolled back: $(plumb journal list)"
ip netns list | contains netns0 || die "netns0 went although its line was unreadable (?)"
{ plumb gc 2>/dev/null || true; } | contains "namespace netns0" || die "gc does not find netns0"
plumb gc --yes 2>/dev/null || die "gc --yes failed"
[ "$before" = "$(snapshot)" ] || { diff <(echo "$before") <(echo "$(snapshot)"); die "the sandbox differs after gc"; }
echo "corrupt line: named, incomplete, gc finished"
