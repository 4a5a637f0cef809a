# Conflicts are refused with both sides named, within a run and across runs:
# overlapping subnets on two links, one host port published twice.
before=$(snapshot)
# Two networks on the same subnet in one run (isolated-networks with equal subnets).
if plumb run --set subnet_a=172.21.0.0/16 scripts/isolated-networks.rhai 2>/run/c1.err; then die "overlapping networks accepted"; fi
contains "overlaps 172.21.0.1/16 on br-front (made by this run)" </run/c1.err || die "unclear: $(cat /run/c1.err)"
[ "$before" = "$(snapshot)" ] || die "the refused run left something"
# Two addresses of one subnet on one link are no conflict (ip allows it; Docker's gateway plus an alias).
printf 'let b = bridge("br-two");\naddr(b, "10.83.0.1/24");\naddr(b, "10.83.0.2/24");\n' >/run/two.rhai
plumb run /run/two.rhai 2>/run/c0.err || die "a second address on the same link was refused: $(cat /run/c0.err)"
plumb rollback --last 2>/dev/null
# Across runs: a live run's subnet.
plumb run tests/fixtures/two-containers.rhai 2>/dev/null
first=$(plumb journal list | awk '/applied/ {print $1}')
if plumb run --set bridge=br9 --set subnet=172.18.5.0/24 --set port=0 scripts/bridge-nat.rhai 2>/run/c2.err; then die "a subnet inside a live run's was accepted"; fi
contains "overlaps 172.18.0.1/16 on br0 (made by run $first)" </run/c2.err || die "unclear: $(cat /run/c2.err)"
plumb rollback "$first" 2>/dev/null
# One host port twice: across runs, and twice in one run.
plumb run --set i=1 tests/fixtures/conflicts/publish.rhai 2>/dev/null
if plumb run --set i=2 tests/fixtures/conflicts/publish.rhai 2>/run/c3.err; then die "port 5000 published twice"; fi
contains "publish.rhai:9:1: .*port 5000/tcp is published already (to 10.81.0.2:80, by run " </run/c3.err || die "unclear: $(cat /run/c3.err)"
plumb run --set i=2 --set port=5001 tests/fixtures/conflicts/publish.rhai 2>/dev/null || die "another port was refused"
printf 'publish(#{ port: 7000, to: "10.81.0.2:80" });\npublish(#{ port: 7000, to: "10.82.0.2:80" });\n' >/run/twice.rhai
if plumb run /run/twice.rhai 2>/run/c4.err; then die "a port published twice in one run"; fi
contains "twice.rhai:2:1: .*port 7000/tcp is published already (to 10.81.0.2:80, by this run)" </run/c4.err || die "unclear: $(cat /run/c4.err)"
plumb rollback --all 2>/dev/null
[ "$before" = "$(snapshot)" ] || die "the sandbox differs"
echo "conflicts: refused, both sides named"
