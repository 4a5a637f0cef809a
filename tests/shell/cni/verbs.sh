# Every verb driven as a runtime drives it (env + stdin): VERSION, ADD and
# its result, errors with their codes, CHECK and drift, STATUS, DEL twice
# and without a namespace, GC. The sandbox is as it began at the end.
source tests/shell/cni/lib.sh
before=$(snapshot)
c=$(conf 10.66.0.0/24)
[ "$(cni VERSION <<<'{"cniVersion":"1.0.0"}' | jq -c .supportedVersions)" = '["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]' ] || die "VERSION"
# Errors, each with its spec code, and nothing made.
code_of() { jq -r .code; }
[ "$(cni ADD c1 "" <<<"$c" | code_of)" = 4 ] || die "a missing CNI_NETNS is not code 4"
[ "$(cni ADD c1 /run/netns/none <<<"$c" | code_of)" = 4 ] || die "a netns that does not exist is not code 4"
ip netns add ctr1; ip netns add ctr2; ip netns add ctr3
[ "$(cni ADD c1 /run/netns/ctr1 <<<'{"cniVersion":"1.0.0","name":"n"}' | code_of)" = 7 ] || die "no script is not code 7"
[ "$(cni ADD c1 /run/netns/ctr1 <<<'{"cniVersion":"1.0.0","name":"n","script":"rel.rhai"}' | code_of)" = 7 ] || die "a relative script is not code 7"
[ "$(cni ADD c1 /run/netns/ctr1 <<<'{"cniVersion":"0.2.0","name":"n"}' | code_of)" = 1 ] || die "an old version is not code 1"
[ "$(cni ADD c1 /run/netns/ctr1 <<<'not json' | code_of)" = 6 ] || die "bad JSON is not code 6"
[ "$(cni BOGUS c1 /run/netns/ctr1 <<<"$c" | code_of)" = 4 ] || die "an unknown verb is not code 4"
printf 'let ns = netns("inner");\nthrow "boom";\n' >/run/failing.rhai
failed=$(cni ADD c9 /run/netns/ctr1 <<<"$(jq -c '.script = "/run/failing.rhai"' <<<"$c")") && die "a failing script succeeded"
[ "$(jq -r .code <<<"$failed")" = 100 ] && [ "$(jq -r .msg <<<"$failed")" = boom ] || die "failure answer: $failed"
[ "$(jq -r .details <<<"$failed")" = /run/failing.rhai:2:1 ] || die "no position: $failed"
! ip netns list | contains inner || die "the failed ADD left its namespace"
# ADD: the result is what the container's namespace holds.
r1=$(cni ADD c1 /run/netns/ctr1 <<<"$c") || die "ADD c1: $r1"
[ "$(jq -r '.ips[0].address' <<<"$r1")" = 10.66.0.2/24 ] || die "c1's address: $r1"
[ "$(jq -r '.ips[0].gateway' <<<"$r1")" = 10.66.0.1 ] || die "c1's gateway: $r1"
[ "$(jq -r '.interfaces[0].sandbox' <<<"$r1")" = /run/netns/ctr1 ] || die "c1's sandbox: $r1"
[ "$(jq -r '.interfaces[0].mac' <<<"$r1")" = "$(ip -n ctr1 -j link show eth0 | jq -r '.[0].address')" ] || die "c1's mac: $r1"
[ "$(cni ADD c1 /run/netns/ctr1 <<<"$c" | code_of)" = 100 ] || die "a second ADD of c1 was not refused"
r2=$(cni ADD c2 /run/netns/ctr2 <<<"$(conf 10.66.0.0/24 '{"cniVersion":"0.4.0"}')") || die "ADD c2"
[ "$(jq -r '.ips[0].version' <<<"$r2")" = 4 ] || die "a 0.4.0 result without ip versions: $r2"
cni ADD c3 /run/netns/ctr3 <<<"$c" >/dev/null || die "ADD c3"
ip netns exec ctr1 ping -c1 -W2 10.66.0.3 >/dev/null || die "c1 cannot reach c2"
# CHECK: fine, then each drift is found.
cni CHECK c1 /run/netns/ctr1 <<<"$c" || die "CHECK of an untouched attachment failed"
ip -n ctr1 addr flush dev eth0
out=$(cni CHECK c1 /run/netns/ctr1 <<<"$c") && die "CHECK missed a removed address"
contains "address 10.66.0.2/24" <<<"$out" || die "CHECK does not name the address: $out"
ip -n ctr2 link set eth0 mtu 1400
out=$(cni CHECK c2 /run/netns/ctr2 <<<"$c") && die "CHECK missed a changed MTU"
contains "mtu of peer eth0 is 1400" <<<"$out" || die "CHECK does not name the MTU: $out"
[ "$(cni CHECK c7 /run/netns/ctr1 <<<"$c" | code_of)" = 3 ] || die "CHECK of an unknown container is not code 3"
# STATUS: ready, and not when the pool is spent.
cni STATUS <<<"$c" || die "STATUS of a ready network failed"
small=$(conf 10.67.0.0/29 '{"name":"small"}')
for i in 1 2 3 4 5; do ip netns add s$i; cni ADD s$i /run/netns/s$i <<<"$small" >/dev/null || die "ADD s$i"; done
[ "$(cni STATUS <<<"$small" | code_of)" = 50 ] || die "STATUS of a spent pool is not code 50"
ip netns add s6
out=$(cni ADD s6 /run/netns/s6 <<<"$small") && die "an ADD past the pool's end succeeded"
contains "no free address left in 10.67.0.0/29" <<<"$out" || die "unclear: $out"
# GC: only s1 and s3 are still valid.
cni GC <<<"$(jq -c '. + {"cni.dev/valid-attachments": [{"containerID":"s1","ifname":"eth0"},{"containerID":"s3","ifname":"eth0"}]}' <<<"$small")" || die "GC failed"
! ip -n s2 link show eth0 >/dev/null 2>&1 || die "GC left s2"
ip -n s1 link show eth0 >/dev/null 2>&1 || die "GC removed s1"
cni STATUS <<<"$small" || die "the pool is still spent after GC"
# DEL: twice, and after the namespace is gone with an empty CNI_NETNS (containerd).
cni DEL c1 /run/netns/ctr1 <<<"$c" || die "DEL c1"
cni DEL c1 /run/netns/ctr1 <<<"$c" || die "a second DEL c1 failed"
ip netns del ctr2
cni DEL c2 "" <<<"$c" || die "DEL c2 without its namespace failed"
cni DEL c3 /run/netns/ctr3 <<<"$c" || die "DEL c3"
for i in 1 3 4 5; do cni DEL s$i /run/netns/s$i <<<"$small" || die "DEL s$i"; done
for ns in ctr1 ctr3 s1 s2 s3 s4 s5 s6; do ip netns del $ns; done
[ -z "$(ls /run/plumb/*.jsonl 2>/dev/null)" ] || die "journals left: $(plumb journal list)"
[ "$before" = "$(snapshot)" ] || { diff <(echo "$before") <(echo "$(snapshot)"); die "the sandbox differs at the end"; }
echo "verbs: all answered as the spec says"
