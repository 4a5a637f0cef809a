//! Every change plumb makes is one [`Op`]: it applies itself, undoes itself and
//! prints the `ip`/`sysctl`/`iptables` commands a reader of the tutorials would
//! type. Every method matches every variant without a catch-all arm, so a new
//! op does not compile until each of them says what it does for it.

use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use plumb_kernel::firewall::Batch;
use plumb_kernel::{
    netns, process, shell, sysctl, Error as KernelError, Inspect, Kernel, LinkChange, LinkKind,
    LinkSettings, NsRef, Route,
};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// `ip netns add NAME` (+ lo up, + IPv6 off for new interfaces unless `ipv6`).
    NetnsAdd { name: String, ipv6: bool },
    /// `ip link add ...`, with its MTU, master and up state in the same
    /// request; the new link carries the run's mark as its alias (a shared
    /// one `plumb:shared`).
    LinkAdd {
        ns: NsRef,
        name: String,
        kind: LinkKind,
        #[serde(flatten)]
        settings: LinkSettings,
        #[serde(default)]
        shared: bool,
    },
    /// `ip link set NAME ...`; `old` is what undo restores (None: nothing to restore).
    LinkSet {
        ns: NsRef,
        name: String,
        change: LinkChange,
        old: Option<LinkChange>,
    },
    /// `ip link set NAME netns TO name NEW_NAME` (only of a link this run made).
    LinkMove {
        ns: NsRef,
        name: String,
        to: NsRef,
        new_name: String,
    },
    /// `ip link set NAME master BR` (None: `nomaster`); undo restores `old`.
    SetMaster {
        ns: NsRef,
        name: String,
        master: Option<String>,
        old: Option<String>,
    },
    /// `ip addr add ADDR dev DEV`.
    AddrAdd {
        ns: NsRef,
        dev: String,
        addr: IpNet,
        #[serde(default)]
        shared: bool,
    },
    /// `ip route add ...`.
    RouteAdd { ns: NsRef, route: Route },
    /// `sysctl -w KEY=VALUE`; undo writes `old` back. A host-wide key is
    /// shared by every live run that sets it.
    Sysctl {
        ns: NsRef,
        key: String,
        value: String,
        old: Option<String>,
    },
    /// A background program (and whatever it starts), stopped on undo.
    Spawn { ns: NsRef, argv: Vec<String> },
    /// Firewall rules applied as one `iptables-restore --noflush` batch.
    Firewall {
        #[serde(flatten)]
        batch: Batch,
        #[serde(default)]
        shared: bool,
    },
    /// This run builds on a link it did not make (a bridge another run owns,
    /// or a shared one): while the run lives, the owner cannot roll it away.
    Use {
        ns: NsRef,
        name: String,
        owner: Owner,
    },
    /// An address of `subnet` leased to `key` (a container): no other live
    /// run gets it. The journals are the lease store; rollback releases it.
    Lease {
        subnet: IpNet,
        key: String,
        addr: IpNet,
    },
}

/// Who owns a link this run uses.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Owner {
    /// Another run, by id.
    Run(String),
    /// Shared by the live runs that use it (alias `plumb:shared`).
    Shared,
}

/// What applying an op learned that undo needs to tell its own objects from
/// same-named ones made by someone else later.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inode: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<u64>,
    /// A shared object that another live run had made: this run joined it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joined: Option<String>,
    /// A shared object that was there before any plumb run: never removed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub preexisting: bool,
}

/// The mark of everything an op makes (a link's alias, a namespace's lo
/// alias, a rule's comment): `plumb:RUN/SEQ`, so plumb finds its objects
/// again without their names, and `plumb gc` finds them without a journal.
pub fn mark_of(run_id: &str, seq: u64) -> String {
    format!("plumb:{run_id}/{seq}")
}

/// The alias of a shared link, whichever run made it.
pub const SHARED_MARK: &str = "plumb:shared";

/// The run a plumb mark names (None for shared objects and foreign text).
pub fn run_of_mark(mark: &str) -> Option<&str> {
    let run = mark.strip_prefix("plumb:")?;
    let run = run.split('/').next()?;
    (run != "shared" && !run.is_empty()).then_some(run)
}

/// A stable short hash (FNV-1a) for naming shared rule batches.
fn fnv(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// How a namespace is named in shared-object keys.
fn ns_key(ns: &NsRef) -> String {
    match ns {
        NsRef::Host => "host".into(),
        other => other.short_name(),
    }
}

impl Op {
    /// A one-line summary for journals and messages.
    pub fn describe(&self) -> String {
        self.shell().first().cloned().unwrap_or_default()
    }

    /// The shell commands equivalent to this op (what `--dry-run` prints).
    pub fn shell(&self) -> Vec<String> {
        match self {
            Op::NetnsAdd { name, ipv6 } => shell::netns_add(name, *ipv6),
            Op::LinkAdd {
                ns,
                name,
                kind,
                settings,
                shared: _,
            } => shell::link_add(ns, name, kind, settings),
            Op::LinkSet {
                ns, name, change, ..
            } => vec![shell::link_set(ns, name, change)],
            Op::SetMaster {
                ns, name, master, ..
            } => vec![shell::set_master(ns, name, master.as_deref())],
            Op::LinkMove {
                ns,
                name,
                to,
                new_name,
            } => vec![shell::link_move(ns, name, to, new_name)],
            Op::AddrAdd { ns, dev, addr, .. } => vec![shell::addr_add(ns, dev, addr)],
            Op::RouteAdd { ns, route } => vec![shell::route_add(ns, route)],
            Op::Sysctl { ns, key, value, .. } => vec![shell::sysctl(ns, key, value)],
            Op::Spawn { ns, argv } => vec![shell::spawn(ns, argv)],
            Op::Firewall { batch, .. } => batch.shell(),
            Op::Lease { subnet, key, addr } => {
                vec![format!(
                    "# lease {addr} of {subnet} for {}",
                    shell::quote(key)
                )]
            }
            Op::Use { ns, name, owner } => vec![format!(
                "# uses {} link {name} in {}",
                match owner {
                    Owner::Run(r) => format!("run {r}'s"),
                    Owner::Shared => "the shared".into(),
                },
                ns.short_name()
            )],
        }
    }

    /// Lines of [`Op::shell`] that set up something many ops share (plumb's
    /// chains and the jumps to them): a dry run prints them once.
    pub fn setup_shell(&self) -> Vec<String> {
        match self {
            Op::Firewall { batch, .. } => batch.setup_shell(),
            Op::NetnsAdd { .. }
            | Op::LinkAdd { .. }
            | Op::LinkSet { .. }
            | Op::LinkMove { .. }
            | Op::SetMaster { .. }
            | Op::AddrAdd { .. }
            | Op::RouteAdd { .. }
            | Op::Sysctl { .. }
            | Op::Spawn { .. }
            | Op::Use { .. }
            | Op::Lease { .. } => Vec::new(),
        }
    }

    /// Must applying or undoing it hold the state lock? Rule batches are
    /// decided against the whole table (chain set-up is check-then-act).
    /// Is it applied or undone under the state lock: a shared object, or
    /// one that needs it anyway.
    pub fn takes_lock(&self) -> bool {
        self.shared_key().is_some() || self.needs_lock()
    }

    pub fn needs_lock(&self) -> bool {
        match self {
            Op::Firewall { .. } => true,
            Op::NetnsAdd { .. }
            | Op::LinkAdd { .. }
            | Op::LinkSet { .. }
            | Op::LinkMove { .. }
            | Op::SetMaster { .. }
            | Op::AddrAdd { .. }
            | Op::RouteAdd { .. }
            | Op::Sysctl { .. }
            | Op::Spawn { .. }
            | Op::Use { .. }
            | Op::Lease { .. } => false,
        }
    }

    /// The key under which live runs share this op's object, if it is shared.
    pub fn shared_key(&self) -> Option<String> {
        match self {
            Op::LinkAdd {
                ns,
                name,
                shared: true,
                ..
            }
            | Op::Use {
                ns,
                name,
                owner: Owner::Shared,
            } => Some(format!("link {} {name}", ns_key(ns))),
            Op::AddrAdd {
                ns,
                dev,
                addr,
                shared: true,
            } => Some(format!("addr {} {dev} {addr}", ns_key(ns))),
            Op::Sysctl {
                ns: NsRef::Host,
                key,
                ..
            } => Some(format!("sysctl host {}", key.replace('/', "."))),
            Op::Firewall {
                batch,
                shared: true,
            } => Some(Self::rules_key(batch)),
            Op::NetnsAdd { .. }
            | Op::LinkAdd { shared: false, .. }
            | Op::LinkSet { .. }
            | Op::LinkMove { .. }
            | Op::SetMaster { .. }
            | Op::AddrAdd { shared: false, .. }
            | Op::RouteAdd { .. }
            | Op::Sysctl { .. }
            | Op::Spawn { .. }
            | Op::Firewall { shared: false, .. }
            | Op::Use {
                owner: Owner::Run(_),
                ..
            }
            | Op::Lease { .. } => None,
        }
    }

    fn rules_key(batch: &Batch) -> String {
        let rules: Vec<String> = batch.rules.iter().map(|r| r.words()).collect();
        format!(
            "rules {} v{} {}",
            ns_key(&batch.ns),
            if batch.v6 { 6 } else { 4 },
            rules.join("; ")
        )
    }

    /// The comment that marks a shared batch: the same for every run that shares it.
    pub fn shared_comment(batch: &Batch) -> String {
        format!("{SHARED_MARK}/{}", fnv(&Self::rules_key(batch)))
    }

    /// Links this op names without creating them: if another run owns one,
    /// this run depends on it.
    pub fn links_used(&self) -> Vec<(&NsRef, &str)> {
        match self {
            Op::LinkAdd {
                ns, kind, settings, ..
            } => settings
                .master
                .as_deref()
                .into_iter()
                .chain(kind.depends_on())
                .map(|l| (ns, l))
                .collect(),
            Op::LinkSet { ns, name, .. } | Op::LinkMove { ns, name, .. } => vec![(ns, name)],
            Op::SetMaster {
                ns, name, master, ..
            } => std::iter::once(name.as_str())
                .chain(master.as_deref())
                .map(|l| (ns, l))
                .collect(),
            Op::AddrAdd { ns, dev, .. } => vec![(ns, dev)],
            Op::RouteAdd { ns, route } => route.dev.iter().map(|d| (ns, d.as_str())).collect(),
            Op::NetnsAdd { .. }
            | Op::Sysctl { .. }
            | Op::Spawn { .. }
            | Op::Firewall { .. }
            | Op::Use { .. }
            | Op::Lease { .. } => Vec::new(),
        }
    }

    /// Do both ops make the same named object (a namespace, or a link in
    /// the same namespace)?
    pub fn same_object(&self, other: &Op) -> bool {
        match (self, other) {
            (Op::NetnsAdd { name: a, .. }, Op::NetnsAdd { name: b, .. }) => a == b,
            (
                Op::LinkAdd {
                    ns: na, name: a, ..
                },
                Op::LinkAdd {
                    ns: nb, name: b, ..
                },
            ) => na == nb && a == b,
            _ => false,
        }
    }

    /// The namespace this op created, if it is `ip netns add`.
    pub fn created_netns(&self) -> Option<&str> {
        match self {
            Op::NetnsAdd { name, .. } => Some(name),
            Op::LinkAdd { .. }
            | Op::LinkSet { .. }
            | Op::LinkMove { .. }
            | Op::SetMaster { .. }
            | Op::AddrAdd { .. }
            | Op::RouteAdd { .. }
            | Op::Sysctl { .. }
            | Op::Spawn { .. }
            | Op::Firewall { .. }
            | Op::Use { .. }
            | Op::Lease { .. } => None,
        }
    }

    /// The namespace whose deletion takes this op's effect with it.
    pub fn lives_in(&self) -> Option<&NsRef> {
        match self {
            Op::LinkAdd { ns, .. }
            | Op::LinkSet { ns, .. }
            | Op::SetMaster { ns, .. }
            | Op::AddrAdd { ns, .. }
            | Op::RouteAdd { ns, .. }
            | Op::Sysctl { ns, .. }
            | Op::Use { ns, .. } => Some(ns),
            Op::Firewall { batch, .. } => Some(&batch.ns),
            // The link lives where it was moved to.
            Op::LinkMove { to, .. } => Some(to),
            // A process outlives its namespace's name: it is stopped by undo.
            // A lease lives in the journals alone.
            Op::Spawn { .. } | Op::NetnsAdd { .. } | Op::Lease { .. } => None,
        }
    }

    /// A veth whose peer lives in another namespace: (the host end's
    /// namespace and name, the peer's namespace). Deleting the peer's
    /// namespace takes both ends.
    pub fn veth_across(&self) -> Option<(&NsRef, &str, &NsRef)> {
        match self {
            Op::LinkAdd {
                ns,
                name,
                kind:
                    LinkKind::Veth {
                        peer_netns: Some(peer_ns),
                        ..
                    },
                ..
            } => Some((ns, name, peer_ns)),
            Op::LinkAdd { .. }
            | Op::NetnsAdd { .. }
            | Op::LinkSet { .. }
            | Op::LinkMove { .. }
            | Op::SetMaster { .. }
            | Op::AddrAdd { .. }
            | Op::RouteAdd { .. }
            | Op::Sysctl { .. }
            | Op::Spawn { .. }
            | Op::Firewall { .. }
            | Op::Use { .. }
            | Op::Lease { .. } => None,
        }
    }

    /// Read, before the op is journaled, what its undo must restore.
    pub fn capture_old(&mut self, k: &Kernel) -> Result<()> {
        match self {
            Op::LinkSet {
                ns,
                name,
                change,
                old,
            } => {
                let link = k.link(ns, name)?;
                *old = Some(match change {
                    LinkChange::Up | LinkChange::Down if link.up => LinkChange::Up,
                    LinkChange::Up | LinkChange::Down => LinkChange::Down,
                    LinkChange::Mtu(_) => LinkChange::Mtu(link.mtu),
                    LinkChange::Mac(_) => LinkChange::Mac(link.mac),
                    LinkChange::Alias(_) => LinkChange::Alias(link.alias.unwrap_or_default()),
                    LinkChange::Hairpin(_) => LinkChange::Hairpin(link.hairpin.unwrap_or(false)),
                });
            }
            Op::SetMaster { ns, name, old, .. } => {
                *old = match k.link(ns, name)?.master {
                    Some(index) => k.link_by_index(ns, index)?.map(|l| l.name),
                    None => None,
                };
            }
            Op::Sysctl { ns, key, old, .. } => *old = Some(sysctl::get(ns, key)?),
            Op::NetnsAdd { .. }
            | Op::LinkAdd { .. }
            | Op::LinkMove { .. }
            | Op::AddrAdd { .. }
            | Op::RouteAdd { .. }
            | Op::Spawn { .. }
            | Op::Firewall { .. }
            | Op::Use { .. }
            | Op::Lease { .. } => {}
        }
        Ok(())
    }

    /// Is this op's object in the kernel as the op would make it? Used to
    /// join or adopt a shared object instead of making it again.
    pub fn present(&self, k: &Kernel) -> Result<bool> {
        Ok(match self {
            Op::LinkAdd { ns, name, .. } | Op::Use { ns, name, .. } => {
                k.find_link(ns, name)?.is_some()
            }
            Op::AddrAdd { ns, dev, addr, .. } => {
                let Some(link) = k.find_link(ns, dev)? else {
                    return Ok(false);
                };
                k.addrs(ns)?
                    .iter()
                    .any(|a| a.index == link.index && a.addr == *addr)
            }
            Op::Sysctl { ns, key, value, .. } => sysctl::get(ns, key)? == *value,
            Op::Firewall { batch, .. } => batch.present()? == batch.rules.len(),
            Op::NetnsAdd { name, .. } => netns::inode(&NsRef::Named(name.clone())).is_ok(),
            Op::LinkSet { .. }
            | Op::LinkMove { .. }
            | Op::SetMaster { .. }
            | Op::RouteAdd { .. }
            | Op::Spawn { .. }
            | Op::Lease { .. } => false,
        })
    }

    /// Apply the op to the kernel. `mark` tags what it creates (see [`mark_of`]).
    pub fn apply(&self, k: &Kernel, mark: &str) -> Result<Outcome> {
        let none = Outcome::default();
        match self {
            Op::NetnsAdd { name, ipv6 } => {
                return Ok(Outcome {
                    inode: Some(k.create_netns(name, *ipv6, mark)?),
                    ..none
                })
            }
            Op::LinkAdd {
                ns,
                name,
                kind,
                settings,
                shared,
            } => k.add_link(
                ns,
                name,
                kind,
                settings,
                if *shared { SHARED_MARK } else { mark },
            )?,
            Op::LinkSet {
                ns, name, change, ..
            } => k.set_link(ns, name, change)?,
            Op::SetMaster {
                ns, name, master, ..
            } => k.set_master(ns, name, master.as_deref())?,
            Op::LinkMove {
                ns,
                name,
                to,
                new_name,
            } => k.move_link(ns, name, to, new_name)?,
            Op::AddrAdd { ns, dev, addr, .. } => k.add_addr(ns, dev, *addr)?,
            Op::RouteAdd { ns, route } => k.add_route(ns, route)?,
            Op::Sysctl { ns, key, value, .. } => sysctl::set(ns, key, value)?,
            Op::Firewall { batch, .. } => batch.apply()?,
            Op::Spawn { ns, argv } => {
                let (_child, spawned) = process::spawn_in(ns, argv, mark)?;
                return Ok(Outcome {
                    pid: Some(spawned.pid),
                    start_time: Some(spawned.start_time),
                    ..none
                });
            }
            Op::Use { ns, name, .. } => {
                k.link(ns, name)?;
            }
            // Chosen and recorded under the lock (Session::lease): nothing to make.
            Op::Lease { .. } => {}
        }
        Ok(none)
    }

    /// Undo the op. Idempotent: what is already gone counts as undone.
    /// `outcome` is None when the op was in flight when its run died.
    pub fn undo(&self, k: &Kernel, outcome: Option<&Outcome>, mark: &str) -> Result<()> {
        if outcome.is_some_and(|o| o.preexisting) {
            return Ok(()); // it was there before plumb; it stays
        }
        let result = match self {
            Op::NetnsAdd { name, .. } => {
                let spaces = [(name.clone(), outcome.and_then(|o| o.inode))];
                k.delete_netns_many(&spaces).remove(0)
            }
            Op::LinkAdd {
                ns,
                name,
                shared,
                kind,
                ..
            } => {
                let mark = if *shared { SHARED_MARK } else { mark };
                let in_flight = outcome.is_none();
                if delete_owned_link(k, ns, name, mark, in_flight)? {
                    return Ok(());
                }
                // Its first end was moved away: the pair goes by its peer.
                return match kind {
                    LinkKind::Veth { peer, peer_netns } => {
                        let peer_ns = peer_netns.as_ref().unwrap_or(ns);
                        delete_owned_link(k, peer_ns, peer, mark, in_flight).map(drop)
                    }
                    LinkKind::Bridge | LinkKind::Vxlan { .. } | LinkKind::Macvlan { .. } => Ok(()),
                };
            }
            Op::LinkSet { ns, name, old, .. } => match old {
                // A port's setting went with its bridge.
                Some(LinkChange::Hairpin(_))
                    if k.find_link(ns, name)?.is_some_and(|l| l.master.is_none()) =>
                {
                    Ok(())
                }
                Some(old) => k.set_link(ns, name, old),
                None => Ok(()),
            },
            Op::SetMaster { ns, name, old, .. } => k.set_master(ns, name, old.as_deref()),
            Op::LinkMove {
                ns,
                name,
                to,
                new_name,
            } => k.move_link(to, new_name, ns, name),
            Op::AddrAdd { ns, dev, addr, .. } => k.del_addr(ns, dev, *addr),
            Op::RouteAdd { ns, route } => k.del_route(ns, route),
            Op::Sysctl { ns, key, old, .. } => match old {
                // A link's own setting went with the link.
                Some(old) => match sysctl::set(ns, key, old) {
                    Err(_) if !sysctl::exists(ns, key)? => Ok(()),
                    other => other,
                },
                None => Ok(()),
            },
            Op::Firewall { batch, .. } => batch.remove(),
            Op::Spawn { .. } => match outcome {
                Some(Outcome {
                    pid: Some(pid),
                    start_time: Some(start_time),
                    ..
                }) => process::stop(
                    &process::Spawned {
                        pid: *pid,
                        start_time: *start_time,
                    },
                    Duration::from_secs(2),
                ),
                // Killed before the pid reached the journal: the program
                // (and what it started) carries the op's mark.
                _ => process::marked()
                    .into_iter()
                    .filter(|(_, _, m, _)| m == mark)
                    .try_for_each(|(pid, start_time, _, _)| {
                        process::stop(
                            &process::Spawned { pid, start_time },
                            Duration::from_secs(2),
                        )
                    }),
            },
            // The last user of a shared link removes it; another run's link is its own.
            Op::Use {
                ns,
                name,
                owner: Owner::Shared,
            } => return delete_owned_link(k, ns, name, SHARED_MARK, false).map(drop),
            Op::Use {
                owner: Owner::Run(_),
                ..
            } => Ok(()),
            // Released by being undone in the journal.
            Op::Lease { .. } => Ok(()),
        };
        match result {
            Err(e) if e.is_already_gone() => Ok(()),
            other => other.map_err(Into::into),
        }
    }
}

/// Delete a link this op (or the shared pool) made: found by name, or by
/// its mark when it was renamed since (each op marks its objects with
/// `plumb:RUN/SEQ`). A link with the name but another mark is someone
/// else's and left alone. An op in flight when its run died may have made
/// the link before marking it, so an unmarked one with the name counts too.
/// True when it deleted one.
fn delete_owned_link(
    k: &Kernel,
    ns: &NsRef,
    name: &str,
    mark: &str,
    in_flight: bool,
) -> Result<bool> {
    let by_name = match k.find_link(ns, name) {
        Err(e) if e.is_already_gone() => return Ok(false), // its namespace is gone
        other => other?,
    };
    let target = match by_name {
        Some(link)
            if link.alias.as_deref() == Some(mark) || (in_flight && link.alias.is_none()) =>
        {
            Some(link)
        }
        other => {
            // Renamed? Shared links are found by name only (one mark for all).
            let renamed = match mark {
                SHARED_MARK => None,
                _ => k
                    .links(ns)?
                    .into_iter()
                    .find(|l| l.alias.as_deref() == Some(mark)),
            };
            match (renamed, other) {
                (Some(link), _) => Some(link),
                (None, Some(link)) => {
                    return Err(KernelError::NotOurs {
                        what: format!("link '{name}' in {ns}"),
                        detail: format!("its alias is {:?}", link.alias.unwrap_or_default()),
                    }
                    .into())
                }
                (None, None) => None,
            }
        }
    };
    match target {
        Some(link) => match k.delete_link(ns, link.index, &link.name) {
            Err(e) if e.is_already_gone() => Ok(false),
            other => other.map(|()| true).map_err(Into::into),
        },
        None => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plumb_kernel::firewall::Rule;

    fn veth() -> Op {
        Op::LinkAdd {
            ns: NsRef::Host,
            name: "veth0".into(),
            kind: LinkKind::Veth {
                peer: "ceth0".into(),
                peer_netns: Some(NsRef::Named("netns0".into())),
            },
            settings: LinkSettings {
                master: Some("br0".into()),
                up: true,
                ..Default::default()
            },
            shared: false,
        }
    }

    #[test]
    fn ops_print_the_ip_commands_of_the_tutorials() {
        assert_eq!(
            veth().shell()[0],
            "ip link add veth0 master br0 type veth peer name ceth0 netns netns0"
        );
        let fwd = Op::Sysctl {
            ns: NsRef::Host,
            key: "net.ipv4.ip_forward".into(),
            value: "1".into(),
            old: Some("0".into()),
        };
        assert_eq!(fwd.shell(), vec!["sysctl -qw net.ipv4.ip_forward=1"]);
    }

    #[test]
    fn ops_round_trip_through_json() {
        for op in [
            veth(),
            Op::NetnsAdd {
                name: "n".into(),
                ipv6: false,
            },
            Op::RouteAdd {
                ns: NsRef::Path("/run/netns/cni-x".into()),
                route: Route {
                    dest: None,
                    via: Some("10.0.0.1".parse().unwrap()),
                    dev: None,
                },
            },
            Op::Use {
                ns: NsRef::Host,
                name: "shared0".into(),
                owner: Owner::Run("r1".into()),
            },
        ] {
            let text = serde_json::to_string(&op).unwrap();
            let back: Op = serde_json::from_str(&text).unwrap();
            assert_eq!(back, op, "{text}");
        }
    }

    #[test]
    fn host_sysctls_shared_links_and_shared_rules_have_keys() {
        let fwd = Op::Sysctl {
            ns: NsRef::Host,
            key: "net/ipv4/ip_forward".into(),
            value: "1".into(),
            old: None,
        };
        assert_eq!(
            fwd.shared_key().as_deref(),
            Some("sysctl host net.ipv4.ip_forward")
        );
        let inside = Op::Sysctl {
            ns: NsRef::Named("a".into()),
            key: "net/ipv4/ip_forward".into(),
            value: "1".into(),
            old: None,
        };
        assert_eq!(inside.shared_key(), None);
        assert_eq!(veth().shared_key(), None);
        let bridge = Op::LinkAdd {
            ns: NsRef::Host,
            name: "cni0".into(),
            kind: LinkKind::Bridge,
            settings: LinkSettings::default(),
            shared: true,
        };
        let user = Op::Use {
            ns: NsRef::Host,
            name: "cni0".into(),
            owner: Owner::Shared,
        };
        assert_eq!(bridge.shared_key(), user.shared_key());
        let batch = |subnet: &str| Batch {
            ns: NsRef::Host,
            v6: false,
            comment: "ignored".into(),
            rules: vec![Rule::new(
                "nat",
                "PLUMB-POSTROUTING",
                &["-s", subnet],
                &["-j", "MASQUERADE"],
            )],
        };
        let a = Op::shared_comment(&batch("10.66.0.0/24"));
        assert_eq!(a, Op::shared_comment(&batch("10.66.0.0/24")));
        assert_ne!(a, Op::shared_comment(&batch("10.67.0.0/24")));
        assert!(a.starts_with("plumb:shared/"), "{a}");
    }

    #[test]
    fn links_named_but_not_made_are_listed() {
        assert_eq!(veth().links_used(), vec![(&NsRef::Host, "br0")]);
        let macvlan = Op::LinkAdd {
            ns: NsRef::Host,
            name: "m0".into(),
            kind: LinkKind::Macvlan {
                parent: "eth0".into(),
                mode: plumb_kernel::MacvlanMode::Bridge,
            },
            settings: LinkSettings::default(),
            shared: false,
        };
        assert_eq!(macvlan.links_used(), vec![(&NsRef::Host, "eth0")]);
    }

    #[test]
    fn marks_name_their_run() {
        assert_eq!(
            run_of_mark(&mark_of("20261123-101010-7", 3)),
            Some("20261123-101010-7")
        );
        assert_eq!(run_of_mark("plumb:r1/3"), Some("r1"));
        assert_eq!(run_of_mark(SHARED_MARK), None);
        assert_eq!(run_of_mark("eth0 uplink"), None);
    }
}
