# docker::run publishes "127.0.0.1:8080:80" as `docker run -p` does: the port
# answers on the host's loopback, and only there.
cat >/run/host-ip.rhai <<'R'
import "docker" as docker;
import "check" as check;
let net = docker::network("web-net", #{ subnet: "10.43.0.0/24" });
let web = docker::run("web", net, #{ publish: ["127.0.0.1:8080:80", "8081:81/tcp"] });
check::serve(web.netns, 80, "from web");
check::serve(web.netns, 81, "from web:81");
R
plumb run /run/host-ip.rhai
iptables -t nat -S PLUMB-DNAT | contains -- '-d 127.0.0.1/32 -p tcp -m tcp --dport 8080 .*-j DNAT --to-destination 10.43.0.2:80' ||
  { iptables -t nat -S; die "no DNAT for 127.0.0.1:8080"; }
[ "$(curl -s --max-time 3 http://127.0.0.1:8080/)" = "from web" ] || die "127.0.0.1:8080 does not reach web"
[ "$(curl -s --max-time 3 http://127.0.0.1:8081/)" = "from web:81" ] || die "8081 does not reach web:81"
# The gateway address is the host's too, but 8080 was published on 127.0.0.1 only.
curl -s --max-time 2 http://10.43.0.1:8080/ && die "8080 answers beyond 127.0.0.1"
plumb rollback --last
echo ok
