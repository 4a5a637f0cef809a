//! Drift: is what a run made still in the kernel as it made it? Each op
//! checks its own object ([`Op::check`]); [`expectations`] first folds a
//! run's later ops into its earlier ones (a link moved, its MTU or master
//! set again), so each op is checked against the state the whole run left.
//! Used by `plumb status` and by the CNI CHECK verb.

use plumb_kernel::{netns, process, sysctl, Inspect, Kernel, LinkChange, LinkInfo, NsRef, Route};

use crate::error::Result;
use crate::journal::{Entry, EntryState};
use crate::op::{Op, Outcome, Owner, SHARED_MARK};

/// The MTU the kernel gives a veth made without one (ETH_DATA_LEN).
const VETH_MTU: u32 = 1500;

/// How an op's object compares with what the op made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Drift {
    /// As made.
    Fine,
    /// Gone: `what` names the object (or what it needs) that is not there.
    Missing { what: String },
    /// There, but different.
    Changed { changes: Vec<Change> },
}

/// One attribute that differs from what the run made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub what: String,
    pub expected: String,
    pub found: String,
}

impl Change {
    fn new(what: &str, expected: impl ToString, found: impl ToString) -> Change {
        Change {
            what: what.into(),
            expected: expected.to_string(),
            found: found.to_string(),
        }
    }
}

impl Drift {
    pub fn is_fine(&self) -> bool {
        matches!(self, Drift::Fine)
    }

    fn missing(what: impl Into<String>) -> Drift {
        Drift::Missing { what: what.into() }
    }

    fn of(changes: Vec<Change>) -> Drift {
        if changes.is_empty() {
            Drift::Fine
        } else {
            Drift::Changed { changes }
        }
    }
}

/// `link 'veth0' in host`, as drift reports name links.
fn link_name(ns: &NsRef, name: &str) -> String {
    format!("link '{name}' in {}", ns.short_name())
}

fn up_text(up: bool) -> &'static str {
    if up {
        "up"
    } else {
        "down"
    }
}

/// The namespace is there (a named one's file, a process's, a path).
fn ns_present(ns: &NsRef) -> bool {
    netns::inode(ns).is_ok()
}

/// The link, or why it cannot be looked at: its namespace or itself is gone.
fn find(k: &Kernel, ns: &NsRef, name: &str) -> Result<std::result::Result<LinkInfo, Drift>> {
    if !ns_present(ns) {
        return Ok(Err(Drift::missing(format!(
            "namespace {}",
            ns.short_name()
        ))));
    }
    Ok(k.find_link(ns, name)?
        .ok_or_else(|| Drift::missing(link_name(ns, name))))
}

/// The name of the link with index `index` in `ns` (`#N` if none has it).
fn name_at(k: &Kernel, ns: &NsRef, index: u32) -> Result<String> {
    Ok(k.link_by_index(ns, index)?
        .map_or_else(|| format!("#{index}"), |l| l.name))
}

impl Op {
    /// What this op's object is, in a few words: `link 'br0' (bridge) in host`.
    pub fn object(&self) -> String {
        match self {
            Op::NetnsAdd { name, .. } => format!("namespace {name}"),
            Op::LinkAdd { ns, name, kind, .. } => {
                format!("{} ({})", link_name(ns, name), kind.kernel_name())
            }
            Op::LinkSet {
                ns, name, change, ..
            } => {
                let what = match change {
                    LinkChange::Up | LinkChange::Down => "state",
                    LinkChange::Mtu(_) => "MTU",
                    LinkChange::Mac(_) => "MAC",
                    LinkChange::Alias(_) => "alias",
                    LinkChange::Hairpin(_) => "hairpin mode",
                };
                format!("{what} of {}", link_name(ns, name))
            }
            Op::LinkMove { to, new_name, .. } => link_name(to, new_name),
            Op::SetMaster { ns, name, .. } => format!("master of {}", link_name(ns, name)),
            Op::AddrAdd { ns, dev, addr, .. } => {
                format!("address {addr} on {}", link_name(ns, dev))
            }
            Op::RouteAdd { ns, route } => {
                format!("route {} in {}", route_text(route), ns.short_name())
            }
            Op::Sysctl { ns, key, .. } => format!("sysctl {key} in {}", ns.short_name()),
            Op::Spawn { ns, argv } => {
                format!("process `{}` in {}", command_text(argv), ns.short_name())
            }
            Op::Firewall { batch, .. } => format!(
                "{} firewall rule(s) in {}{}",
                batch.rules.len(),
                batch.ns.short_name(),
                if batch.v6 { " (IPv6)" } else { "" }
            ),
            Op::Use { ns, name, owner } => format!(
                "{} ({})",
                link_name(ns, name),
                match owner {
                    Owner::Run(r) => format!("run {r}'s"),
                    Owner::Shared => "shared".into(),
                }
            ),
            Op::Lease { addr, key, .. } => format!("lease of {addr} to {key}"),
        }
    }

    /// Is this op's object in the kernel as the op made it? `outcome` is
    /// what applying it learned (None: it was in flight), `mark` the mark
    /// it gave its objects. Checks the op as written; fold a run's later
    /// ops in first with [`expectations`].
    pub fn check(&self, k: &Kernel, outcome: Option<&Outcome>, mark: &str) -> Result<Drift> {
        let preexisting = outcome.is_some_and(|o| o.preexisting);
        Ok(match self {
            Op::NetnsAdd { name, .. } => {
                let ns = NsRef::Named(name.clone());
                match (netns::inode(&ns), outcome.and_then(|o| o.inode)) {
                    (Err(_), _) => Drift::missing(format!("namespace {name}")),
                    (Ok(found), Some(made)) if found != made => Drift::of(vec![Change::new(
                        "namespace inode (another namespace took the name)",
                        made,
                        found,
                    )]),
                    (Ok(_), _) => Drift::Fine,
                }
            }
            Op::LinkAdd {
                ns,
                name,
                kind,
                settings,
                shared,
            } => {
                let mark = if *shared { SHARED_MARK } else { mark };
                let link = match find(k, ns, name)? {
                    Ok(link) => link,
                    // Renamed since? Its mark still finds it.
                    Err(missing) => match k
                        .links(ns)
                        .ok()
                        .into_iter()
                        .flatten()
                        .find(|l| !*shared && l.alias.as_deref() == Some(mark))
                    {
                        Some(renamed) => {
                            return Ok(Drift::of(vec![Change::new("name", name, renamed.name)]))
                        }
                        None => return Ok(missing),
                    },
                };
                let mut changes = Vec::new();
                if !preexisting && link.alias.as_deref() != Some(mark) {
                    // Someone else's link has the name now: ours is gone.
                    return Ok(Drift::missing(format!(
                        "{} (a link of that name is there with alias {:?})",
                        link_name(ns, name),
                        link.alias.unwrap_or_default()
                    )));
                }
                if link.kind != kind.kernel_name() {
                    changes.push(Change::new("kind", kind.kernel_name(), &link.kind));
                }
                if *shared || preexisting {
                    // Shared: many runs' settings; only its presence and kind are ours.
                    return Ok(Drift::of(changes));
                }
                // A veth made without an MTU has the kernel's default.
                let mtu = match kind {
                    plumb_kernel::LinkKind::Veth { .. } => Some(settings.mtu.unwrap_or(VETH_MTU)),
                    _ => settings.mtu,
                };
                if let Some(mtu) = mtu.filter(|&m| m != link.mtu) {
                    changes.push(Change::new("mtu", mtu, link.mtu));
                }
                let master = match link.master {
                    Some(index) => Some(name_at(k, ns, index)?),
                    None => None,
                };
                if master != settings.master {
                    let text = |m: &Option<String>| m.clone().unwrap_or_else(|| "none".into());
                    changes.push(Change::new("master", text(&settings.master), text(&master)));
                }
                if link.up != settings.up {
                    changes.push(Change::new("state", up_text(settings.up), up_text(link.up)));
                }
                if let plumb_kernel::LinkKind::Veth { peer, peer_netns } = kind {
                    let peer_ns = peer_netns.as_ref().unwrap_or(ns);
                    match find(k, peer_ns, peer)? {
                        Err(Drift::Missing { what }) => changes.push(Change::new(
                            "peer",
                            link_name(peer_ns, peer),
                            what + " gone",
                        )),
                        Ok(end) => {
                            if let Some(mtu) = mtu.filter(|&m| m != end.mtu) {
                                changes.push(Change::new(
                                    &format!("mtu of peer {peer}"),
                                    mtu,
                                    end.mtu,
                                ));
                            }
                        }
                        Err(_) => {}
                    }
                }
                Drift::of(changes)
            }
            Op::LinkSet {
                ns, name, change, ..
            } => match find(k, ns, name)? {
                Err(missing) => missing,
                Ok(link) => Drift::of(match change {
                    LinkChange::Up | LinkChange::Down => {
                        let want = matches!(change, LinkChange::Up);
                        (link.up != want)
                            .then(|| Change::new("state", up_text(want), up_text(link.up)))
                            .into_iter()
                            .collect()
                    }
                    LinkChange::Mtu(mtu) => (link.mtu != *mtu)
                        .then(|| Change::new("mtu", mtu, link.mtu))
                        .into_iter()
                        .collect(),
                    LinkChange::Mac(mac) => (!link.mac.eq_ignore_ascii_case(mac))
                        .then(|| Change::new("mac", mac, &link.mac))
                        .into_iter()
                        .collect(),
                    LinkChange::Alias(alias) => {
                        let found = link.alias.unwrap_or_default();
                        (found != *alias)
                            .then(|| Change::new("alias", alias, found))
                            .into_iter()
                            .collect()
                    }
                    LinkChange::Hairpin(on) => {
                        let found = link.hairpin.unwrap_or(false);
                        (found != *on)
                            .then(|| Change::new("hairpin", on, found))
                            .into_iter()
                            .collect()
                    }
                }),
            },
            Op::SetMaster {
                ns, name, master, ..
            } => match find(k, ns, name)? {
                Err(missing) => missing,
                Ok(link) => {
                    let found = match link.master {
                        Some(index) => Some(name_at(k, ns, index)?),
                        None => None,
                    };
                    let text = |m: &Option<String>| m.clone().unwrap_or_else(|| "none".into());
                    Drift::of(
                        (found != *master)
                            .then(|| Change::new("master", text(master), text(&found)))
                            .into_iter()
                            .collect(),
                    )
                }
            },
            Op::LinkMove { to, new_name, .. } => match find(k, to, new_name)? {
                Err(missing) => missing,
                Ok(_) => Drift::Fine,
            },
            Op::AddrAdd { ns, dev, addr, .. } => match find(k, ns, dev)? {
                Err(missing) => missing,
                Ok(link) => {
                    let on_it = k
                        .addrs(ns)?
                        .iter()
                        .any(|a| a.index == link.index && a.addr == *addr);
                    if on_it {
                        Drift::Fine
                    } else {
                        Drift::missing(format!("address {addr} on {}", link_name(ns, dev)))
                    }
                }
            },
            Op::RouteAdd { ns, route } => {
                if !ns_present(ns) {
                    return Ok(Drift::missing(format!("namespace {}", ns.short_name())));
                }
                let dev = match &route.dev {
                    Some(d) => match k.find_link(ns, d)? {
                        Some(link) => Some(link.index),
                        None => return Ok(Drift::missing(link_name(ns, d))),
                    },
                    None => None,
                };
                // The kernel reports a default route without a destination.
                let dest = route.dest.filter(|d| d.prefix_len() > 0);
                let there = k.routes(ns)?.iter().any(|r| {
                    r.table == plumb_kernel::MAIN_TABLE
                        && r.dest.filter(|d| d.prefix_len() > 0) == dest
                        && r.via == route.via
                        && dev.is_none_or(|d| r.dev == Some(d))
                });
                if there {
                    Drift::Fine
                } else {
                    Drift::missing(format!(
                        "route {} in {}",
                        route_text(route),
                        ns.short_name()
                    ))
                }
            }
            Op::Sysctl { ns, key, value, .. } => {
                if !ns_present(ns) {
                    return Ok(Drift::missing(format!("namespace {}", ns.short_name())));
                }
                let found = sysctl::get(ns, key)?;
                Drift::of(
                    (found != *value)
                        .then(|| Change::new(key, value, found))
                        .into_iter()
                        .collect(),
                )
            }
            Op::Spawn { argv, .. } => match outcome.and_then(|o| o.pid.zip(o.start_time)) {
                Some((pid, start)) if process::start_time(pid) == Some(start) => Drift::Fine,
                Some((pid, _)) => {
                    Drift::missing(format!("process {pid} (`{}`)", command_text(argv)))
                }
                None => Drift::missing(format!("process `{}` (never started)", command_text(argv))),
            },
            Op::Firewall { batch, .. } => {
                if !ns_present(&batch.ns) {
                    return Ok(Drift::missing(format!(
                        "namespace {}",
                        batch.ns.short_name()
                    )));
                }
                let present = batch.present()?;
                let wanted = batch.rules.len();
                if present == 0 && wanted > 0 {
                    Drift::missing(format!("{wanted} rule(s) with comment {}", batch.comment))
                } else {
                    Drift::of(
                        (present != wanted)
                            .then(|| Change::new("rules present", wanted, present))
                            .into_iter()
                            .collect(),
                    )
                }
            }
            Op::Use { ns, name, .. } => match find(k, ns, name)? {
                Err(missing) => missing,
                Ok(_) => Drift::Fine,
            },
            // A lease is held by the journal itself: it cannot drift.
            Op::Lease { .. } => Drift::Fine,
        })
    }
}

/// Every way a run's live objects differ from what it made, one line each
/// (empty: as made). For the CNI CHECK verb.
pub fn drift_of(journal: &crate::journal::Journal, k: &Kernel) -> Result<Vec<String>> {
    let entries = journal.entries();
    let mut lines = Vec::new();
    for (entry, expected) in entries.iter().zip(expectations(entries)) {
        let Some(drift) = check_entry(k, entry, expected.as_ref(), &journal.run_id) else {
            continue;
        };
        match drift? {
            Drift::Fine => {}
            Drift::Missing { what } => lines.push(format!("{what}: missing")),
            Drift::Changed { changes } => lines.extend(changes.iter().map(|c| {
                format!(
                    "{}: {} is {}, made as {}",
                    entry.op.object(),
                    c.what,
                    c.found,
                    c.expected
                )
            })),
        }
    }
    Ok(lines)
}

/// A command line in a few words: its first line, cut at 40 characters
/// (a spawned `python3 -c` carries a whole program).
fn command_text(argv: &[String]) -> String {
    let text = argv.join(" ");
    let first = text.lines().next().unwrap_or_default();
    let cut: String = first.chars().take(40).collect();
    if cut.len() < text.len() {
        format!("{} …", cut.trim_end())
    } else {
        cut
    }
}

/// `default via 10.0.0.1`, `10.244.2.0/24 via 192.168.1.2 dev eth0`.
pub fn route_text(route: &Route) -> String {
    let mut text = route
        .dest
        .map_or_else(|| "default".to_string(), |d| d.to_string());
    if let Some(via) = route.via {
        text += &format!(" via {via}");
    }
    if let Some(dev) = &route.dev {
        text += &format!(" dev {dev}");
    }
    text
}

/// Does `op` act on the link `(ns, name)`?
fn on_link(op: &Op, at: &NsRef, link: &str) -> bool {
    match op {
        Op::LinkAdd { ns, name, .. }
        | Op::LinkSet { ns, name, .. }
        | Op::SetMaster { ns, name, .. }
        | Op::Use { ns, name, .. } => ns == at && name == link,
        Op::LinkMove { to, new_name, .. } => to == at && new_name == link,
        Op::AddrAdd { ns, dev, .. } => ns == at && dev == link,
        Op::RouteAdd { ns, route } => ns == at && route.dev.as_deref() == Some(link),
        Op::NetnsAdd { .. }
        | Op::Sysctl { .. }
        | Op::Spawn { .. }
        | Op::Firewall { .. }
        | Op::Lease { .. } => false,
    }
}

/// Same kind of `ip link set` change (up and down are one kind).
fn same_change(a: &LinkChange, b: &LinkChange) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
        || matches!(
            (a, b),
            (
                LinkChange::Up | LinkChange::Down,
                LinkChange::Up | LinkChange::Down
            )
        )
}

/// The earlier op `earlier` as the later op `later` of the same run leaves
/// it: None when nothing of it is left to check on its own.
fn fold(earlier: Op, later: &Op) -> Option<Op> {
    match later {
        // Moving a link takes it down, off its bridge, and drops its
        // addresses and routes; it keeps MTU, MAC and alias.
        Op::LinkMove {
            ns: from,
            name: old,
            to,
            new_name,
        } => match earlier {
            Op::LinkAdd {
                ns,
                name,
                kind,
                mut settings,
                shared,
            } if ns == *from && name == *old => {
                settings.master = None;
                settings.up = false;
                let kind = match kind {
                    // The peer stays where it was made.
                    plumb_kernel::LinkKind::Veth { peer, peer_netns } => {
                        plumb_kernel::LinkKind::Veth {
                            peer,
                            peer_netns: Some(peer_netns.unwrap_or(ns)),
                        }
                    }
                    other => other,
                };
                Some(Op::LinkAdd {
                    ns: to.clone(),
                    name: new_name.clone(),
                    kind,
                    settings,
                    shared,
                })
            }
            Op::LinkAdd {
                ns,
                name,
                kind: plumb_kernel::LinkKind::Veth { peer, peer_netns },
                settings,
                shared,
            } if peer == *old && peer_netns.as_ref().unwrap_or(&ns) == from => Some(Op::LinkAdd {
                ns,
                name,
                kind: plumb_kernel::LinkKind::Veth {
                    peer: new_name.clone(),
                    peer_netns: Some(to.clone()),
                },
                settings,
                shared,
            }),
            Op::LinkSet {
                ns,
                name,
                change,
                old: before,
            } if ns == *from && name == *old => match change {
                LinkChange::Up | LinkChange::Down => None,
                change => Some(Op::LinkSet {
                    ns: to.clone(),
                    name: new_name.clone(),
                    change,
                    old: before,
                }),
            },
            Op::SetMaster { .. }
            | Op::AddrAdd { .. }
            | Op::RouteAdd { .. }
            | Op::LinkMove { .. }
                if on_link(&earlier, from, old) =>
            {
                None
            }
            other => Some(other),
        },
        Op::LinkSet {
            ns: at,
            name: link,
            change,
            ..
        } => match earlier {
            Op::LinkAdd {
                ns,
                name,
                kind,
                mut settings,
                shared,
            } if ns == *at && name == *link => {
                match change {
                    LinkChange::Up => settings.up = true,
                    LinkChange::Down => settings.up = false,
                    LinkChange::Mtu(m) => settings.mtu = Some(*m),
                    LinkChange::Mac(_) | LinkChange::Alias(_) | LinkChange::Hairpin(_) => {}
                }
                Some(Op::LinkAdd {
                    ns,
                    name,
                    kind,
                    settings,
                    shared,
                })
            }
            Op::LinkSet {
                ref ns,
                ref name,
                change: ref before,
                ..
            } if ns == at && name == link && same_change(before, change) => None,
            other => Some(other),
        },
        Op::SetMaster {
            ns: at,
            name: link,
            master,
            ..
        } => match earlier {
            Op::LinkAdd {
                ns,
                name,
                kind,
                mut settings,
                shared,
            } if ns == *at && name == *link => {
                settings.master = master.clone();
                Some(Op::LinkAdd {
                    ns,
                    name,
                    kind,
                    settings,
                    shared,
                })
            }
            Op::SetMaster {
                ref ns, ref name, ..
            } if ns == at && name == link => None,
            other => Some(other),
        },
        Op::Sysctl { ns: at, key: k, .. } => match earlier {
            Op::Sysctl {
                ref ns, ref key, ..
            } if ns == at && key == k => None,
            other => Some(other),
        },
        Op::NetnsAdd { .. }
        | Op::LinkAdd { .. }
        | Op::AddrAdd { .. }
        | Op::RouteAdd { .. }
        | Op::Spawn { .. }
        | Op::Firewall { .. }
        | Op::Use { .. }
        | Op::Lease { .. } => Some(earlier),
    }
}

/// For each entry of a run, what it should find in the kernel now: its op
/// with the run's later ops folded in. None for entries that are not in the
/// kernel (failed, undone) and for ops a later one superseded (an MTU set
/// again, a master changed again): the later one is checked instead.
pub fn expectations(entries: &[Entry]) -> Vec<Option<Op>> {
    let mut expected: Vec<Option<Op>> = entries
        .iter()
        .map(|e| e.state.is_live().then(|| e.op.clone()))
        .collect();
    for (i, entry) in entries.iter().enumerate() {
        if !entry.state.is_live() {
            continue;
        }
        for slot in &mut expected[..i] {
            if let Some(op) = slot.take() {
                *slot = fold(op, &entry.op);
            }
        }
    }
    expected
}

/// One entry's check: None when it was in flight (not known to have been made).
pub fn check_entry(
    k: &Kernel,
    entry: &Entry,
    expected: Option<&Op>,
    run_id: &str,
) -> Option<Result<Drift>> {
    let op = expected?;
    if entry.state == EntryState::Pending {
        return None;
    }
    let mark = crate::op::mark_of(run_id, entry.seq);
    Some(op.check(k, entry.outcome.as_ref(), &mark))
}

#[cfg(test)]
mod tests {
    use super::*;
    use plumb_kernel::{LinkKind, LinkSettings};

    fn macvlan() -> Op {
        Op::LinkAdd {
            ns: NsRef::Host,
            name: "mv0".into(),
            kind: LinkKind::Macvlan {
                parent: "eth0".into(),
                mode: plumb_kernel::MacvlanMode::Bridge,
            },
            settings: LinkSettings::default(),
            shared: false,
        }
    }

    #[test]
    fn a_moved_link_is_expected_where_it_went_and_up_once_set_up() {
        let c1 = NsRef::Named("c1".into());
        let entries = vec![
            Entry::done(1, macvlan()),
            Entry::done(
                2,
                Op::LinkMove {
                    ns: NsRef::Host,
                    name: "mv0".into(),
                    to: c1.clone(),
                    new_name: "eth0".into(),
                },
            ),
            Entry::done(
                3,
                Op::LinkSet {
                    ns: c1.clone(),
                    name: "eth0".into(),
                    change: LinkChange::Up,
                    old: None,
                },
            ),
        ];
        let expected = expectations(&entries);
        let Some(Op::LinkAdd {
            ns, name, settings, ..
        }) = &expected[0]
        else {
            panic!("{expected:?}");
        };
        assert_eq!((ns, name.as_str(), settings.up), (&c1, "eth0", true));
        assert_eq!(expected[1], Some(entries[1].op.clone()));
        assert_eq!(expected[2], Some(entries[2].op.clone()));
    }

    #[test]
    fn a_later_mtu_or_master_replaces_the_earlier_one() {
        let set = |seq, mtu| {
            Entry::done(
                seq,
                Op::LinkSet {
                    ns: NsRef::Host,
                    name: "mv0".into(),
                    change: LinkChange::Mtu(mtu),
                    old: None,
                },
            )
        };
        let master = Entry::done(
            4,
            Op::SetMaster {
                ns: NsRef::Host,
                name: "mv0".into(),
                master: Some("br0".into()),
                old: None,
            },
        );
        let mut undone = set(5, 9000);
        undone.state = EntryState::Undone;
        let entries = vec![
            Entry::done(1, macvlan()),
            set(2, 1400),
            set(3, 1300),
            master,
            undone,
        ];
        let expected = expectations(&entries);
        let Some(Op::LinkAdd { settings, .. }) = &expected[0] else {
            panic!("{expected:?}");
        };
        assert_eq!(settings.mtu, Some(1300));
        assert_eq!(settings.master.as_deref(), Some("br0"));
        assert_eq!(expected[1], None, "superseded by the second MTU");
        assert!(expected[2].is_some());
        assert_eq!(expected[4], None, "undone");
    }

    #[test]
    fn routes_read_as_ip_route_prints_them() {
        let route = Route {
            dest: None,
            via: Some("10.0.0.1".parse().unwrap()),
            dev: None,
        };
        assert_eq!(route_text(&route), "default via 10.0.0.1");
        assert_eq!(
            Op::RouteAdd {
                ns: NsRef::Named("c1".into()),
                route
            }
            .object(),
            "route default via 10.0.0.1 in c1"
        );
    }
}
