# A link renamed by hand is still found by its mark and removed.
before=$(snapshot)
plumb run tests/fixtures/two-containers.rhai 2>/dev/null
ip link set br0 down; ip link set br0 name brX
plumb rollback --last 2>/run/ren.err || die "rollback failed: $(cat /run/ren.err)"
! ip link show brX >/dev/null 2>&1 || die "the renamed bridge brX was left"
[ "$before" = "$(snapshot)" ] || die "the sandbox differs"
echo "renamed: found by its mark"
