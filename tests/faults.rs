//! Every fault ends with a true journal and a clean system: each test
//! breaks a run (or its surroundings) in a sandbox on purpose.

mod common;
use common::{assert_contains, shell};

#[test]
fn a_link_plumb_did_not_make_is_not_moved() {
    let out = shell("faults/move-foreign.sh", &[]).ok();
    assert_contains(&out.stdout, &["move: foreign refused, own moved and back"]);
}

#[test]
fn ctrl_c_during_a_rule_batch_leaves_no_rule_and_no_false_record() {
    let out = shell("faults/interrupt-batch.sh", &["12"]).ok();
    assert_contains(&out.stdout, &["interrupted batches: 12/12 clean"]);
}

#[test]
fn a_process_inside_a_namespace_is_named_and_killed_only_when_asked() {
    let out = shell("faults/process-inside.sh", &[]).ok();
    assert_contains(
        &out.stdout,
        &["process inside: named, kept, --kill finished"],
    );
}

#[test]
fn a_full_disk_stops_the_run_before_its_change_and_undoes_the_rest() {
    let out = shell("faults/full-disk.sh", &[]).ok();
    assert_contains(&out.stdout, &["full disk: stopped and undone"]);
}

#[test]
fn a_stale_namespace_file_does_not_block_rollback() {
    let out = shell("faults/stale-netns.sh", &[]).ok();
    assert_contains(&out.stdout, &["stale namespace file: removed"]);
}

#[test]
fn a_closed_stdout_rolls_the_run_back_without_a_panic() {
    let out = shell("faults/closed-stdout.sh", &[]).ok();
    assert_contains(&out.stdout, &["closed stdout: rolled back, no panic"]);
}

#[test]
fn a_renamed_link_is_found_by_its_mark() {
    let out = shell("faults/renamed.sh", &[]).ok();
    assert_contains(&out.stdout, &["renamed: found by its mark"]);
}

#[test]
fn an_unreadable_journal_line_is_reported_and_gc_finishes_the_job() {
    let out = shell("faults/corrupt.sh", &[]).ok();
    assert_contains(
        &out.stdout,
        &["corrupt line: named, incomplete, gc finished"],
    );
}

#[test]
fn gc_removes_plumbs_orphans_and_nothing_else() {
    let out = shell("faults/gc.sh", &[]).ok();
    assert_contains(&out.stdout, &["orphans removed, nothing else touched"]);
}

#[test]
fn killed_at_100_random_moments_every_trial_ends_clean() {
    let out = shell("faults/inject.sh", &["100"]).ok();
    assert_contains(&out.stdout, &["fault injection: 100/100 clean"]);
    eprintln!("{}", out.stdout.trim());
}

#[test]
fn links_deleted_together_are_only_the_runs_own() {
    let out = shell("faults/together.sh", &[]).ok();
    assert_contains(
        &out.stdout,
        &["together: the run's links went, the others stayed"],
    );
}
