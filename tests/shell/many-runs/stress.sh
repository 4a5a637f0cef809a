# 8 runs at once (each: bridge, containers, publish, masquerade,
# forward_accept), then 8 rollbacks at once in random order, ROUNDS times.
# During the runs every base chain holds exactly one jump to plumb's chain;
# after each round the sandbox is exactly as it began.
rounds=${1:-20}
before=$(snapshot)
jumps_ok() {
  local table chain n
  for spec in "nat PREROUTING" "nat OUTPUT" "nat POSTROUTING" "filter FORWARD"; do
    set -- $spec
    n=$(iptables -w -t "$1" -S "$2" | grep -c -- '-j PLUMB-' || true)
    [ "$n" -le 1 ] || { echo "$1 $2 holds $n jumps"; return 1; }
  done
}
start=$(date +%s.%N)
for round in $(seq "$rounds"); do
  rm -f /run/watch.fail
  # Watch the base chains while the runs go on.
  ( while [ ! -e /run/runs.done ]; do jumps_ok >>/run/watch.fail || true; done ) &
  watcher=$!
  pids=()
  for i in $(seq 0 7); do plumb run --set i=$i tests/fixtures/many-runs/run.rhai 2>>/run/runs.err & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || die "round $round: a run failed: $(tail -3 /run/runs.err)"; done
  touch /run/runs.done; wait "$watcher"; rm -f /run/runs.done
  [ ! -s /run/watch.fail ] || die "round $round: $(head -1 /run/watch.fail)"
  for spec in "nat PREROUTING" "nat OUTPUT" "nat POSTROUTING" "filter FORWARD"; do
    set -- $spec
    n=$(iptables -w -t "$1" -S "$2" | grep -c -- '-j PLUMB-')
    [ "$n" = 1 ] || die "round $round: $1 $2 holds $n jumps after the runs"
  done
  [ "$(plumb journal list | grep -c applied)" = 8 ] || die "round $round: not 8 applied runs"
  pids=()
  for id in $(plumb journal list | awk '/applied/ {print $1}' | shuf); do
    plumb rollback "$id" 2>>/run/rollbacks.err & pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || die "round $round: a rollback failed: $(tail -3 /run/rollbacks.err)"; done
  after=$(snapshot)
  [ "$before" = "$after" ] || { diff <(echo "$before") <(echo "$after"); die "round $round: the sandbox differs after the rollbacks"; }
  ! plumb journal list | grep -v 'rolled back' | contains '^2' || die "round $round: a run is not rolled back"
done
end=$(date +%s.%N)
echo "stress: $rounds rounds of 8 runs and 8 rollbacks in $(python3 -c "print(round($end - $start, 1))") s, leftovers 0"
