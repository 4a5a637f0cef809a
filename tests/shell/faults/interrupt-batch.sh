# Ctrl-C (SIGINT to the whole process group, as a terminal sends it) at
# random moments of a 3000-rule batch: no rule survives, and no run says
# "rolled back" while any of its rules remain.
trials=${1:-12}
before=$(snapshot)
for t in $(seq "$trials"); do
  setsid plumb run --set n=1000 bench/publish.rhai >/dev/null 2>/run/int.err &
  pid=$!
  sleep "0.$(( (RANDOM % 40) + 2 ))"
  kill -INT -- -$pid 2>/dev/null || true
  wait $pid || true
  # The journal tells the truth: rolled back means no rule of it is left.
  rules=$(iptables-save | grep -c -- '--comment "\?plumb:' || true)
  if plumb journal list | contains 'rolled back' && [ "$rules" != 0 ]; then
    plumb journal list; die "trial $t: a run says rolled back while $rules rules remain"
  fi
  plumb rollback --all 2>/dev/null || die "trial $t: rollback --all failed"
  [ "$before" = "$(snapshot)" ] || { diff <(echo "$before") <(echo "$(snapshot)") | head; die "trial $t: rules left"; }
  rm -f /run/plumb/*.jsonl
done
echo "interrupted batches: $trials/$trials clean"
