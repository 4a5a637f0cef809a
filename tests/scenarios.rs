//! `plumb test`: the scenarios under tests/scenarios (one or more per script
//! in scripts/) must all pass, each in its own sandbox, including the
//! runner's own check that rolling a scenario back restores its sandbox.

mod common;

use std::process::Command;

use common::{plumb, repo};

fn plumb_test(args: &[&str]) -> (i32, String) {
    let out = Command::new(plumb())
        .arg("test")
        .args(args)
        .current_dir(repo())
        .output()
        .expect("run plumb test");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn every_scenario_passes() {
    let count = std::fs::read_dir(repo().join("tests/scenarios"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "rhai")
        })
        .count();
    assert!(
        count >= 11,
        "one scenario or more per script: found {count}"
    );
    let (code, text) = plumb_test(&[]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(
        text.lines().last(),
        Some(format!("{count} passed, 0 failed").as_str()),
        "{text}"
    );
    assert_eq!(
        text.lines().filter(|l| l.starts_with("ok      ")).count(),
        count,
        "{text}"
    );
}

#[test]
fn failures_are_located_reported_and_written_as_junit() {
    let junit = std::env::temp_dir().join(format!("plumb-junit-{}.xml", std::process::id()));
    let (code, text) = plumb_test(&[
        "tests/fixtures/failing-scenarios",
        "tests/scenarios/veth-pair.rhai",
        "--timeout",
        "3",
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{text}");
    assert_eq!(text.lines().last(), Some("1 passed, 4 failed"), "{text}");
    let line = |name: &str| {
        text.lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no line for {name}:\n{text}"))
            .to_string()
    };
    let dir = "tests/fixtures/failing-scenarios";
    assert!(line("unreachable-expected")
        .starts_with(&format!("FAILED  {dir}/unreachable-expected.rhai")));
    assert!(
        line("unreachable-expected")
            .contains("unreachable-expected.rhai:4:8: in assert_unreachable()"),
        "{text}"
    );
    assert!(
        line("unreachable-expected").contains("left reaches 10.113.1.2"),
        "{text}"
    );
    assert!(
        line("wrong-body").contains("answered 'x', which does not contain 'y'"),
        "{text}"
    );
    assert!(
        line("leaves-debris").contains("rollback did not restore the sandbox: [left] netns stray"),
        "{text}"
    );
    assert!(line("endless").contains("timed out after 3s"), "{text}");
    assert!(line("veth-pair").starts_with("ok      "), "{text}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    std::fs::remove_file(&junit).unwrap();
    assert!(xml.contains("tests=\"5\" failures=\"4\""), "{xml}");
    assert!(
        xml.contains("<testcase name=\"tests/scenarios/veth-pair.rhai\""),
        "{xml}"
    );
}

#[test]
fn a_missing_path_is_an_error_not_an_empty_pass() {
    let (code, text) = plumb_test(&["tests/no-such-dir"]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("no such file or directory"), "{text}");
}

#[test]
fn every_script_names_its_document_and_dry_runs_to_shell_commands() {
    // scripts/cni/ holds plugin scripts: they need a container (tests/cni.rs).
    let mut scripts: Vec<_> = std::fs::read_dir(repo().join("scripts"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rhai"))
        .collect();
    scripts.sort();
    assert_eq!(scripts.len(), 10, "{scripts:?}");
    for script in scripts {
        let source = std::fs::read_to_string(&script).unwrap();
        let header = source.lines().next().unwrap_or_default();
        assert!(
            header.starts_with("// ") && header.contains("document"),
            "{}: the first line names the document: {header}",
            script.display()
        );
        assert!(
            source.contains("param("),
            "{}: has parameters",
            script.display()
        );
        // A dry run changes nothing; it still runs in a sandbox, in case.
        let out = Command::new(plumb())
            .args(["--sandbox", "run", "--dry-run"])
            .arg(&script)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.lines().filter(|l| l.starts_with("ip ")).count() >= 3,
            "{}:\n{text}",
            script.display()
        );
    }
}
