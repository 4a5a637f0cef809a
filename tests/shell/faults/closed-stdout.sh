# A closed standard output is an error like any other: the run rolls back,
# nothing panics; listings just stop.
before=$(snapshot)
printf 'netns("out0");\nfor i in 0..20000 { print(`line ${i}`); }\n' >/run/print.rhai
set +o pipefail
plumb run /run/print.rhai 2>/run/pipe.err | head -1 >/dev/null
code=${PIPESTATUS[0]}
set -o pipefail
[ "$code" != 0 ] || die "the run succeeded with its output closed"
! grep -q panicked /run/pipe.err || die "plumb panicked: $(cat /run/pipe.err)"
grep -q "standard output" /run/pipe.err || die "no word of the closed output: $(cat /run/pipe.err)"
[ "$before" = "$(snapshot)" ] || die "the failed run was not rolled back"
plumb run tests/fixtures/two-containers.rhai 2>/dev/null
run=$(plumb journal list | awk '/applied/ {print $1}')
for cmd in "journal show $run" "journal list" "doc"; do
  set +o pipefail
  plumb $cmd 2>/run/list.err | head -2 >/dev/null
  code=${PIPESTATUS[0]}
  set -o pipefail
  [ "$code" = 0 ] || die "plumb $cmd | head exited $code: $(cat /run/list.err)"
  ! grep -q panicked /run/list.err || die "plumb $cmd panicked"
done
plumb rollback --last 2>/dev/null
echo "closed stdout: rolled back, no panic"
