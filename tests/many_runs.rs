//! Many runs on one host (each test in its own sandbox): shared objects,
//! runs at the same time, the order of runs, and other runs' objects.

mod common;
use common::{assert_contains, shell};

#[test]
fn eight_parallel_runs_and_rollbacks_leave_one_jump_per_chain_and_nothing_behind() {
    let out = shell("many-runs/stress.sh", &["20"]).ok();
    assert_contains(&out.stdout, &["stress: 20 rounds", "leftovers 0"]);
    eprintln!("{}", out.stdout.trim());
}

#[test]
fn a_network_outlives_its_container_runs_and_refuses_to_go_first() {
    let out = shell("many-runs/attach.sh", &["50"]).ok();
    assert_contains(
        &out.stdout,
        &["attach: network + 50 container runs", "leftovers 0"],
    );
    eprintln!("{}", out.stdout.trim());
}

#[test]
fn ip_forward_is_shared_and_put_back_by_the_last_run() {
    let out = shell("many-runs/forwarding.sh", &[]).ok();
    assert_contains(
        &out.stdout,
        &[
            "forwarding from 0: kept while shared, then 0",
            "forwarding from 1: kept while shared, then 1",
        ],
    );
}

#[test]
fn runs_sort_by_when_they_began() {
    let out = shell("many-runs/order.sh", &[]).ok();
    assert_contains(&out.stdout, &["order: by run number"]);
}

#[test]
fn runs_racing_for_a_name_have_one_winner() {
    let out = shell("many-runs/same-name.sh", &[]).ok();
    assert_contains(&out.stdout, &["same name: one winner"]);
}

#[test]
fn a_full_bridge_is_explained() {
    let out = shell("many-runs/full-bridge.sh", &[]).ok();
    assert_contains(&out.stdout, &["ports.rhai:", "1024 ports"]);
}
