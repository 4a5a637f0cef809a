//! Objects many runs use: a shared bridge, a shared MASQUERADE, host-wide
//! sysctls such as ip_forward, another run's bridge. Who uses one is derived
//! from the live journals alone (no second source of truth), read under the
//! state lock: an object goes only when the last live run using it goes.

use crate::error::Result;
use crate::journal::{Entry, Journal, Status};
use crate::op::{Op, Owner};

/// A live run's entry that holds a shared object.
pub struct Holder {
    pub run: String,
    pub entry: Entry,
}

/// Is the journal's run still holding what it made (not rolled back)?
fn holds(journal: &Journal) -> bool {
    !matches!(journal.status(), Status::RolledBack | Status::Unreadable)
}

/// A live entry of a run other than `except` that holds the shared object
/// `key` (the first found: every holder agrees on what the object was
/// before plumb). A run asks about its own entries in memory.
pub fn other_holder(key: &str, except: &str) -> Result<Option<Holder>> {
    Journal::find_mentioning(&Journal::shared_needle(key), Some(except), |id| {
        let journal = Journal::load(id).ok()?; // removed meanwhile: it held nothing
        if !holds(&journal) {
            return None;
        }
        let entry = journal
            .entries()
            .iter()
            .find(|e| e.state.is_live() && e.op.shared_key().as_deref() == Some(key))?;
        Some(Holder {
            run: journal.run_id.clone(),
            entry: entry.clone(),
        })
    })
}

/// The live run whose journal says it made the object named `name` that
/// `made` recognises (the name's kernel mark may not be set yet: a journal
/// entry is written before its change).
pub fn maker(name: &str, made: impl Fn(&Op) -> bool) -> Option<String> {
    let needle = serde_json::to_vec(name).ok()?;
    Journal::mentioning(&needle)
        .ok()?
        .into_iter()
        .find_map(|id| {
            let journal = Journal::load(&id).ok()?;
            if !holds(&journal) {
                return None;
            }
            journal
                .entries()
                .iter()
                .any(|e| e.state.is_live() && made(&e.op))
                .then(|| journal.run_id.clone())
        })
}

/// Addresses of `subnet` leased to live runs (see [`Op::Lease`]).
pub fn leased(subnet: &ipnet::IpNet) -> Result<std::collections::HashSet<std::net::IpAddr>> {
    let needle = format!(r#""op":"lease","subnet":"{subnet}""#);
    let mut taken = std::collections::HashSet::new();
    for id in Journal::mentioning(needle.as_bytes())? {
        taken.extend(Journal::live_leases(&id, subnet).iter().map(|a| a.addr()));
    }
    Ok(taken)
}

/// The lowest address of `subnet` that is free: not the network address,
/// not host 1 (the gateway), not IPv4's broadcast address.
pub fn free_host(
    subnet: &ipnet::IpNet,
    taken: &std::collections::HashSet<std::net::IpAddr>,
) -> Option<ipnet::IpNet> {
    use std::net::IpAddr;
    let net = subnet.trunc();
    let bits = u32::from(net.max_prefix_len() - net.prefix_len());
    let size: u128 = if bits >= 128 { u128::MAX } else { 1 << bits };
    let last = match net {
        ipnet::IpNet::V4(_) => size.checked_sub(2)?,
        ipnet::IpNet::V6(_) => size - 1,
    };
    (2..=last)
        .map(|n| match net.network() {
            IpAddr::V4(a) => IpAddr::from((u32::from(a) + n as u32).to_be_bytes()),
            IpAddr::V6(a) => IpAddr::from((u128::from(a) + n).to_be_bytes()),
        })
        .find(|ip| !taken.contains(ip))
        .and_then(|ip| ipnet::IpNet::new(ip, net.prefix_len()).ok())
}

/// Live runs that use objects `owner` made, with the links they use:
/// (run, link name).
pub fn users(owner: &str) -> Result<Vec<(String, String)>> {
    let needle = serde_json::to_vec(&Owner::Run(owner.to_string())).expect("serializes");
    let mut found = Vec::new();
    for id in Journal::mentioning_except(&needle, Some(owner))? {
        let Ok(journal) = Journal::load(&id) else {
            continue;
        };
        if !holds(&journal) {
            continue;
        }
        for e in journal.entries().iter().filter(|e| e.state.is_live()) {
            if let Op::Use {
                name,
                owner: Owner::Run(r),
                ..
            } = &e.op
            {
                if r == owner {
                    found.push((journal.run_id.clone(), name.clone()));
                }
            }
        }
    }
    Ok(found)
}

/// What host-wide settings were before the first run that changed them,
/// kept beside the journals (`STATE_DIR/host-settings`): a sysctl carries
/// no mark, so if every journal that holds one is lost, `plumb gc` still
/// puts it back. The journals stay the only count of who uses it. Under the lock.
pub mod originals {
    use std::collections::BTreeMap;

    use crate::error::{Error, Result};
    use crate::journal::state_dir;

    fn path() -> std::path::PathBuf {
        state_dir().join("host-settings")
    }

    pub fn read() -> BTreeMap<String, String> {
        std::fs::read(path())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    fn write(all: &BTreeMap<String, String>) -> Result<()> {
        let path = path();
        if all.is_empty() {
            return match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(Error::state(format!("remove {}", path.display()), e))
                }
                _ => Ok(()),
            };
        }
        let text = serde_json::to_vec_pretty(all).expect("strings serialize");
        std::fs::write(&path, text)
            .map_err(|e| Error::state(format!("write {}", path.display()), e))
    }

    /// Remember `key`'s value before plumb, unless remembered already.
    pub fn remember(key: &str, value: &str) -> Result<()> {
        let mut all = read();
        if all.contains_key(key) {
            return Ok(());
        }
        all.insert(key.into(), value.into());
        write(&all)
    }

    /// `key` is back to what it was: forget it.
    pub fn forget(key: &str) -> Result<()> {
        let mut all = read();
        if all.remove(key).is_some() {
            write(&all)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn leases_skip_the_network_the_gateway_and_the_broadcast_address() {
        let net: ipnet::IpNet = "10.66.0.0/29".parse().unwrap();
        let mut taken = HashSet::new();
        let mut got = Vec::new();
        while let Some(a) = free_host(&net, &taken) {
            taken.insert(a.addr());
            got.push(a.to_string());
        }
        assert_eq!(
            got,
            [
                "10.66.0.2/29",
                "10.66.0.3/29",
                "10.66.0.4/29",
                "10.66.0.5/29",
                "10.66.0.6/29"
            ]
        );
        let v6: ipnet::IpNet = "fd00::/126".parse().unwrap();
        assert_eq!(
            free_host(&v6, &HashSet::new()).unwrap().to_string(),
            "fd00::2/126"
        );
        let tiny: ipnet::IpNet = "10.0.0.0/31".parse().unwrap();
        assert!(free_host(&tiny, &HashSet::new()).is_none());
    }
}
