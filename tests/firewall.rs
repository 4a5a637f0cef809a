//! Firewall and NAT against the real kernel and iptables, each test in its
//! own sandbox: "host" with an uplink to an `outside` namespace, a bridge,
//! containers. Traffic goes only to addresses the sandbox assigned.

mod common;
use common::{each_fails_and_leaves_nothing, sandbox};

/// A one-shot TCP server in `outside` that answers with the address it sees.
const SOURCE_ECHO: &str = r#"
echo_source() {
  ip netns exec outside python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.0.2.2", 7000)); s.listen(); s.settimeout(10)
c, peer = s.accept(); c.sendall(peer[0].encode()); c.close()' &
  sleep 0.3
}
fetch() { # fetch NS URL: print the body
  ip netns exec "$1" python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$2"
}
connect_from() { # connect_from NS: print what the echo server saw
  ip netns exec "$1" python3 -c '
import socket
s = socket.create_connection(("10.0.2.2", 7000), timeout=5); print(s.recv(100).decode())'
}
"#;

#[test]
fn masquerade_lets_containers_out_with_the_host_address_and_rollback_restores_everything() {
    let out = sandbox(&format!(
        r#"{SOURCE_ECHO}
        before=$(snapshot)
        plumb run tests/fixtures/nat.rhai --set nat=false 2>/dev/null
        ip netns exec netns0 ping -c1 -W1 10.0.2.2 >/dev/null && die "outside reachable without MASQUERADE"
        plumb rollback --last 2>/dev/null
        plumb run tests/fixtures/nat.rhai 2>/dev/null
        echo_source
        seen=$(connect_from netns0)
        [ "$seen" = 10.0.2.15 ] || die "outside saw $seen, not the host's uplink address"
        iptables -t nat -S PLUMB-POSTROUTING | grep -- '--comment "\?plumb:' >/dev/null || die "rules carry no run comment"
        plumb rollback --last
        after=$(snapshot)
        [ "$before" = "$after" ] || {{ diff <(echo "$before") <(echo "$after"); die "state differs after rollback"; }}
        echo "saw $seen"
        "#
    ))
    .ok();
    assert!(out.stdout.contains("saw 10.0.2.15"), "{}", out.stdout);
}

#[test]
fn a_published_port_is_reachable_from_outside_from_the_host_and_through_hairpin() {
    let out = sandbox(&format!(
        r#"{SOURCE_ECHO}
        plumb run tests/fixtures/nat.rhai 2>/dev/null
        mkdir -p /run/www && echo served-by-netns0 > /run/www/index.html
        ip netns exec netns0 python3 -m http.server --bind 172.18.0.10 --directory /run/www 5000 >/dev/null 2>&1 &
        for _ in $(seq 50); do ip netns exec netns0 python3 -c 'import socket; socket.create_connection(("172.18.0.10", 5000), 1)' 2>/dev/null && break; sleep 0.1; done
        echo "outside: $(fetch outside http://10.0.2.15:5000/)"
        echo "host: $(python3 -c 'import urllib.request; print(urllib.request.urlopen("http://10.0.2.15:5000/", timeout=5).read().decode())')"
        echo "hairpin: $(fetch netns1 http://10.0.2.15:5000/)"
        "#
    ))
    .ok();
    for from in ["outside", "host", "hairpin"] {
        assert!(
            out.stdout.contains(&format!("{from}: served-by-netns0")),
            "{from}:\n{}\n{}",
            out.stdout,
            out.stderr
        );
    }
}

#[test]
fn isolated_networks_cannot_reach_each_other_but_both_reach_outside() {
    let out = sandbox(
        r#"
        before=$(snapshot)
        plumb run tests/fixtures/isolated.rhai 2>/dev/null
        ip netns exec br-a-c2 ping -c1 -W1 172.20.0.3 >/dev/null || die "same-network containers cannot talk"
        ip netns exec br-b-c2 ping -c1 -W1 172.21.0.3 >/dev/null || die "same-network containers cannot talk (b)"
        ip netns exec br-a-c2 ping -c1 -W1 172.21.0.2 >/dev/null && die "a reached b"
        ip netns exec br-b-c3 ping -c1 -W1 172.20.0.3 >/dev/null && die "b reached a"
        ip netns exec br-a-c2 ping -c1 -W1 10.0.2.2 >/dev/null || die "a cannot reach outside"
        ip netns exec br-b-c2 ping -c1 -W1 10.0.2.2 >/dev/null || die "b cannot reach outside"
        plumb rollback --last
        [ "$before" = "$(snapshot)" ] || die "state differs after rollback"
        echo isolated
        "#,
    )
    .ok();
    assert!(out.stdout.contains("isolated"));
}

#[test]
fn a_bad_rule_in_the_middle_rolls_back_the_rules_before_it() {
    let cases = [
        (
            "bad-port",
            "publish(#{ port: 70000, to: \"172.18.0.10:5000\" });",
            "bad-port.rhai:3:1: publish(): option 'port' is 70000; it must be between 1 and 65535",
        ),
        (
            "bad-proto",
            "publish(#{ port: 80, to: \"172.18.0.10:80\", proto: \"icmp\" });",
            "bad-proto.rhai:3:1: publish(): unknown protocol 'icmp'",
        ),
        (
            "bad-chain",
            "rule(\"filter\", \"NO-SUCH-CHAIN\", \"-j ACCEPT\");\nnetns(\"late\");",
            "iptables rejected `-A NO-SUCH-CHAIN",
        ),
    ];
    let cases: Vec<(&str, String, &str)> = cases
        .iter()
        .map(|(name, tail, want)| {
            let source = format!("masquerade(\"172.18.0.0/16\");\npublish(#{{ port: 8080, to: \"172.18.0.20:80\" }});\n{tail}\n");
            (*name, source, *want)
        })
        .collect();
    each_fails_and_leaves_nothing(&cases);
}
