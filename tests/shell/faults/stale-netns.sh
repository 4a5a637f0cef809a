# A namespace file that is no namespace (a run killed between creating it
# and mounting it): rollback treats it as done and removes the file, as
# `ip netns del` does.
before=$(snapshot)
printf 'netns("st0");\nnetns("st1");\n' >/run/st.rhai
plumb run /run/st.rhai 2>/dev/null
umount /run/netns/st0
[ -e /run/netns/st0 ] || die "the test could not leave a stale file"
plumb rollback --last 2>/run/st.err || die "rollback failed on a stale file: $(cat /run/st.err)"
[ ! -e /run/netns/st0 ] || die "the stale file was left"
[ "$before" = "$(snapshot)" ] || die "the sandbox differs"
echo "stale namespace file: removed"
