# exit(N): N is plumb's exit status; N != 0 rolls the run back; exit(0) and
# exit() keep the changes; a try block does not catch it, nor does a script
# run by run_script() keep it to itself.
before=$(snapshot)
status_of() { local rc=0; plumb run "$@" 2>>/run/exit.err || rc=$?; echo $rc; }
echo 'netns("e3"); exit(3); netns("never");' >/run/exit3.rhai
[ "$(status_of /run/exit3.rhai)" = 3 ] || die "exit(3) did not give status 3"
grep -F '/run/exit3.rhai:1:14: the script called exit(3)' /run/exit.err >/dev/null || { cat /run/exit.err; die "no located message"; }
[ "$before" = "$(snapshot)" ] || die "exit(3) did not roll back"
echo 'netns("e4"); try { exit(4); } catch { print("caught"); }' >/run/exit4.rhai
[ "$(status_of /run/exit4.rhai)" = 4 ] || die "try caught exit(4)"
echo 'run_script("exit5-inner.rhai"); netns("after");' >/run/exit5.rhai
echo 'netns("e5"); exit(5);' >/run/exit5-inner.rhai
[ "$(status_of /run/exit5.rhai)" = 5 ] || die "exit(5) in run_script() did not end the run"
[ "$before" = "$(snapshot)" ] || die "exit(4) or exit(5) did not roll back"
echo 'netns("e0"); exit(0); netns("never");' >/run/exit0.rhai
[ "$(status_of /run/exit0.rhai)" = 0 ] || die "exit(0) failed"
[ "$(ls /run/netns)" = e0 ] || die "exit(0) did not keep its change (or went on)"
echo 'netns("e-unit"); exit();' >/run/exit-unit.rhai
[ "$(status_of /run/exit-unit.rhai)" = 0 ] || die "exit() failed"
[ -e /run/netns/e-unit ] || die "exit() did not keep its change"
echo ok
