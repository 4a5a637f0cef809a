//! `plumb status`: what a run made, checked against the kernel. Each test
//! changes the network behind plumb's back with `ip` and expects status to
//! say what and exit 1.

mod common;

use common::{assert_contains, sandbox};
use serde_json::Value;

/// The objects of the only run in a `status --json` report, by their `object` text.
fn object<'a>(report: &'a Value, what: &str) -> &'a Value {
    report["runs"][0]["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["object"] == what)
        .unwrap_or_else(|| panic!("no object {what:?} in {report:#}"))
}

/// Run `script` (bash, in a sandbox, after `plumb run scripts/bridge-nat.rhai`)
/// and return the `status --json` report it prints last.
fn report_after(change: &str) -> (Value, String) {
    let out = sandbox(&format!(
        r#"
        plumb run scripts/bridge-nat.rhai >/dev/null 2>&1
        plumb status >/dev/null || die "drift right after the run"
        {change}
        text=$(mktemp)
        if plumb status > $text; then die "status should exit 1 on drift"; else code=$?; fi
        [ $code = 1 ] || die "status exited $code"
        run=$(plumb journal list --json | jq -r '.runs[0].run')
        code=0; plumb check "$run" >/dev/null || code=$?
        [ $code = 1 ] || die "check $run exited $code on drift"
        cat $text >&2
        plumb status --json || true
        "#
    ))
    .ok();
    let report: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr));
    assert_eq!(report["schema"], "plumb/status/1");
    assert_eq!(report["drift"], true);
    (report, out.stderr)
}

#[test]
fn a_removed_address_is_missing() {
    let (report, text) = report_after("ip -n netns0 addr del 172.18.0.10/16 dev ceth0");
    let addr = object(&report, "address 172.18.0.10/16 on link 'ceth0' in netns0");
    assert_eq!(addr["state"], "missing", "{addr}");
    // Deleting the address took the route through it too; the rest is as made.
    let route = object(&report, "route default via 172.18.0.1 in netns0");
    assert_eq!(route["state"], "missing");
    let run = &report["runs"][0];
    assert_eq!(
        (run["missing"].as_u64(), run["changed"].as_u64()),
        (Some(2), Some(0))
    );
    assert_eq!(
        object(&report, "link 'veth1' in host (veth)")["state"],
        "fine"
    );
    assert_contains(
        &text,
        &[
            "missing    address 172.18.0.10/16 on link 'ceth0' in netns0\n",
            "14 fine, 2 missing, 0 changed",
        ],
    );
}

#[test]
fn a_deleted_link_is_missing_with_what_was_on_it() {
    let (report, text) = report_after("ip link del veth0");
    assert_eq!(
        object(&report, "link 'veth0' in host (veth)")["state"],
        "missing"
    );
    let addr = object(&report, "address 172.18.0.10/16 on link 'ceth0' in netns0");
    assert_eq!(addr["state"], "missing");
    assert_eq!(
        addr["what"], "link 'ceth0' in netns0",
        "the peer went with it"
    );
    assert_contains(&text, &["missing    link 'veth0' in host (veth)"]);
}

#[test]
fn a_changed_mtu_is_changed_on_either_end_and_where_it_was_set() {
    let (report, text) =
        report_after("ip link set veth1 mtu 1400; ip -n netns0 link set ceth0 mtu 1300");
    let veth1 = object(&report, "link 'veth1' in host (veth)");
    assert_eq!(veth1["state"], "changed", "{veth1}");
    assert_eq!(
        veth1["changes"][0],
        serde_json::json!({"what": "mtu", "expected": "1500", "found": "1400"})
    );
    let veth0 = object(&report, "link 'veth0' in host (veth)");
    assert_eq!(veth0["changes"][0]["what"], "mtu of peer ceth0", "{veth0}");
    assert_contains(
        &text,
        &["changed    link 'veth1' in host (veth): mtu is 1400 (made 1500)"],
    );
    // An MTU the script set (the overlay's 1450) is checked as set.
    let out = sandbox(
        r#"
        plumb run scripts/vxlan-overlay.rhai >/dev/null 2>&1
        plumb status >/dev/null || { plumb status; die "drift right after the run"; }
        ip -n c1 link set eth0 mtu 1500
        plumb status || true
        "#,
    )
    .ok();
    assert_contains(
        &out.stdout,
        &["changed    link 'vxc1' in host1 (veth): mtu of peer eth0 is 1500 (made 1450)"],
    );
}

#[test]
fn every_script_is_as_made_right_after_its_run_and_the_rest_is_reported() {
    let mut body = String::from("text=$(mktemp)\n");
    for entry in std::fs::read_dir(common::repo().join("scripts")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rhai") {
            continue; // scripts/cni/: plugin scripts, checked by tests/cni.rs
        }
        body += &format!(
            r#"
            plumb run {p} >/dev/null 2>&1 || die "{p} failed"
            plumb status > $text || {{ cat $text; die "{p}: drift right after the run"; }}
            grep -q ' 0 missing, 0 changed' $text || die "{p}: $(cat $text)"
            plumb rollback --last >/dev/null 2>&1
            "#,
            p = path.display()
        );
    }
    body += r#"
        plumb status
        plumb run scripts/veth-pair.rhai >/dev/null 2>&1
        plumb run scripts/pod.rhai >/dev/null 2>&1
        first=$(plumb journal list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["runs"][-2]["run"])')
        plumb status --json | python3 -c 'import json,sys; r=json.load(sys.stdin); print("runs", len(r["runs"]))'
        plumb status "$first" | head -1
        last=$(plumb journal list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["runs"][-1]["run"])')
        server=$(plumb journal show "$last" --json | python3 -c '
import json, sys
spawned = [e for e in json.load(sys.stdin)["entries"] if e["op"]["op"] == "spawn"]
print(spawned[0]["outcome"]["pid"])')
        kill "$server"
        while kill -0 "$server" 2>/dev/null; do sleep 0.05; done
        if plumb status >/dev/null; then die "a stopped server is drift"; fi
        plumb status > $text || true
        grep 'missing    process' $text
    "#;
    let out = sandbox(&body).ok();
    assert_contains(
        &out.stdout,
        &[
            "no run has changes in place",
            "runs 2",
            "(applied), ",
            "veth-pair.rhai",
            "missing    process `python3 -c import http.server, sys …` in pod",
        ],
    );
}
