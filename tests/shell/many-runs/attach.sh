# A network run, then N container runs that attach to its bridge, started
# 10 at a time; rolling the network back first is refused naming its users;
# the bridge and ip_forward stay until the last container run is gone.
n=${1:-50}
before=$(snapshot)
start=$(date +%s.%N)
plumb run tests/fixtures/many-runs/network.rhai 2>/dev/null
net=$(plumb journal list | awk '/network.rhai/ {print $1}')
for batch in $(seq 0 $((n / 10 - 1))); do
  pids=()
  for j in $(seq 1 10); do
    plumb run --set i=$((batch * 10 + j)) tests/fixtures/many-runs/container.rhai 2>>/run/attach.err & pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || die "a container run failed: $(tail -3 /run/attach.err)"; done
done
[ "$(ip -o link show master net0 | wc -l)" = "$n" ] || die "not $n ports on net0"
ip netns exec nc1 ping -c1 -W2 "10.50.0.$((n + 10))" >/dev/null || die "nc1 cannot reach the last container"
if plumb rollback "$net" 2>/run/refused; then die "rolling the network back under its users was allowed"; fi
grep -q "live runs use" /run/refused || die "the refusal does not name the users: $(cat /run/refused)"
users=$(plumb journal list | awk '/container.rhai/ {print $1}')
for u in $(echo "$users" | head -3); do grep -q "$u" /run/refused || die "user $u not named"; done
ip link show net0 >/dev/null || die "the refused rollback removed net0"
left=$n
for u in $(echo "$users" | shuf); do
  plumb rollback "$u" 2>/dev/null || die "rollback of $u failed"
  left=$((left - 1))
  if [ $left -gt 0 ]; then
    ip link show net0 >/dev/null 2>&1 || die "net0 went with $left users left"
    [ "$(cat /proc/sys/net/ipv4/ip_forward)" = 1 ] || die "ip_forward went with $left users left"
  fi
done
plumb rollback "$net" 2>/dev/null || die "the network's rollback failed once its users were gone"
end=$(date +%s.%N)
after=$(snapshot)
[ "$before" = "$after" ] || { diff <(echo "$before") <(echo "$after"); die "the sandbox differs at the end"; }
echo "attach: network + $n container runs built and rolled back in $(python3 -c "print(round($end - $start, 1))") s, leftovers 0"
