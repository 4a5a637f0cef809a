# The 1025th port of a bridge: the kernel's limit, said in users' words.
before=$(snapshot)
if plumb run tests/fixtures/many-runs/ports.rhai 2>/run/full.err; then die "1025 ports on one bridge were accepted"; fi
grep -q "1024 ports, the most the kernel allows" /run/full.err || die "unclear: $(grep -v rolled /run/full.err)"
! grep -q "Exchange full" /run/full.err || die "the kernel's words leak: $(cat /run/full.err)"
[ "$before" = "$(snapshot)" ] || die "the sandbox differs"
grep 'ports.rhai' /run/full.err | head -1
