//! Conflicts are refused with both sides named, as Docker refuses them:
//! overlapping networks, and one host port published twice, within a run
//! and across runs.

mod common;
use common::{assert_contains, shell};

#[test]
fn overlapping_subnets_and_a_port_published_twice_are_refused() {
    let out = shell("conflicts.sh", &[]).ok();
    assert_contains(&out.stdout, &["conflicts: refused, both sides named"]);
}
