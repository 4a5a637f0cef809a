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

/// Bash functions every test script can use.
const PRELUDE: &str = r##"
set -euo pipefail
# The kernel state a rollback must restore exactly: namespaces, and in each of
# them links, addresses and routes; sysctls; firewall rules and chains.
snapshot() {
  echo "# netns: $(ls /run/netns 2>/dev/null | tr '\n' ' ')"
  for ns in host $(ls /run/netns 2>/dev/null); do
    if [ "$ns" = host ]; then ipn="ip"; else ipn="ip -n $ns"; fi
    echo "# $ns"
    $ipn -d -o link | sed -E 's/ +/ /g'
    $ipn -o addr
    $ipn route show table all
  done
  echo "# sysctl"
  cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/conf/all/route_localnet /proc/sys/net/ipv6/conf/default/disable_ipv6
  echo "# firewall"
  # iptables-nft keeps an emptied table's built-in chains: only rules, user
  # chains and non-default policies are state.
  for save in iptables-save ip6tables-save; do
    command -v $save >/dev/null || continue
    $save 2>/dev/null | grep -E '^(-A|:)' | grep -Ev '^:(PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) ACCEPT' | sed -E 's/\[[0-9]+:[0-9]+\]//' || true
  done
}
# Fail the test with a message.
die() { echo "FAILED: $*" >&2; exit 1; }
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

/// Run `script` with bash inside a fresh sandbox, with plumb on PATH and the
/// repository as the working directory.
pub fn sandbox(script: &str) -> Outcome {
    let bin_dir = PathBuf::from(plumb()).parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new(plumb())
        .args(["sandbox", "--", "bash", "-c"])
        .arg(format!("{PRELUDE}\n{script}"))
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
