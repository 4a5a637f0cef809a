# N ADDs at once, as a runtime starting N containers, then N DELs at once:
# no address is leased twice, and the sandbox ends as it began.
source tests/shell/cni/lib.sh
n=${1:-100}
before=$(snapshot)
c=$(conf 10.68.0.0/24)
for i in $(seq "$n"); do ip netns add "p$i"; done
start=$(date +%s.%N)
pids=()
for i in $(seq "$n"); do cni ADD "p$i" "/run/netns/p$i" <<<"$c" >"/run/add.$i" 2>>/run/add.err & pids+=($!); done
for p in "${pids[@]}"; do wait "$p" || die "an ADD failed: $(tail -3 /run/add.err)"; done
added=$(date +%s.%N)
jq -r '.ips[0].address' /run/add.* >/run/addresses
[ "$(sort -u /run/addresses | wc -l)" = "$n" ] || die "addresses leased twice: $(sort /run/addresses | uniq -d | head)"
for i in 1 "$n"; do
  got=$(ip -n "p$i" -4 -o addr show eth0 | awk '{print $4}')
  [ "$got" = "$(jq -r '.ips[0].address' "/run/add.$i")" ] || die "p$i's eth0 has $got, not what ADD answered"
done
last=$(jq -r '.ips[0].address' "/run/add.$n"); last=${last%/*}
ip netns exec p1 ping -c1 -W2 "$last" >/dev/null || die "p1 cannot reach p$n"
[ "$(ip -o link show master plumb-cni0 | wc -l)" = "$n" ] || die "not $n ports on the shared bridge"
pids=()
for i in $(seq "$n"); do cni DEL "p$i" "/run/netns/p$i" <<<"$c" 2>>/run/del.err & pids+=($!); done
for p in "${pids[@]}"; do wait "$p" || die "a DEL failed: $(tail -3 /run/del.err)"; done
deleted=$(date +%s.%N)
for i in $(seq "$n"); do ip netns del "p$i"; done
[ -z "$(ls /run/plumb/*.jsonl 2>/dev/null)" ] || die "journals left"
[ "$before" = "$(snapshot)" ] || { diff <(echo "$before") <(echo "$(snapshot)") | head; die "the sandbox differs"; }
echo "parallel: $n ADDs in $(python3 -c "print(round($added - $start, 2))") s, $n DELs in $(python3 -c "print(round($deleted - $added, 2))") s, $n distinct addresses, nothing left"
