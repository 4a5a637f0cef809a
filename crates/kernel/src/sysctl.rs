//! Per-namespace sysctls. /proc/sys/net shows the namespace of the thread that
//! opens it, so reads and writes happen on a thread inside the namespace.

use std::fs;
use std::path::PathBuf;

use crate::error::{Context, Error, Result};
use crate::netns::in_netns;
use crate::types::NsRef;

/// The /proc/sys path of a `net.*` key. Only network sysctls are accepted: they
/// belong to one namespace, so a script can never change the machine's kernel.
/// Interface names containing dots can be given in slash form (`net/ipv4/conf/eth0.1/forwarding`).
pub fn path_of(key: &str) -> Result<PathBuf> {
    let slashed = if key.contains('/') {
        key.to_string()
    } else {
        key.replace('.', "/")
    };
    let parts: Vec<&str> = slashed.split('/').collect();
    let valid_part = |p: &&str| {
        !p.is_empty()
            && *p != ".."
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '@'))
    };
    if parts.first() != Some(&"net") {
        return Err(Error::invalid(
            "sysctl key",
            key,
            "only per-namespace network keys (net.*) can be set",
        ));
    }
    if parts.len() < 2 || !parts.iter().all(valid_part) {
        return Err(Error::invalid(
            "sysctl key",
            key,
            "expected dotted words like net.ipv4.ip_forward",
        ));
    }
    Ok(PathBuf::from("/proc/sys").join(slashed))
}

pub fn get(ns: &NsRef, key: &str) -> Result<String> {
    let path = path_of(key)?;
    in_netns(ns, || {
        fs::read_to_string(&path)
            .map(|v| v.trim().to_string())
            .map_err(|e| sysctl_error(ns, key, e))
    })
}

/// Is `key` there at all? A link's own keys (`conf.IFACE.*`) go with it.
pub fn exists(ns: &NsRef, key: &str) -> Result<bool> {
    let path = path_of(key)?;
    in_netns(ns, || Ok(path.exists()))
}

pub fn set(ns: &NsRef, key: &str, value: &str) -> Result<()> {
    let path = path_of(key)?;
    in_netns(ns, || {
        write_here(&path, value).map_err(|e| sysctl_error(ns, key, e))
    })
}

/// Write a sysctl in the calling thread's namespace.
pub fn write_here(path: &std::path::Path, value: &str) -> std::io::Result<()> {
    fs::write(path, value)
}

fn sysctl_error(ns: &NsRef, key: &str, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        Error::invalid("sysctl key", key, format!("no such key in {ns}"))
    } else {
        Err::<(), _>(e)
            .context(|| format!("sysctl {key} in {ns}"))
            .unwrap_err()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_proc_paths() {
        assert_eq!(
            path_of("net.ipv4.ip_forward").unwrap(),
            PathBuf::from("/proc/sys/net/ipv4/ip_forward")
        );
        assert_eq!(
            path_of("net/ipv4/conf/eth0.1/forwarding").unwrap(),
            PathBuf::from("/proc/sys/net/ipv4/conf/eth0.1/forwarding")
        );
    }

    #[test]
    fn only_network_keys_are_accepted() {
        for bad in [
            "kernel.hostname",
            "vm.swappiness",
            "net",
            "net..x",
            "net/../kernel/x",
            "net.ipv4.a b",
        ] {
            assert!(path_of(bad).is_err(), "{bad} was accepted");
        }
    }
}
