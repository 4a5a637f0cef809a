//! What users type and read (issue 13): dry-run address lines, rule()
//! quoting, exit codes, messages, limits on runaway scripts, published ports
//! with a host address, and a machine without the programs plumb runs. Each
//! test is a bash file in tests/shell/ux/, run in its own sandbox.

mod common;

use common::{repo, shell};

fn passes(name: &str) {
    let out = shell(&format!("ux/{name}.sh"), &[]).ok();
    assert!(out.stdout.ends_with("ok\n"), "{}", out.stdout);
}

#[test]
fn dry_run_address_lines_carry_brd_and_nodad() {
    passes("dry-run-text");
}

/// Every shipped script's dry run, run by sh, builds what plumb run builds.
#[test]
fn every_scripts_dry_run_builds_what_its_run_builds() {
    passes("dry-run-scripts");
}

#[test]
fn rule_takes_quoted_words_and_is_checked_at_the_call() {
    passes("rule");
}

#[test]
fn exit_codes_reach_the_shell() {
    passes("exit");
}

#[test]
fn messages_name_what_and_where_in_the_users_words() {
    passes("messages");
}

#[test]
fn runaway_scripts_stop_and_roll_back() {
    passes("limits");
}

#[test]
fn docker_run_publishes_on_a_host_address() {
    passes("docker-host-ip");
}

#[test]
fn a_machine_without_the_programs_is_told_what_to_install_first() {
    passes("fresh-machine");
}

/// The README's test command is what CI runs, and CI installs the one list
/// of packages the tests check.
#[test]
fn ci_runs_the_readmes_test_command() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let quick_start = readme
        .split("## Quick start")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("a Quick start section");
    let commands: Vec<&str> = quick_start
        .lines()
        .filter_map(|l| l.strip_prefix("    "))
        .collect();
    assert_eq!(
        &commands[..2],
        [
            "cargo run --release -- --sandbox run scripts/bridge-nat.rhai",
            "cargo test"
        ],
        "the README's two commands"
    );
    let ci = std::fs::read_to_string(repo().join(".ci/run")).unwrap();
    let ci_commands: Vec<&str> = ci.lines().filter(|l| l.starts_with("cargo ")).collect();
    assert_eq!(ci_commands.first(), Some(&commands[1]), "{ci}");
    assert!(
        ci.contains("apt-get install -y -qq \"${missing[@]}\""),
        "{ci}"
    );
    assert!(ci.contains("$(.ci/missing-packages)"), "{ci}");
}
