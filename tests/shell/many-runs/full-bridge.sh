# The 1025th port of a bridge: the kernel's limit, said in users' words.
before=$(snapshot)
if plumb run tests/fixtures/many-runs/ports.rhai 2>/tmp/full.err; then die "1025 ports on one bridge were accepted"; fi
grep -q "1024 ports, the most the kernel allows" /tmp/full.err || die "unclear: $(grep -v rolled /tmp/full.err)"
! grep -q "Exchange full" /tmp/full.err || die "the kernel's words leak: $(cat /tmp/full.err)"
[ "$before" = "$(snapshot)" ] || die "the sandbox differs"
grep 'ports.rhai' /tmp/full.err | head -1
