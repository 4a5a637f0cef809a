# Runs sort by when they began: 12 runs in one second, --last undoes the
# newest, --all goes newest first, and --last names a run still running.
for i in $(seq 1 12); do plumb run --set i=$i tests/fixtures/many-runs/forwarding.rhai 2>/dev/null; done
ids=$(plumb journal list | awk 'NR > 1 {print $1}')
[ "$(echo "$ids" | wc -l)" = 12 ] || die "not 12 runs listed"
[ "$ids" = "$(echo "$ids" | sort -t- -k3 -n)" ] || die "journal list is not in the order the runs began: $ids"
newest=$(echo "$ids" | tail -1)
plumb rollback --last 2>&1 | contains "rolled back run $newest" || die "--last did not undo the newest run $newest"
plumb rollback --all 2>/run/all.err
grep -o 'rolled back run [^ ]*' /run/all.err | awk '{print $4}' >/run/all.order
[ "$(cat /run/all.order)" = "$(echo "$ids" | head -11 | tac)" ] || die "--all did not go newest first: $(cat /run/all.order)"
# A run still going: --last says so instead of "no run has changes left".
printf 'netns("waiting");\nsleep(30);\n' >/run/long.rhai
plumb run /run/long.rhai 2>/dev/null & long=$!
for _ in $(seq 100); do [ -e /run/netns/waiting ] && break; sleep 0.05; done
plumb rollback --last 2>/run/last.err || true
grep -q "still running" /run/last.err || die "--last did not name the running run: $(cat /run/last.err)"
kill -INT $long; wait $long || true
[ ! -e /run/netns/waiting ] || die "the interrupted run left its namespace"
echo "order: by run number"
