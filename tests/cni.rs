//! plumb as a CNI plugin, driven as runtimes drive it: every verb by its
//! env and stdin, many containers at once, the macvlan script, and podman
//! itself with plumb as its network plugin. Each in its own sandbox.

mod common;
use common::{assert_contains, sandbox, shell};

#[test]
fn every_verb_answers_as_the_spec_says() {
    let out = shell("cni/verbs.sh", &[]).ok();
    assert_contains(&out.stdout, &["verbs: all answered as the spec says"]);
}

#[test]
fn a_hundred_containers_added_and_deleted_at_once_share_the_network_cleanly() {
    let out = shell("cni/parallel.sh", &["100"]).ok();
    assert_contains(&out.stdout, &["100 distinct addresses, nothing left"]);
}

#[test]
fn macvlan_containers_are_peers_on_the_parent_lan() {
    let out = shell("cni/macvlan.sh", &[]).ok();
    assert_contains(
        &out.stdout,
        &["macvlan: peers on the parent's LAN, nothing left"],
    );
}

/// podman 4.3 (CNI backend), crun and busybox from Debian's packages: two
/// containers, a published port, and nothing left after `podman rm`.
#[test]
fn podman_networks_real_containers_with_a_plumb_script() {
    let out = sandbox("bash tests/cni/plumb-e2e.sh").ok();
    assert_contains(&out.stdout, &["hello-from-web", "PASS"]);
}
