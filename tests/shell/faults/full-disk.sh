# A state directory that fills up: the run stops before the change it could
# not journal and undoes what it made; a full disk leaves no empty journal;
# an unreadable journal is listed as such and blocks nobody.
mkdir -p /run/state
mount -t tmpfs -o size=8k tmpfs /run/state
export PLUMB_STATE_DIR=/run/state
before=$(snapshot)
if plumb run --set n=20 bench/containers.rhai 2>/run/disk.err; then die "the run succeeded on an 8k disk"; fi
grep -q "No space left on device" /run/disk.err || die "no word of the full disk: $(cat /run/disk.err)"
grep -q "rolled back the" /run/disk.err || die "no rollback: $(cat /run/disk.err)"
[ "$before" = "$(snapshot)" ] || { diff <(echo "$before") <(echo "$(snapshot)"); die "the sandbox differs after the failed run"; }
plumb rollback --all 2>/dev/null || die "rollback --all failed afterwards"
[ "$before" = "$(snapshot)" ] || die "rollback --all changed the sandbox"
# Completely full: nothing is made, no empty journal appears.
rm -f /run/state/*.jsonl
head -c 16384 /dev/zero >/run/state/fill 2>/dev/null || true
if plumb run tests/fixtures/two-containers.rhai 2>/run/full.err; then die "a run succeeded on a full disk"; fi
[ -z "$(ls /run/state/*.jsonl 2>/dev/null)" ] || die "a journal was left: $(ls -l /run/state)"
[ "$before" = "$(snapshot)" ] || die "the sandbox differs after the run on a full disk"
rm -f /run/state/fill
# An empty journal (from some crash) is listed as unreadable and skipped.
: >/run/state/20200101-000000-1.jsonl
plumb run tests/fixtures/two-containers.rhai 2>/dev/null || die "a run failed beside an empty journal"
plumb journal list | contains unreadable || die "the empty journal is not listed as unreadable"
plumb rollback --last 2>/run/last.err || die "--last failed: $(cat /run/last.err)"
[ "$before" = "$(snapshot)" ] || die "--last did not roll the run back"
echo "full disk: stopped and undone, no empty journal, unreadable listed"
