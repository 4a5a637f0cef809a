//! Links: the ops of veth, bridge, vxlan, macvlan and moves.

use plumb_journal::Op;
use plumb_kernel::{LinkKind, LinkSettings, MacvlanMode, NsRef, VxlanSpec};

use super::Plan;

pub fn link(ns: &NsRef, name: &str, kind: LinkKind, settings: LinkSettings, shared: bool) -> Op {
    Op::LinkAdd {
        ns: ns.clone(),
        name: name.into(),
        kind,
        settings,
        shared,
    }
}

/// A bridge with a MAC of its own: one without takes its lowest port's and
/// changes it when that port goes, so every neighbour's ARP entry for the
/// gateway goes stale (Docker sets one too). The default is derived from
/// the namespace and the name (as systemd's MACAddressPolicy=persistent
/// does), so a dry run prints what a run makes.
pub fn bridge(ns: &NsRef, name: &str, mut settings: LinkSettings, shared: bool) -> Op {
    if settings.mac.is_none() {
        settings.mac = Some(stable_mac(&format!("{}/{name}", ns.short_name())));
    }
    link(ns, name, LinkKind::Bridge, settings, shared)
}

/// A locally administered unicast MAC from `seed` (FNV-1a: stable across
/// builds, unlike std's hasher).
pub fn stable_mac(seed: &str) -> String {
    let hash = seed.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    let b = hash.to_be_bytes();
    format!(
        "02:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        b[3], b[4], b[5], b[6], b[7]
    )
}

/// A veth pair whose peer is created inside `peer_ns` in the same request;
/// with `hairpin`, its first end (a bridge port) sends frames back where
/// they came in, so the container behind it reaches its own published
/// ports through the host (as Docker sets it without its userland proxy).
pub fn veth(
    ns: &NsRef,
    name: &str,
    peer: &str,
    peer_ns: &NsRef,
    settings: LinkSettings,
    hairpin: bool,
) -> Plan<Vec<Op>> {
    if hairpin && settings.master.is_none() {
        return Err("'hairpin' is a bridge port's setting: give 'master' too".into());
    }
    let kind = LinkKind::Veth {
        peer: peer.into(),
        peer_netns: (peer_ns != ns).then(|| peer_ns.clone()),
    };
    let mut ops = vec![link(ns, name, kind, settings, false)];
    if hairpin {
        ops.push(Op::LinkSet {
            ns: ns.clone(),
            name: name.into(),
            change: plumb_kernel::LinkChange::Hairpin(true),
            old: None,
        });
    }
    Ok(ops)
}

/// A VXLAN device: unicast to `remote` or multicast to `group`, not both.
pub fn vxlan(
    ns: &NsRef,
    name: &str,
    spec: VxlanSpec,
    dev: Option<String>,
    settings: LinkSettings,
) -> Plan<Op> {
    if spec.remote.is_some() && spec.group.is_some() {
        return Err("give either 'remote' (unicast) or 'group' (multicast), not both".into());
    }
    if let Some(group) = spec.group {
        if !group.is_multicast() {
            return Err(format!("group {group} is not a multicast address"));
        }
        if dev.is_none() {
            return Err("a multicast group needs 'dev', the underlay link to join it on".into());
        }
    }
    Ok(link(
        ns,
        name,
        LinkKind::Vxlan { spec, dev },
        settings,
        false,
    ))
}

/// Where a macvlan goes: into `netns`, there named `name` (a container's
/// eth0, while its name beside the parent must be unique).
pub struct Target<'a> {
    pub netns: &'a NsRef,
    pub name: &'a str,
}

/// A macvlan child of `parent`: created down beside its parent, moved into
/// its target (if any), and only then brought up, where it will live (a
/// link moved between namespaces goes down anyway).
pub fn macvlan(
    ns: &NsRef,
    name: &str,
    parent: &str,
    mode: MacvlanMode,
    target: Option<Target>,
    up: bool,
) -> Vec<Op> {
    let mut ops = vec![link(
        ns,
        name,
        LinkKind::Macvlan {
            parent: parent.into(),
            mode,
        },
        LinkSettings::default(),
        false,
    )];
    let (home, home_name) = match target {
        Some(t) if t.netns != ns || t.name != name => {
            ops.push(move_op(ns, name, t.netns, t.name));
            (t.netns.clone(), t.name)
        }
        _ => (ns.clone(), name),
    };
    if up {
        ops.push(Op::LinkSet {
            ns: home,
            name: home_name.into(),
            change: plumb_kernel::LinkChange::Up,
            old: None,
        });
    }
    ops
}

fn move_op(ns: &NsRef, name: &str, to: &NsRef, new_name: &str) -> Op {
    Op::LinkMove {
        ns: ns.clone(),
        name: name.into(),
        to: to.clone(),
        new_name: new_name.into(),
    }
}

/// Move a link into another namespace. Only a link this run made: moving
/// another's strips its addresses and the routes through it, which no undo
/// could restore exactly (an uplink moved away takes the host offline).
pub fn move_link(ns: &NsRef, name: &str, to: &NsRef, new_name: &str, made_here: bool) -> Plan<Op> {
    if !made_here {
        return Err(format!(
            "'{name}' was not made by this run; moving it would strip its addresses and routes, which rollback could not restore exactly. Create the link with plumb (veth(), macvlan(... #{{ netns }})), or move it yourself with `ip link set {name} netns ...`"
        ));
    }
    Ok(move_op(ns, name, to, new_name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bridge_has_a_stable_mac_of_its_own_unless_given_one() {
        let mac_of = |op: Op| match op {
            Op::LinkAdd { settings, .. } => settings.mac.unwrap(),
            _ => unreachable!(),
        };
        let br0 = mac_of(bridge(&NsRef::Host, "br0", LinkSettings::default(), false));
        let again = mac_of(bridge(&NsRef::Host, "br0", LinkSettings::default(), false));
        let br1 = mac_of(bridge(&NsRef::Host, "br1", LinkSettings::default(), false));
        let elsewhere = mac_of(bridge(
            &NsRef::Named("n1".into()),
            "br0",
            LinkSettings::default(),
            false,
        ));
        assert_eq!(br0, again);
        assert_ne!(br0, br1);
        assert_ne!(br0, elsewhere);
        let first = u8::from_str_radix(&br0[..2], 16).unwrap();
        assert_eq!(first & 0b11, 0b10, "{br0}: locally administered unicast");
        assert!(plumb_kernel::parse_mac(&br0).is_ok());
        let given = LinkSettings {
            mac: Some("02:42:ac:11:00:01".into()),
            ..Default::default()
        };
        assert_eq!(
            mac_of(bridge(&NsRef::Host, "br0", given, false)),
            "02:42:ac:11:00:01"
        );
    }

    fn spec(remote: Option<&str>, group: Option<&str>) -> VxlanSpec {
        VxlanSpec {
            id: 42,
            port: 4789,
            local: None,
            remote: remote.map(|r| r.parse().unwrap()),
            group: group.map(|g| g.parse().unwrap()),
        }
    }

    #[test]
    fn a_macvlan_is_made_then_moved_then_brought_up() {
        let ns = NsRef::Named("c1".into());
        let to = Target {
            netns: &ns,
            name: "m1",
        };
        let ops = macvlan(
            &NsRef::Host,
            "m1",
            "eth0",
            MacvlanMode::Bridge,
            Some(to),
            true,
        );
        let shells: Vec<String> = ops.iter().map(|o| o.describe()).collect();
        assert_eq!(
            shells,
            vec![
                "ip link add m1 link eth0 type macvlan mode bridge",
                "ip link set m1 netns c1 name m1",
                "ip -n c1 link set m1 up",
            ]
        );
        // Left beside its parent and down: one op.
        assert_eq!(
            macvlan(&NsRef::Host, "m1", "eth0", MacvlanMode::Vepa, None, false).len(),
            1
        );
    }

    #[test]
    fn a_macvlan_can_take_another_name_inside() {
        let ns = NsRef::Named("c1".into());
        let to = Target {
            netns: &ns,
            name: "eth0",
        };
        let ops = macvlan(
            &NsRef::Host,
            "plmb1",
            "br0",
            MacvlanMode::Bridge,
            Some(to),
            true,
        );
        assert_eq!(ops[1].describe(), "ip link set plmb1 netns c1 name eth0");
        assert_eq!(ops[2].describe(), "ip -n c1 link set eth0 up");
    }

    #[test]
    fn vxlan_takes_remote_or_group_and_a_group_needs_a_device() {
        let host = NsRef::Host;
        let s = LinkSettings::default();
        assert!(vxlan(&host, "vx", spec(Some("10.0.0.2"), None), None, s.clone()).is_ok());
        let both = vxlan(
            &host,
            "vx",
            spec(Some("10.0.0.2"), Some("239.1.1.1")),
            None,
            s.clone(),
        );
        assert!(both.unwrap_err().contains("not both"));
        let no_dev = vxlan(&host, "vx", spec(None, Some("239.1.1.1")), None, s.clone());
        assert!(no_dev.unwrap_err().contains("needs 'dev'"));
        let unicast_group = vxlan(
            &host,
            "vx",
            spec(None, Some("10.0.0.9")),
            Some("eth0".into()),
            s,
        );
        assert!(unicast_group.unwrap_err().contains("not a multicast"));
    }

    #[test]
    fn only_links_made_here_move() {
        let to = NsRef::Named("mv".into());
        let refused = move_link(&NsRef::Host, "up0", &to, "up0", false).unwrap_err();
        assert!(refused.contains("not made by this run"), "{refused}");
        assert!(move_link(&NsRef::Host, "v0", &to, "eth0", true).is_ok());
    }

    #[test]
    fn a_veth_peer_beside_it_has_no_namespace_of_its_own() {
        let ops = veth(
            &NsRef::Host,
            "a",
            "b",
            &NsRef::Host,
            LinkSettings::default(),
            false,
        );
        assert_eq!(
            ops.unwrap()[0].describe(),
            "ip link add a type veth peer name b"
        );
    }

    #[test]
    fn hairpin_is_set_on_a_bridge_port_once_it_is_one() {
        let on_bridge = LinkSettings {
            master: Some("br0".into()),
            ..Default::default()
        };
        let ns0 = NsRef::Named("n0".into());
        let ops = veth(&NsRef::Host, "v0", "eth0", &ns0, on_bridge, true).unwrap();
        assert_eq!(
            ops[1].describe(),
            "ip link set v0 type bridge_slave hairpin on"
        );
        let alone = veth(
            &NsRef::Host,
            "v0",
            "eth0",
            &ns0,
            LinkSettings::default(),
            true,
        );
        assert!(alone.unwrap_err().contains("give 'master'"));
    }
}
