//! The programs plumb runs and the Debian/Ubuntu package of each, so that a
//! missing one is reported before it is needed, with the one command that
//! installs it. plumb itself needs no `ip`: links, addresses and routes go
//! over netlink.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, Result};

/// (program, the Debian/Ubuntu package that installs it).
const PACKAGES: &[(&str, &str)] = &[
    ("iptables", "iptables"),
    ("iptables-save", "iptables"),
    ("iptables-restore", "iptables"),
    ("ip6tables", "iptables"),
    ("ip6tables-save", "iptables"),
    ("ip6tables-restore", "iptables"),
    ("ping", "iputils-ping"),
    ("python3", "python3"),
    ("bash", "bash"),
    ("ip", "iproute2"),
    ("sysctl", "procps"),
    ("curl", "curl"),
    ("jq", "jq"),
];

/// What every firewall change runs (the IPv4 or the IPv6 set).
pub fn firewall(v6: bool) -> &'static [&'static str] {
    if v6 {
        &["ip6tables", "ip6tables-save", "ip6tables-restore"]
    } else {
        &["iptables", "iptables-save", "iptables-restore"]
    }
}

/// The package that installs `program`, when plumb knows it.
pub fn package_of(program: &str) -> Option<&'static str> {
    let name = Path::new(program).file_name()?.to_str()?;
    PACKAGES
        .iter()
        .find(|(p, _)| *p == name)
        .map(|(_, pkg)| *pkg)
}

/// Where `program` is: itself when it names a path, else the first
/// executable of that name on PATH (as a shell finds it).
pub fn find(program: &str) -> Option<PathBuf> {
    let executable = |p: &Path| {
        use std::os::unix::fs::PermissionsExt;
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let path = PathBuf::from(program);
        return executable(&path).then_some(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| executable(p))
}

/// Ok when every one of `programs` is installed; else the error that names
/// the missing ones, what needs them, and the command that installs them.
pub fn require(programs: &[&str], needed_for: &str) -> Result<()> {
    // Programs found once stay found: a run of 1000 rules looks once.
    static FOUND: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let mut found = FOUND.lock().unwrap_or_else(|e| e.into_inner());
    let mut missing = Vec::new();
    for program in programs {
        if found.contains(*program) {
            continue;
        }
        if find(program).is_some() {
            found.insert(program.to_string());
        } else {
            missing.push(program.to_string());
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(missing_error(missing, needed_for, Vec::new()))
    }
}

/// The error for programs that are not installed, needed for `needed_for`
/// (by the calls `uses`, when known).
pub fn missing_error(programs: Vec<String>, needed_for: &str, uses: Vec<String>) -> Error {
    Error::Missing {
        install: install_hint(&programs),
        programs,
        needed_for: needed_for.to_string(),
        uses,
    }
}

/// "install it with: apt-get install -y iptables", or how to find the
/// package when plumb does not know it or the system has no apt-get.
pub fn install_hint(programs: &[String]) -> String {
    let mut packages: Vec<&str> = programs.iter().filter_map(|p| package_of(p)).collect();
    packages.sort();
    packages.dedup();
    let unknown: Vec<&str> = programs
        .iter()
        .filter(|p| package_of(p).is_none())
        .map(String::as_str)
        .collect();
    let them = if programs.len() == 1 { "it" } else { "them" };
    if packages.is_empty() {
        return format!("install the package that provides {}", unknown.join(", "));
    }
    let sudo = if nix::unistd::geteuid().is_root() {
        ""
    } else {
        "sudo "
    };
    let command = format!("{sudo}apt-get install -y {}", packages.join(" "));
    let also = if unknown.is_empty() {
        String::new()
    } else {
        format!(", and the package that provides {}", unknown.join(", "))
    };
    if find("apt-get").is_some() {
        format!("install {them} with: {command}{also}")
    } else {
        format!("install {them} (on Debian or Ubuntu: {command}){also}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_are_found_on_path_and_their_packages_named() {
        assert!(find("sh").is_some());
        assert!(find("/bin/sh").is_some());
        assert!(find("no-such-program-here").is_none());
        assert_eq!(package_of("/usr/sbin/iptables-restore"), Some("iptables"));
        assert_eq!(package_of("ping"), Some("iputils-ping"));
        assert!(require(&["sh"], "a test").is_ok());
        let err = require(&["sh", "no-such-program-here", "ip6tables-nowhere"], "x()")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "x() needs no-such-program-here, ip6tables-nowhere, which are not installed"
            ),
            "{err}"
        );
    }

    #[test]
    fn the_hint_is_one_command_for_every_missing_package() {
        let hint = install_hint(&[
            "iptables-save".into(),
            "iptables-restore".into(),
            "ping".into(),
        ]);
        assert!(
            hint.contains("apt-get install -y iptables iputils-ping"),
            "{hint}"
        );
        let unknown = install_hint(&["frobnicate".into()]);
        assert_eq!(unknown, "install the package that provides frobnicate");
    }
}
