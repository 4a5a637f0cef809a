//! The core against the real kernel, each test in its own sandbox: build,
//! check with `ip` and ping, roll back, and compare with the state before.

mod common;
use common::{assert_contains, each_fails_and_leaves_nothing, sandbox, script_file};

#[test]
fn bridge_topology_builds_pings_and_rolls_back_to_the_state_before() {
    let out = sandbox(
        r#"
        before=$(snapshot)
        plumb run tests/fixtures/two-containers.rhai
        ip -j link show veth0 | grep '"master":"br0"' >/dev/null || die "veth0 not on br0"
        ip -n netns0 -o addr show ceth0 | grep '172.18.0.10/16' >/dev/null || die "no address on ceth0"
        ip -n netns1 route | grep 'default via 172.18.0.1' >/dev/null || die "no default route in netns1"
        ip netns exec netns0 ping -c1 -W2 172.18.0.20 >/dev/null || die "netns0 cannot reach netns1"
        ping -c1 -W2 172.18.0.10 >/dev/null || die "the host cannot reach netns0"
        ip -d link show veth0 | grep 'alias plumb:' >/dev/null || die "veth0 carries no ownership mark"
        plumb journal list | grep applied >/dev/null || die "run not listed as applied"
        plumb rollback --last
        after=$(snapshot)
        [ "$before" = "$after" ] || { diff <(echo "$before") <(echo "$after"); die "state differs after rollback"; }
        plumb journal list | grep 'rolled back' >/dev/null || die "run not listed as rolled back"
        echo done
        "#,
    )
    .ok();
    assert!(out.stdout.contains("done"));
    assert!(
        out.stderr.contains("undo with: plumb rollback"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_name_clash_in_the_middle_rolls_back_everything_and_spares_the_other_link() {
    let script = script_file(
        "clash.rhai",
        r#"
let ns = netns("netns0");
let br = bridge("br0");
addr(br, "172.18.0.1/16");
let v = veth("clash", #{ peer: "ceth0", netns: ns, master: br });
"#,
    );
    let out = sandbox(&format!(
        r#"
        ip link add clash type veth peer name other
        before=$(snapshot)
        if plumb run {script}; then die "the run should fail"; fi
        after=$(snapshot)
        [ "$before" = "$after" ] || {{ diff <(echo "$before") <(echo "$after"); die "state differs"; }}
        "#,
        script = script.display()
    ))
    .ok();
    assert_contains(
        &out.stderr,
        &[
            "clash.rhai:5:9: link 'clash' in host exists already (not made by plumb); pick another name",
            "rolled back the 3 change(s)",
        ],
    );
}

#[test]
fn bad_input_is_a_clear_error_with_a_position_and_leaves_nothing() {
    // (script name, source, what the error must say)
    let cases = [
        ("bad-cidr", "let b = bridge(\"br0\");\naddr(b, \"172.18.0.300/16\");", "bad-cidr.rhai:2:1: invalid address '172.18.0.300/16'"),
        ("long-name", "let b = bridge(\"br0\");\nveth(\"a-very-long-name0\", #{ peer: \"p\" });", "long-name.rhai:2:1: invalid interface name 'a-very-long-name0': interface names are limited to 15 bytes"),
        ("unknown-ns", "netns(\"a\");\nlink(netns_open(\"nope\"), \"eth0\");", "unknown-ns.rhai:2:6: network namespace 'nope' does not exist"),
        ("unknown-key", "netns(\"a\");\nveth(\"v0\", #{ peer: \"c0\", colour: \"red\" });", "unknown-key.rhai:2:1: veth(): unknown option 'colour'"),
        ("syntax", "netns(\"a\");\nlet = 4;", "syntax.rhai:2:5:"),
        ("endless", "netns(\"a\");\nloop { }", "an endless loop?"),
        ("throw", "netns(\"a\");\nthrow \"stop here\";", "throw.rhai:2:1: stop here"),
        ("assert", "netns(\"a\");\nassert(1 == 2, \"numbers\");", "assert.rhai:2:1: assertion failed: numbers"),
        ("not-net-sysctl", "sysctl(host(), \"kernel.hostname\", \"x\");", "only per-namespace network keys"),
        // Both ends of the pair go with their namespaces: the undo must not wait on either.
        ("pair-between-new-namespaces", "let a = netns(\"a\");\nlet b = netns(\"b\");\nveth(a, \"x\", #{ peer: \"y\", netns: b });\nthrow \"after the pair\";", "pair-between-new-namespaces.rhai:4:1: after the pair"),
    ];
    let cases: Vec<(&str, String, &str)> = cases
        .iter()
        .map(|(name, source, want)| (*name, source.to_string(), *want))
        .collect();
    each_fails_and_leaves_nothing(&cases);
}

#[test]
fn a_run_killed_mid_way_is_incomplete_and_rollback_finishes_the_job() {
    let script = script_file(
        "slow.rhai",
        r#"
let br = bridge("br0");
for i in 0..3 {
    let ns = netns(`netns${i}`);
    veth(`veth${i}`, #{ peer: "eth0", netns: ns, master: br });
}
spawn_in(netns_open("netns0"), ["sleep", "1000"]);
sleep(60);
"#,
    );
    let out = sandbox(&format!(
        r#"
        before=$(snapshot)
        plumb run {script} & pid=$!
        for _ in $(seq 100); do ls /run/netns 2>/dev/null | grep -q netns2 && grep -q spawn /run/plumb/*.jsonl 2>/dev/null && break; sleep 0.1; done
        sleep 0.2
        kill -9 $pid; wait $pid || true
        plumb journal list | grep incomplete >/dev/null || die "killed run not listed as incomplete"
        grep -lq '^sleep' /proc/[0-9]*/comm 2>/dev/null || die "the spawned process should still run"
        plumb rollback --last
        after=$(snapshot)
        [ "$before" = "$after" ] || {{ diff <(echo "$before") <(echo "$after"); die "state differs after rollback"; }}
        for c in /proc/[0-9]*/comm; do [ "$(cat $c 2>/dev/null)" = sleep ] && die "spawned process left running"; done
        echo clean
        "#,
        script = script.display()
    ))
    .ok();
    assert!(out.stdout.contains("clean"));
}

#[test]
fn rollback_never_deletes_a_same_named_object_made_by_someone_else() {
    let out = sandbox(
        r#"
        plumb run tests/fixtures/two-containers.rhai 2>/dev/null
        # Someone replaces br0 and netns1 with their own after the run.
        ip link del br0 && ip link add br0 type bridge
        ip netns del netns1 && ip netns add netns1
        # Nothing of the run remains (its br0 and netns1 are gone): the
        # rollback succeeds, says what it left alone, and the journal says so.
        plumb rollback --last 2>/run/err || { cat /run/err; die "rollback failed"; }
        ip link show br0 >/dev/null || die "someone else's br0 was deleted"
        ip netns list | grep netns1 >/dev/null || die "someone else's netns1 was deleted"
        ! ip netns list | grep netns0 >/dev/null || die "netns0 was not rolled back"
        plumb journal list | grep 'rolled back' >/dev/null || die "run not listed as rolled back"
        cat /run/err
        "#,
    )
    .ok();
    assert_contains(
        &out.stdout,
        &[
            "link 'br0' in the host namespace is not the one expected",
            "namespace 'netns1' is not the one expected",
            "left alone",
        ],
    );
}

#[test]
fn dry_run_prints_a_shell_script_that_builds_the_same_state() {
    // Compare what the printed commands build with what plumb builds, each in a fresh sandbox.
    const VIEW: &str = r##"
        for ns in host $(ls /run/netns); do
          if [ "$ns" = host ]; then ipn="ip"; else ipn="ip -n $ns"; fi
          echo "# $ns"; $ipn -br link | awk '{print $1, $2}'; $ipn -br addr | awk '{$2=""; print}' | sed -E 's/ fe80::[^ ]+//'; $ipn route
        done
        cat /proc/sys/net/ipv6/conf/default/disable_ipv6
        "##;
    let text = sandbox("plumb run --dry-run tests/fixtures/two-containers.rhai")
        .ok()
        .stdout;
    assert!(
        text.contains("ip link add veth0 master br0 type veth peer name ceth0 netns netns0"),
        "{text}"
    );
    let path = script_file("dry.sh", &text);
    let by_shell = sandbox(&format!(
        "sh -e {} >/dev/null; sleep 0.2\n{VIEW}",
        path.display()
    ))
    .ok()
    .stdout;
    let by_plumb = sandbox(&format!(
        "plumb run tests/fixtures/two-containers.rhai 2>/dev/null; sleep 0.2\n{VIEW}"
    ))
    .ok()
    .stdout;
    assert_eq!(by_shell, by_plumb);
    assert!(by_plumb.contains("172.18.0.10/16"), "{by_plumb}");
}

#[test]
fn doc_prints_every_api_function_with_its_doc() {
    let out = std::process::Command::new(common::plumb())
        .arg("doc")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for name in [
        "netns(name: &str) -> Netns",
        "veth(name: &str, options: Map) -> Link",
        "exec_in(",
        "spawn_in(",
        "route(",
        "sysctl(",
        "param(",
        "netns_pid(",
    ] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
    assert!(text.contains("Create a named network namespace"), "{text}");
}

/// A bridge is as journaled when the run ends: snooping on (it is off only
/// while ports join), up only when asked, and a MAC of its own that stays
/// when the port whose MAC it would otherwise take leaves.
#[test]
fn a_bridge_keeps_its_mac_and_settings_as_ports_come_and_go() {
    let script = script_file(
        "bridge-state.rhai",
        r#"
        let br = bridge("br0");
        for i in 0..3 {
            let ns = netns("b" + i);
            veth("vb" + i, #{ peer: "eth0", netns: ns, master: br });
        }
        bridge("br1", #{ up: false });
        "#,
    );
    let out = sandbox(&format!(
        r#"
        expected=$(plumb run --dry-run {s} | grep -o 'link add br0 address [0-9a-f:]*' | awk '{{print $5}}')
        plumb run {s} 2>/dev/null
        ip -d link show br0 | contains "mcast_snooping 1" || die "snooping is off after the run"
        ! ip link show br1 | contains ",UP" || die "br1 came up though not asked"
        mac=$(cat /sys/class/net/br0/address)
        [ "$mac" = "$expected" ] || die "br0 has $mac, the dry run said $expected"
        for i in 0 1 2; do ip link del vb$i; [ "$(cat /sys/class/net/br0/address)" = "$mac" ] || die "br0's MAC changed when vb$i left"; done
        plumb rollback --last >/dev/null 2>&1
        echo "bridge: mac $mac kept, snooping on"
        "#,
        s = script.display()
    ))
    .ok();
    assert_contains(&out.stdout, &["bridge: mac 02:", "kept, snooping on"]);
}
