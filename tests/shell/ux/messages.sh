# What users read: a misspelt function, a huge bad name, an unused --set,
# plumb doc for the native stdlib and for an unknown name, stdlib errors
# with their file, ipam's invalid subnet, a bad published port, handles and
# records printed as text.
before=$(snapshot)
fails() { # fails NAME SCRIPT: run it, which must fail; its stderr in /run/NAME.err
  if plumb run - 2>/run/$1.err <<<"$2"; then die "$1 should fail"; fi
  cat /run/$1.err
}
has() { grep -F -- "$2" /run/$1.err >/dev/null || die "$1: no '$2'"; }

fails misspelt 'bridg("x");'
has misspelt '<stdin>:1:1: there is no function bridg(string); did you mean `bridge`?'
has misspelt '  bridge(name: string, options: map) -> Link'
grep -E 'ImmutableString|&str|Map' /run/misspelt.err && die "Rust type names in the message"

python3 -c 'print("netns(\"" + "n" * 1000000 + "\");")' >/run/huge.rhai
if plumb run /run/huge.rhai 2>/run/huge.err; then die "a 1 MB name was accepted"; fi
[ "$(wc -c </run/huge.err)" -lt 1000 ] || die "the 1 MB name was echoed: $(wc -c </run/huge.err) bytes"
grep -F '... (1000000 bytes)' /run/huge.err >/dev/null || die "the cut name does not say its size"

if plumb run - --set colour=red 2>/run/unused.err <<<'throw "early";'; then die "throw succeeded"; fi
grep -F 'was not used' /run/unused.err && die "--set reported unused by a script that failed before reading it"
plumb run - --set colour=red 2>/run/unused.err <<<'let x = 1;'
grep -F -- '--set colour=... was not used by <stdin>' /run/unused.err >/dev/null || die "an unused --set was not reported"

plumb doc pool >/run/doc.out
grep -F 'ipam::pool(subnet: &str) -> Pool' /run/doc.out >/dev/null || die "plumb doc pool is empty"
if plumb doc brige 2>/run/doc.err; then die "plumb doc of an unknown name succeeded"; fi
grep -F "no function matches 'brige'; did you mean bridge?" /run/doc.err >/dev/null || die "no suggestion"
if plumb doc nosuch 2>/run/doc.err; then die "plumb doc nosuch succeeded"; fi
grep -F "no function matches 'nosuch'" /run/doc.err >/dev/null || die "no error for an unknown name"

fails stdlib 'import "docker" as docker;
let n = docker::network("n1", #{ subnet: "10.41.0.0/24" });
docker::run("c1", n, #{ publish: ["abc:80"] });'
has stdlib '<stdin>:3:9: in run() at stdlib/docker.rhai:'
has stdlib "publish 'abc:80': the host port 'abc' is not a number"
fails range 'import "docker" as docker;
let n = docker::network("n1", #{ subnet: "10.41.0.0/24" });
docker::run("c1", n, #{ publish: ["8080:70000"] });'
has range "publish '8080:70000': the container port 70000 is not between 1 and 65535"
fails shape 'import "docker" as docker;
let n = docker::network("n1", #{ subnet: "10.41.0.0/24" });
docker::run("c1", n, #{ publish: ["1:2:3:4"] });'
has shape "publish '1:2:3:4' is not [HOST_IP:]HOST_PORT:CONTAINER_PORT[/udp]"

fails ipam 'import "ipam" as ipam;
let p = ipam::pool("nonsense");'
has ipam "<stdin>:2:15: ipam::pool(): invalid subnet 'nonsense'"
fails broadcast 'print(cidr_host("10.0.0.0/28", 15));'
has broadcast '<stdin>:1:7: cidr_host(): address 15 of 10.0.0.0/28 is its broadcast address, not a host (the last host is 14)'
fails network 'print(cidr_host("10.0.0.0/28", 0));'
has network 'cidr_host(): address 0 of 10.0.0.0/28 is its network address, not a host (hosts start at 1)'
[ "$(plumb run - <<<'print(cidr_host("10.0.0.0/28", 14));')" = 10.0.0.14/28 ] || die "the last host was refused"
[ "$before" = "$(snapshot)" ] || die "a failed run left something"

# A script from standard input, and its --set values in the journal's list.
plumb run - --set name=from-stdin <<<'netns(param("name", "x"));'
[ -e /run/netns/from-stdin ] || die "the script from standard input did not run"
plumb journal list | grep -E 'applied +1 .*<stdin> \[name=from-stdin\]' >/dev/null ||
  { plumb journal list; die "journal list does not show the --set value"; }
plumb rollback --last

cat >/run/show.rhai <<'R'
let ns = netns("shown");
let v = veth("v-shown", #{ peer: "eth0", netns: ns });
addr(v.peer, "10.42.0.2/24");
route(ns, "default", #{ via: "10.42.0.1" });
print([ns, v, v.peer, host()]);
print(`${v.peer} in a string`);
print(routes(ns));
R
plumb run /run/show.rhai >/run/show.out
cat /run/show.out
grep -Fx '[netns shown, link v-shown, link eth0 in shown, netns host]' /run/show.out >/dev/null || die "handles in a list"
grep -Fx 'link eth0 in shown in a string' /run/show.out >/dev/null || die "a handle in a string"
grep -F '"dest": "default"' /run/show.out >/dev/null || die "routes are not printed as records"
grep -E 'RouteInfo|Some\(|plumb::' /run/show.out && die "Rust debug text in the output"
echo ok
