//! Helpers for integration tests: every test runs a bash script inside a fresh
//! `plumb sandbox` (its own network, mount and PID namespaces), never on the host.

#![allow(dead_code)] // each test binary uses a different subset

use std::path::PathBuf;
use std::process::Command;

pub fn plumb() -> &'static str {
    env!("CARGO_BIN_EXE_plumb")
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The state a rollback must restore: the same definition `plumb test` uses.
const SNAPSHOT_SH: &str = include_str!("../../src/snapshot.sh");

/// Bash functions every test script can use.
const PRELUDE: &str = r##"
set -euo pipefail
snapshot() { plumb_snapshot; }
# Fail the test with a message.
die() { echo "FAILED: $*" >&2; exit 1; }
# `... | contains PATTERN`: grep that reads all its input, so the writer
# never dies of SIGPIPE (which pipefail would count as a failure).
contains() { local input; input=$(cat); grep -q -- "$1" <<<"$input"; }
"##;

pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// Assert the script succeeded, showing its output otherwise.
    pub fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "sandbox script failed\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// The packages of tests/packages.txt that are not installed, as
/// .ci/missing-packages finds them (asked once per test binary).
fn missing_packages() -> &'static str {
    static MISSING: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    MISSING.get_or_init(|| {
        let out = Command::new(repo().join(".ci/missing-packages"))
            .output()
            .expect("run .ci/missing-packages");
        assert!(out.status.success(), ".ci/missing-packages failed");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    })
}

/// Run `script` with bash inside a fresh sandbox, with plumb on PATH and the
/// repository as the working directory. On a machine without the packages
/// the tests need, fail with the one command that installs them.
pub fn sandbox(script: &str) -> Outcome {
    let missing = missing_packages();
    assert!(
        missing.is_empty(),
        "the tests need packages that are not installed; install them with:\n    apt-get install -y {missing}\n(tests/packages.txt lists what the tests need)"
    );
    let bin_dir = PathBuf::from(plumb()).parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new(plumb())
        .args(["sandbox", "--", "bash", "-c"])
        .arg(format!("{SNAPSHOT_SH}\n{PRELUDE}\n{script}"))
        .env("PATH", path)
        .current_dir(repo())
        .output()
        .expect("run plumb sandbox");
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Run the bash file `tests/shell/NAME` inside a fresh sandbox (sourced, so
/// snapshot() and die() are there), with `args` as its positional parameters.
pub fn shell(name: &str, args: &[&str]) -> Outcome {
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    sandbox(&format!(
        "set -- {}\nsource tests/shell/{name}",
        quoted.join(" ")
    ))
}

/// Write a script to a temporary file and return its path.
pub fn script_file(name: &str, body: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("plumb-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    path
}

/// Run each (name, source, expected error) script in one sandbox: each must
/// fail, leave the sandbox exactly as it was, and print the expected error;
/// no rollback may report errors of its own.
pub fn each_fails_and_leaves_nothing(cases: &[(&str, String, &str)]) {
    let mut body = String::from("before=$(snapshot)\nerrors=$(mktemp)\n");
    for (name, source, _) in cases {
        let path = script_file(&format!("{name}.rhai"), source);
        body += &format!(
            "if plumb run {p} 2>>$errors; then die '{name} should fail'; fi\n\
             [ \"$before\" = \"$(snapshot)\" ] || {{ snapshot; die '{name} left something behind'; }}\n",
            p = path.display()
        );
    }
    body += "cat $errors\n";
    let out = sandbox(&body).ok();
    for (name, _, want) in cases {
        assert!(
            out.stdout.contains(want),
            "{name}: expected {want:?} in\n{}",
            out.stdout
        );
    }
    assert!(!out.stdout.contains("rollback left"), "{}", out.stdout);
}

/// Assert that `text` contains every one of `wanted`, showing the text otherwise.
pub fn assert_contains(text: &str, wanted: &[&str]) {
    for w in wanted {
        assert!(text.contains(w), "expected {w:?} in:\n{text}");
    }
}
