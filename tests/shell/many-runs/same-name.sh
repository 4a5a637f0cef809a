# 8 runs make the same namespace and bridge at the same instant: exactly one
# wins; the others fail, say whose the name is, and leave nothing.
before=$(snapshot)
pids=()
for i in $(seq 8); do plumb run tests/fixtures/many-runs/same-name.rhai 2>/run/same.$i & pids+=($!); done
won=0
for p in "${pids[@]}"; do if wait "$p"; then won=$((won + 1)); fi; done
[ $won = 1 ] || die "$won runs won, not exactly one"
[ "$(plumb journal list | grep -c applied)" = 1 ] || die "not exactly one applied run"
winner=$(plumb journal list | awk '/applied/ {print $1}')
# Each loser names the run that held the name at that instant (the winner,
# or another loser that took one of the names first and then lost the other).
for i in $(seq 8); do
  [ -s /run/same.$i ] || continue
  grep -q "applied" /run/same.$i && continue
  grep -q "exists already (made by run " /run/same.$i || die "a loser does not name who held the name: $(cat /run/same.$i)"
done
plumb rollback "$winner" 2>/dev/null
[ "$before" = "$(snapshot)" ] || die "the sandbox differs"
echo "same name: one winner, losers rolled back"
