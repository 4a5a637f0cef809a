//! Every kernel action as the shell command a reader of the tutorials would
//! type (`ip`, `sysctl`, `ip netns exec`): what `--dry-run` and `plumb
//! journal show` print. Firewall rules render themselves in firewall.rs,
//! with these helpers.

use ipnet::IpNet;

use crate::types::{LinkChange, LinkKind, LinkSettings, NsRef, Route};

/// Quote one word for a POSIX shell, only when it needs it.
pub fn quote(word: &str) -> String {
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

pub fn join(argv: &[String]) -> String {
    argv.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ")
}

/// The `ip` invocation that acts in `ns`.
pub fn ip(ns: &NsRef) -> String {
    match ns {
        NsRef::Host => "ip".into(),
        NsRef::Named(name) => format!("ip -n {name}"),
        NsRef::Pid(pid) => format!("nsenter -t {pid} -n ip"),
        NsRef::Path(path) => format!("nsenter --net={} ip", quote(&path.display().to_string())),
    }
}

/// A command prefix that runs a program in `ns`.
pub fn exec_prefix(ns: &NsRef) -> String {
    match ns {
        NsRef::Host => String::new(),
        NsRef::Named(name) => format!("ip netns exec {name} "),
        NsRef::Pid(pid) => format!("nsenter -t {pid} -n "),
        NsRef::Path(path) => format!("nsenter --net={} ", quote(&path.display().to_string())),
    }
}

/// How `ip link set ... netns X` names `ns`.
fn netns_arg(ns: &NsRef) -> String {
    match ns {
        NsRef::Host => "1".into(), // pid 1's namespace: right on a real host
        NsRef::Named(name) => name.clone(),
        NsRef::Pid(pid) => pid.to_string(),
        NsRef::Path(path) => quote(&path.display().to_string()),
    }
}

/// `ip netns add NAME` with what plumb does to every new namespace.
pub fn netns_add(name: &str, ipv6: bool) -> Vec<String> {
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

/// `ip link add ...` in one command where `ip` allows it; a veth's ends are
/// brought up after (the kernel refuses to open one before the other exists).
pub fn link_add(ns: &NsRef, name: &str, kind: &LinkKind, settings: &LinkSettings) -> Vec<String> {
    let ip = ip(ns);
    let mtu = settings
        .mtu
        .map(|m| format!(" mtu {m}"))
        .unwrap_or_default();
    let up = if settings.up && kind.up_on_create() {
        " up"
    } else {
        ""
    };
    let master = settings
        .master
        .as_ref()
        .map(|m| format!(" master {m}"))
        .unwrap_or_default();
    let mac = settings
        .mac
        .as_ref()
        .map(|m| format!(" address {m}"))
        .unwrap_or_default();
    let head = format!("{ip} link add {name}{mac}{mtu}{master}{up}");
    match kind {
        LinkKind::Veth { peer, peer_netns } => {
            let netns = match peer_netns {
                Some(p) if p != ns => format!(" netns {}", netns_arg(p)),
                _ => String::new(),
            };
            let mut lines = vec![format!("{head} type veth peer name {peer}{mtu}{netns}")];
            if settings.up {
                let peer_ip = self::ip(peer_netns.as_ref().unwrap_or(ns));
                lines.push(format!("{peer_ip} link set {peer} up"));
                lines.push(format!("{ip} link set {name} up"));
            }
            lines
        }
        LinkKind::Bridge => vec![format!("{head} type bridge")],
        LinkKind::Vxlan { spec, dev } => {
            let mut s = format!("{head} type vxlan id {} dstport {}", spec.id, spec.port);
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

pub fn link_set(ns: &NsRef, name: &str, change: &LinkChange) -> String {
    let args = match change {
        LinkChange::Up => "up".into(),
        LinkChange::Down => "down".into(),
        LinkChange::Mtu(m) => format!("mtu {m}"),
        LinkChange::Mac(mac) => format!("address {mac}"),
        LinkChange::Alias(a) => format!("alias {}", quote(a)),
        LinkChange::Hairpin(on) => {
            format!(
                "type bridge_slave hairpin {}",
                if *on { "on" } else { "off" }
            )
        }
    };
    format!("{} link set {name} {args}", ip(ns))
}

pub fn set_master(ns: &NsRef, name: &str, master: Option<&str>) -> String {
    match master {
        Some(m) => format!("{} link set {name} master {m}", ip(ns)),
        None => format!("{} link set {name} nomaster", ip(ns)),
    }
}

pub fn link_move(ns: &NsRef, name: &str, to: &NsRef, new_name: &str) -> String {
    format!(
        "{} link set {name} netns {} name {new_name}",
        ip(ns),
        netns_arg(to)
    )
}

pub fn link_delete(ns: &NsRef, name: &str) -> String {
    format!("{} link del {name}", ip(ns))
}

/// `ip addr add`, with the broadcast address plumb's request carries for
/// IPv4 (`brd +`) and `nodad` for IPv6, as plumb adds them.
pub fn addr_add(ns: &NsRef, dev: &str, addr: &IpNet) -> String {
    let extra = match addr {
        IpNet::V4(a) if a.prefix_len() < 31 => " brd +",
        IpNet::V4(_) => "",
        IpNet::V6(_) => " nodad",
    };
    format!("{} addr add {addr}{extra} dev {dev}", ip(ns))
}

/// `default via 10.0.0.1` / `10.1.0.0/16 dev br0`, as `ip route` prints it.
pub fn route_args(route: &Route) -> String {
    let mut s = match route.dest {
        Some(d) => d.to_string(),
        None => "default".into(),
    };
    if let Some(gw) = route.via {
        s += &format!(" via {gw}");
    }
    if let Some(dev) = &route.dev {
        s += &format!(" dev {dev}");
    }
    s
}

pub fn route_add(ns: &NsRef, route: &Route) -> String {
    format!("{} route add {}", ip(ns), route_args(route))
}

pub fn sysctl(ns: &NsRef, key: &str, value: &str) -> String {
    format!("{}sysctl -qw {key}={}", exec_prefix(ns), quote(value))
}

/// A program started in the background (`&`).
pub fn spawn(ns: &NsRef, argv: &[String]) -> String {
    format!("{}{} &", exec_prefix(ns), join(argv))
}

/// A program run to completion.
pub fn exec(ns: &NsRef, argv: &[String]) -> String {
    format!("{}{}", exec_prefix(ns), join(argv))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{MacvlanMode, VxlanSpec};

    #[test]
    fn commands_name_their_namespace() {
        assert_eq!(ip(&NsRef::Host), "ip");
        assert_eq!(ip(&NsRef::Named("ns1".into())), "ip -n ns1");
        assert_eq!(
            exec_prefix(&NsRef::Named("ns1".into())),
            "ip netns exec ns1 "
        );
        assert_eq!(ip(&NsRef::Pid(42)), "nsenter -t 42 -n ip");
        assert_eq!(
            ip(&NsRef::Path("/run/netns/cni-1 x".into())),
            "nsenter --net='/run/netns/cni-1 x' ip"
        );
    }

    #[test]
    fn links_print_as_the_tutorials_type_them() {
        let veth = LinkKind::Veth {
            peer: "ceth0".into(),
            peer_netns: Some(NsRef::Named("netns0".into())),
        };
        let settings = LinkSettings {
            master: Some("br0".into()),
            up: true,
            ..Default::default()
        };
        assert_eq!(
            link_add(&NsRef::Host, "veth0", &veth, &settings),
            vec![
                "ip link add veth0 master br0 type veth peer name ceth0 netns netns0",
                "ip -n netns0 link set ceth0 up",
                "ip link set veth0 up"
            ]
        );
        let vxlan = LinkKind::Vxlan {
            spec: VxlanSpec {
                id: 42,
                port: 4789,
                local: None,
                remote: Some("10.0.0.2".parse().unwrap()),
                group: None,
            },
            dev: Some("eth0".into()),
        };
        assert_eq!(
            link_add(
                &NsRef::Host,
                "vx",
                &vxlan,
                &LinkSettings {
                    up: true,
                    ..Default::default()
                }
            ),
            vec!["ip link add vx up type vxlan id 42 dstport 4789 remote 10.0.0.2 dev eth0"]
        );
        let macvlan = LinkKind::Macvlan {
            parent: "eth0".into(),
            mode: MacvlanMode::Bridge,
        };
        assert_eq!(
            link_add(&NsRef::Host, "m0", &macvlan, &LinkSettings::default()),
            vec!["ip link add m0 link eth0 type macvlan mode bridge"]
        );
    }

    #[test]
    fn addresses_carry_what_plumb_sets() {
        let ns = NsRef::Named("n".into());
        assert_eq!(
            addr_add(&ns, "eth0", &"172.18.0.10/16".parse().unwrap()),
            "ip -n n addr add 172.18.0.10/16 brd + dev eth0"
        );
        assert_eq!(
            addr_add(&ns, "eth0", &"10.0.0.1/31".parse().unwrap()),
            "ip -n n addr add 10.0.0.1/31 dev eth0"
        );
        assert_eq!(
            addr_add(&ns, "eth0", &"fd00::1/64".parse().unwrap()),
            "ip -n n addr add fd00::1/64 nodad dev eth0"
        );
    }

    #[test]
    fn words_are_quoted_only_when_needed() {
        assert_eq!(
            join(&["python3".into(), "-c".into(), "print('hi there')".into()]),
            r#"python3 -c 'print('\''hi there'\'')'"#
        );
        assert_eq!(quote(""), "''");
        let route = Route {
            dest: None,
            via: Some("172.18.0.1".parse().unwrap()),
            dev: Some("eth0".into()),
        };
        assert_eq!(route_args(&route), "default via 172.18.0.1 dev eth0");
    }
}
