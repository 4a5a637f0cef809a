//! Every change plumb makes is one [`Op`]: it applies itself, undoes itself and
//! prints the `ip`/`sysctl`/`iptables` commands a reader of the tutorials would type.

use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::kernel::{
    firewall, process, sysctl, Kernel, LinkChange, LinkKind, LinkSettings, NsRef, Route,
};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// `ip netns add NAME` (+ lo up, + IPv6 off for new interfaces unless `ipv6`).
    NetnsAdd { name: String, ipv6: bool },
    /// `ip link add ...`, with its MTU, master and up state in the same
    /// request; the new link carries the run's mark as its alias.
    LinkAdd {
        ns: NsRef,
        name: String,
        kind: LinkKind,
        #[serde(flatten)]
        settings: LinkSettings,
    },
    /// `ip link set NAME ...`; `old` is what undo restores (None: nothing to restore).
    LinkSet {
        ns: NsRef,
        name: String,
        change: LinkChange,
        old: Option<LinkChange>,
    },
    /// `ip link set NAME netns TO name NEW_NAME`.
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
    AddrAdd { ns: NsRef, dev: String, addr: IpNet },
    /// `ip route add ...`.
    RouteAdd { ns: NsRef, route: Route },
    /// `sysctl -w KEY=VALUE`; undo writes `old` back.
    Sysctl {
        ns: NsRef,
        key: String,
        value: String,
        old: Option<String>,
    },
    /// A background program, stopped on undo.
    Spawn { ns: NsRef, argv: Vec<String> },
    /// Firewall rules applied as one `iptables-restore --noflush` batch.
    Firewall(firewall::Batch),
}

/// What applying an op learned that undo needs to tell its own objects from
/// same-named ones made by someone else later.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inode: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<u64>,
}

/// The alias that marks a link as made by a run: `plumb:RUN`.
pub fn mark_of(run_id: &str) -> String {
    format!("plumb:{run_id}")
}

/// Quote one word for a POSIX shell, only when it needs it.
pub fn shell_quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,!".contains(c));
    if safe {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

pub fn shell_join(argv: &[String]) -> String {
    argv.iter()
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ")
}

fn link_change_args(change: &LinkChange) -> String {
    match change {
        LinkChange::Up => "up".into(),
        LinkChange::Down => "down".into(),
        LinkChange::Master(Some(index)) => format!("master #{index}"),
        LinkChange::Master(None) => "nomaster".into(),
        LinkChange::Mtu(m) => format!("mtu {m}"),
        LinkChange::Mac(mac) => format!("address {mac}"),
        LinkChange::Alias(a) => format!("alias {}", shell_quote(a)),
        LinkChange::Netns { name, .. } => format!("name {name}"),
    }
}

impl Op {
    /// A one-line summary for journals and messages.
    pub fn describe(&self) -> String {
        self.shell().first().cloned().unwrap_or_default()
    }

    /// The namespace the op's objects live in, when that is a single named one.
    fn netns_name(&self) -> Option<&str> {
        let ns = match self {
            Op::LinkAdd { ns, .. }
            | Op::LinkSet { ns, .. }
            | Op::SetMaster { ns, .. }
            | Op::AddrAdd { ns, .. }
            | Op::RouteAdd { ns, .. }
            | Op::Sysctl { ns, .. } => ns,
            _ => return None,
        };
        match ns {
            NsRef::Named(n) => Some(n),
            _ => None,
        }
    }

    /// The shell commands equivalent to this op (what `--dry-run` prints).
    pub fn shell(&self) -> Vec<String> {
        match self {
            Op::NetnsAdd { name, ipv6 } => {
                let mut lines = vec![
                    format!("ip netns add {name}"),
                    format!("ip -n {name} link set lo up"),
                ];
                if !ipv6 {
                    lines.push(format!(
                        "ip netns exec {name} sysctl -qw net.ipv6.conf.default.disable_ipv6=1"
                    ));
                }
                lines
            }
            Op::LinkAdd {
                ns,
                name,
                kind,
                settings,
            } => {
                let ip = ns.ip();
                let mtu_arg = settings
                    .mtu
                    .map(|m| format!(" mtu {m}"))
                    .unwrap_or_default();
                let up_arg = if settings.up && kind.up_on_create() {
                    " up"
                } else {
                    ""
                };
                let master_arg = settings
                    .master
                    .as_ref()
                    .map(|m| format!(" master {m}"))
                    .unwrap_or_default();
                let head = format!("{ip} link add {name}{mtu_arg}{master_arg}{up_arg}");
                match kind {
                    LinkKind::Veth { peer, peer_netns } => {
                        let netns = match peer_netns {
                            Some(p) if p != ns => format!(" netns {}", p.ip_netns_arg()),
                            _ => String::new(),
                        };
                        let mut lines =
                            vec![format!("{head} type veth peer name {peer}{mtu_arg}{netns}")];
                        if settings.up {
                            let peer_ip = peer_netns.as_ref().unwrap_or(ns).ip();
                            lines.push(format!("{ip} link set {name} up"));
                            lines.push(format!("{peer_ip} link set {peer} up"));
                        }
                        lines
                    }
                    LinkKind::Bridge => vec![format!("{head} type bridge")],
                    LinkKind::Vxlan { spec, dev } => {
                        let mut s =
                            format!("{head} type vxlan id {} dstport {}", spec.id, spec.port);
                        for (word, value) in [
                            ("local", spec.local),
                            ("remote", spec.remote),
                            ("group", spec.group),
                        ] {
                            if let Some(v) = value {
                                s += &format!(" {word} {v}");
                            }
                        }
                        if let Some(dev) = dev {
                            s += &format!(" dev {dev}");
                        }
                        vec![s]
                    }
                    LinkKind::Macvlan { parent, mode } => vec![format!(
                        "{head} link {parent} type macvlan mode {}",
                        mode.as_str()
                    )],
                }
            }
            Op::LinkSet {
                ns, name, change, ..
            } => vec![format!(
                "{} link set {name} {}",
                ns.ip(),
                link_change_args(change)
            )],
            Op::SetMaster {
                ns, name, master, ..
            } => vec![match master {
                Some(m) => format!("{} link set {name} master {m}", ns.ip()),
                None => format!("{} link set {name} nomaster", ns.ip()),
            }],
            Op::LinkMove {
                ns,
                name,
                to,
                new_name,
            } => vec![format!(
                "{} link set {name} netns {} name {new_name}",
                ns.ip(),
                to.ip_netns_arg()
            )],
            Op::AddrAdd { ns, dev, addr } => vec![format!("{} addr add {addr} dev {dev}", ns.ip())],
            Op::RouteAdd { ns, route } => {
                vec![format!("{} route add {}", ns.ip(), route.describe())]
            }
            Op::Sysctl { ns, key, value, .. } => vec![format!(
                "{}sysctl -qw {}={}",
                ns.exec_prefix(),
                key,
                shell_quote(value)
            )],
            Op::Spawn { ns, argv } => vec![format!("{}{} &", ns.exec_prefix(), shell_join(argv))],
            Op::Firewall(batch) => batch.shell(),
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
                    LinkChange::Master(_) | LinkChange::Netns { .. } => {
                        unreachable!("journaled as SetMaster / LinkMove")
                    }
                });
            }
            Op::SetMaster { ns, name, old, .. } => {
                *old = match k.link(ns, name)?.master {
                    Some(index) => k.link_by_index(ns, index)?.map(|l| l.name),
                    None => None,
                };
            }
            Op::Sysctl { ns, key, old, .. } => *old = Some(sysctl::get(ns, key)?),
            _ => {}
        }
        Ok(())
    }

    /// Apply the op to the kernel. `mark` tags created links (their alias).
    pub fn apply(&self, k: &Kernel, mark: &str) -> Result<Outcome> {
        match self {
            Op::NetnsAdd { name, ipv6 } => Ok(Outcome {
                inode: Some(k.create_netns(name, *ipv6)?),
                ..Default::default()
            }),
            Op::LinkAdd {
                ns,
                name,
                kind,
                settings,
            } => {
                k.add_link(ns, name, kind, settings, mark)?;
                Ok(Outcome::default())
            }
            Op::LinkSet {
                ns, name, change, ..
            } => {
                k.set_link(ns, name, change)?;
                Ok(Outcome::default())
            }
            Op::SetMaster {
                ns, name, master, ..
            } => {
                k.set_master(ns, name, master.as_deref())?;
                Ok(Outcome::default())
            }
            Op::LinkMove {
                ns,
                name,
                to,
                new_name,
            } => {
                k.move_link(ns, name, to, new_name)?;
                Ok(Outcome::default())
            }
            Op::AddrAdd { ns, dev, addr } => {
                k.add_addr(ns, dev, *addr)?;
                Ok(Outcome::default())
            }
            Op::RouteAdd { ns, route } => {
                k.add_route(ns, route)?;
                Ok(Outcome::default())
            }
            Op::Sysctl { ns, key, value, .. } => {
                sysctl::set(ns, key, value)?;
                Ok(Outcome::default())
            }
            Op::Firewall(batch) => {
                batch.apply()?;
                Ok(Outcome::default())
            }
            Op::Spawn { ns, argv } => {
                let (_child, spawned) = process::spawn_in(ns, argv, None)?;
                Ok(Outcome {
                    pid: Some(spawned.pid),
                    start_time: Some(spawned.start_time),
                    ..Default::default()
                })
            }
        }
    }

    /// Undo the op. Idempotent: what is already gone counts as undone. `outcome`
    /// is None when the op was in flight when its run died.
    pub fn undo(&self, k: &Kernel, outcome: Option<&Outcome>, mark: &str) -> Result<()> {
        let result = match self {
            Op::NetnsAdd { name, .. } => k.delete_netns(name, outcome.and_then(|o| o.inode)),
            Op::LinkAdd { ns, name, .. } => match k.find_link(ns, name)? {
                None => Ok(()),
                Some(link) => {
                    let ours = link.alias.as_deref() == Some(mark)
                        || (outcome.is_none() && link.alias.is_none());
                    if ours {
                        k.delete_link(ns, link.index)
                    } else {
                        Err(Error::Journal(format!(
                            "link '{name}' in {ns} was not made by this run (alias {:?}); left alone",
                            link.alias.unwrap_or_default()
                        )))
                    }
                }
            },
            Op::LinkSet { ns, name, old, .. } => match old {
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
            Op::AddrAdd { ns, dev, addr } => k.del_addr(ns, dev, *addr),
            Op::RouteAdd { ns, route } => k.del_route(ns, route),
            Op::Sysctl { ns, key, old, .. } => match old {
                Some(old) => sysctl::set(ns, key, old),
                None => Ok(()),
            },
            Op::Firewall(batch) => batch.undo(),
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
                // Killed before the pid reached the journal: nothing can be identified safely.
                _ => Ok(()),
            },
        };
        match result {
            Err(e) if e.is_already_gone() => Ok(()),
            other => other,
        }
    }

    /// Is this op's effect removed anyway when namespace `name` is deleted?
    pub fn lives_in_netns(&self, name: &str) -> bool {
        self.netns_name() == Some(name)
    }

    /// The host-side link a veth op leaves behind whose peer lives in `name`:
    /// the kernel removes it when that namespace goes.
    pub fn veth_end_removed_with(&self, netns_name: &str) -> Option<(&NsRef, &str)> {
        match self {
            Op::LinkAdd {
                ns,
                name,
                kind:
                    LinkKind::Veth {
                        peer_netns: Some(NsRef::Named(peer_ns)),
                        ..
                    },
                ..
            } if peer_ns == netns_name => Some((ns, name)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn veth() -> Op {
        Op::LinkAdd {
            ns: NsRef::Host,
            name: "veth0".into(),
            kind: LinkKind::Veth {
                peer: "ceth0".into(),
                peer_netns: Some(NsRef::Named("netns0".into())),
            },
            settings: LinkSettings {
                mtu: None,
                master: Some("br0".into()),
                up: true,
            },
        }
    }

    #[test]
    fn ops_print_the_ip_commands_of_the_tutorials() {
        assert_eq!(
            veth().shell(),
            vec![
                "ip link add veth0 master br0 type veth peer name ceth0 netns netns0",
                "ip link set veth0 up",
                "ip -n netns0 link set ceth0 up"
            ]
        );
        let addr = Op::AddrAdd {
            ns: NsRef::Named("netns0".into()),
            dev: "ceth0".into(),
            addr: "172.18.0.10/16".parse().unwrap(),
        };
        assert_eq!(
            addr.shell(),
            vec!["ip -n netns0 addr add 172.18.0.10/16 dev ceth0"]
        );
        let fwd = Op::Sysctl {
            ns: NsRef::Host,
            key: "net.ipv4.ip_forward".into(),
            value: "1".into(),
            old: Some("0".into()),
        };
        assert_eq!(fwd.shell(), vec!["sysctl -qw net.ipv4.ip_forward=1"]);
        let spawn = Op::Spawn {
            ns: NsRef::Named("netns0".into()),
            argv: vec!["python3".into(), "-c".into(), "print('hi there')".into()],
        };
        assert_eq!(
            spawn.shell(),
            vec![r#"ip netns exec netns0 python3 -c 'print('\''hi there'\'')' &"#]
        );
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
                ns: NsRef::Pid(7),
                route: Route {
                    dest: None,
                    via: Some("10.0.0.1".parse().unwrap()),
                    dev: None,
                },
            },
        ] {
            let text = serde_json::to_string(&op).unwrap();
            let back: Op = serde_json::from_str(&text).unwrap();
            assert_eq!(back, op, "{text}");
        }
    }

    #[test]
    fn veth_peer_namespace_covers_the_host_end() {
        assert_eq!(
            veth().veth_end_removed_with("netns0"),
            Some((&NsRef::Host, "veth0"))
        );
        assert_eq!(veth().veth_end_removed_with("other"), None);
    }
}
