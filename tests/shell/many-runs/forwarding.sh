# Two runs that both need ip_forward: rolling back either keeps it on while
# the other lives; after both it is back to what it was (0, then 1 when it
# was on before plumb).
for original in 0 1; do
  echo $original > /proc/sys/net/ipv4/ip_forward
  before=$(snapshot)
  plumb run --set i=1 tests/fixtures/many-runs/forwarding.rhai 2>/dev/null
  plumb run --set i=2 tests/fixtures/many-runs/forwarding.rhai 2>/dev/null
  a=$(plumb journal list | awk '/applied/ {print $1}' | head -1)
  b=$(plumb journal list | awk '/applied/ {print $1}' | tail -1)
  [ "$(cat /proc/sys/net/ipv4/ip_forward)" = 1 ] || die "ip_forward is not on"
  first=$a; second=$b
  [ $((RANDOM % 2)) = 0 ] && { first=$b; second=$a; }
  plumb rollback "$first" 2>/dev/null
  [ "$(cat /proc/sys/net/ipv4/ip_forward)" = 1 ] || die "rolling back $first turned ip_forward off under $second"
  plumb rollback "$second" 2>/dev/null
  [ "$(cat /proc/sys/net/ipv4/ip_forward)" = $original ] || die "ip_forward is not back to $original"
  [ "$before" = "$(snapshot)" ] || die "the sandbox differs (original $original)"
  [ ! -e /run/plumb/host-settings ] || die "host-settings left behind: $(cat /run/plumb/host-settings)"
  echo "forwarding from $original: kept while shared, then $original"
done
