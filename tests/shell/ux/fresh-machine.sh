# A machine without iptables, ping and python3 (PATH without them): plumb
# names what to install, with the one command, before it changes anything;
# what the script's text hides is caught at the call, and rolled back.
fresh=/run/fresh-machine-bin
mkdir -p $fresh
for dir in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do
  for f in "$dir"/*; do
    name=${f##*/}
    case $name in iptables*|ip6tables*|xtables*|ping|python3*) continue ;; esac
    [ -e "$fresh/$name" ] || ln -s "$f" "$fresh/$name"
  done
done
ln -sf "$(command -v plumb)" "$fresh/plumb"
before=$(snapshot)
fails() { # fails NAME COMMAND...: must fail; its stderr in /run/NAME.err
  if PATH=$fresh "${@:2}" 2>/run/$1.err; then die "$1 should fail"; fi
  cat /run/$1.err
  [ "$before" = "$(snapshot)" ] || die "$1 left something"
}
has() { grep -F -- "$2" /run/$1.err >/dev/null || die "$1: no '$2'"; }

fails run plumb run scripts/bridge-nat.rhai
has run 'plumb: scripts/bridge-nat.rhai needs iptables, iptables-restore, iptables-save (for masquerade() at line'
has run 'which are not installed: install them with: apt-get install -y iptables'
grep -F 'rolled back' /run/run.err && die "the run started before saying what is missing"
[ -z "$(ls /run/plumb 2>/dev/null)" ] || die "a journal was written"

fails test plumb test tests/scenarios/bridge-nat.rhai
has test 'plumb test needs iptables, iptables-restore, iptables-save, ping, python3 (for masquerade() at tests/scenarios/../../scripts/bridge-nat.rhai:'
has test 'check::serve() at tests/scenarios/bridge-nat.rhai:'
has test 'install them with: apt-get install -y iptables iputils-ping python3'

echo 'netns("a"); Fn("masquerade").call("10.0.0.0/8");' >/run/hidden-fw.rhai
fails hidden-fw plumb run /run/hidden-fw.rhai
has hidden-fw '/run/hidden-fw.rhai:1:30: masquerade() needs iptables, iptables-save, iptables-restore, which are not installed: install them with: apt-get install -y iptables'

echo 'netns("a"); let p = "pyth" + "on3"; exec_in(host(), [p, "-c", "1"]);' >/run/hidden-exec.rhai
fails hidden-exec plumb run /run/hidden-exec.rhai
has hidden-exec '/run/hidden-exec.rhai:1:37: running "python3 -c 1" in the host namespace needs python3, which is not installed: install it with: apt-get install -y python3'

# A dry run runs nothing, so it needs nothing.
PATH=$fresh plumb run --dry-run scripts/bridge-nat.rhai >/dev/null || die "the dry run needs programs"

# The test suite's list: .ci/missing-packages names exactly the packages whose program is gone.
[ "$(PATH=$fresh .ci/missing-packages)" = "iptables iputils-ping python3" ] || die "missing packages: $(PATH=$fresh .ci/missing-packages)"
echo ok
