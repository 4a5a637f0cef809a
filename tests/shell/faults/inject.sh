# SIGKILL and SIGINT-to-the-group at random moments of a mixed workload;
# then rollback --all (or, when the journal is destroyed on purpose, gc):
# every trial must end with the sandbox exactly as it began.
trials=${1:-100}
before=$(snapshot)
# How long the workload takes here: the moments are drawn over all of it.
start=$(date +%s%N)
plumb run tests/fixtures/faults/workload.rhai 2>/dev/null
span_ms=$(( ($(date +%s%N) - start) / 1000000 + 20 ))
plumb rollback --all 2>/dev/null
[ "$before" = "$(snapshot)" ] || die "the workload does not roll back cleanly to begin with"
rm -f /run/plumb/*.jsonl
clean=0
for t in $(seq "$trials"); do
  setsid plumb run tests/fixtures/faults/workload.rhai >/dev/null 2>&1 &
  pid=$!
  ms=$(( RANDOM % span_ms ))
  sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
  if [ $((t % 2)) = 0 ]; then kill -KILL $pid 2>/dev/null || true; else kill -INT -- -$pid 2>/dev/null || true; fi
  wait $pid 2>/dev/null || true
  if [ $((t % 10)) = 0 ]; then
    rm -f /run/plumb/*.jsonl
    plumb gc --yes >/dev/null 2>/run/inj.err || { echo "trial $t: gc: $(cat /run/inj.err)"; }
  else
    plumb rollback --all 2>/run/inj.err || { echo "trial $t: rollback: $(tail -3 /run/inj.err)"; }
    if plumb journal list | grep -v 'rolled back' | contains '^[0-9]'; then
      echo "trial $t: a journal is not rolled back: $(plumb journal list)"
    fi
  fi
  after=$(snapshot)
  if [ "$before" = "$after" ]; then
    clean=$((clean + 1))
  else
    echo "trial $t differs:"; diff <(echo "$before") <(echo "$after") | head -5
  fi
  rm -f /run/plumb/*.jsonl
done
echo "fault injection: $clean/$trials clean (kills drawn over the workload's ${span_ms} ms)"
[ "$clean" = "$trials" ] || die "$((trials - clean)) trial(s) left something"
