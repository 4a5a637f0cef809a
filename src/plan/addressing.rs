//! Addresses and routes, and the subnet arithmetic scripts do.

use std::net::IpAddr;

use ipnet::IpNet;
use plumb_journal::Op;
use plumb_kernel::{NsRef, Route};

use super::Plan;

/// `ip addr add`. New namespaces create interfaces with IPv6 off (Docker's
/// default); an IPv6 address turns it on for its link first.
pub fn addr(ns: &NsRef, dev: &str, addr: IpNet, shared: bool) -> Vec<Op> {
    let mut ops = Vec::new();
    if let IpNet::V6(_) = addr {
        ops.push(Op::Sysctl {
            ns: ns.clone(),
            key: format!("net/ipv6/conf/{dev}/disable_ipv6"),
            value: "0".into(),
            old: None,
        });
    }
    ops.push(Op::AddrAdd {
        ns: ns.clone(),
        dev: dev.into(),
        addr,
        shared,
    });
    ops
}

/// An address that shares its subnet with another link's in the same
/// namespace: two networks that overlap (Docker refuses them: "Pool
/// overlaps with other one"). `others` are (link, address) pairs; the
/// link's own addresses, loopback and single-host prefixes never clash.
pub fn overlap<'a>(
    dev: &str,
    addr: &IpNet,
    others: &'a [(String, IpNet)],
) -> Option<&'a (String, IpNet)> {
    let net = addr.trunc();
    let single = |n: &IpNet| n.prefix_len() == n.max_prefix_len();
    if single(addr) || addr.addr().is_loopback() {
        return None;
    }
    others.iter().find(|(link, other)| {
        let theirs = other.trunc();
        link != dev
            && !single(other)
            && !other.addr().is_loopback()
            && !matches!(other, IpNet::V6(v) if v.addr().segments()[0] & 0xffc0 == 0xfe80)
            && (theirs.contains(&net.network()) || net.contains(&theirs.network()))
    })
}

/// `ip route add DEST [via GW] [dev DEV]`: a gateway, a device, or both,
/// of the destination's IP version.
pub fn route(
    ns: &NsRef,
    dest: Option<IpNet>,
    via: Option<IpAddr>,
    dev: Option<String>,
) -> Plan<Op> {
    if via.is_none() && dev.is_none() {
        return Err("give 'via' (a gateway), 'dev' (a link), or both".into());
    }
    if let (Some(d), Some(gw)) = (dest, via) {
        if d.addr().is_ipv4() != gw.is_ipv4() {
            return Err(format!("{d} and gateway {gw} are of different IP versions"));
        }
    }
    Ok(Op::RouteAdd {
        ns: ns.clone(),
        route: Route { dest, via, dev },
    })
}

pub fn parse_subnet(text: &str) -> Plan<IpNet> {
    text.parse::<IpNet>()
        .map(|n| n.trunc())
        .map_err(|_| format!("'{text}' is not a subnet like 172.18.0.0/16"))
}

/// How many addresses a subnet holds, network and broadcast included (at most 2^62).
pub fn size(net: &IpNet) -> i64 {
    1i64 << u32::from(net.max_prefix_len() - net.prefix_len()).min(62)
}

/// Host number `n` of a subnet with its prefix: cidr_host("172.18.0.0/16",
/// 10) is 172.18.0.10/16. The network address (0) and IPv4's broadcast
/// address are no hosts: refused, as Docker's IPAM refuses them.
pub fn host(net: &IpNet, n: i64) -> Plan<String> {
    let bits = u32::from(net.max_prefix_len() - net.prefix_len());
    let fits = n >= 0 && (bits >= 63 || (n as u128) < (1u128 << bits));
    if !fits {
        return Err(format!("{net} has no address number {n}"));
    }
    let point_to_point = matches!(net, IpNet::V4(_)) && bits <= 1;
    if n == 0 && !point_to_point && bits > 0 {
        return Err(format!(
            "address 0 of {net} is its network address, not a host (hosts start at 1)"
        ));
    }
    if matches!(net, IpNet::V4(_)) && !point_to_point && (n as u128) == (1u128 << bits) - 1 {
        return Err(format!(
            "address {n} of {net} is its broadcast address, not a host (the last host is {})",
            n - 1
        ));
    }
    let ip = match net.network() {
        IpAddr::V4(a) => IpAddr::from((u32::from(a) + n as u32).to_be_bytes()),
        IpAddr::V6(a) => IpAddr::from((u128::from(a) + n as u128).to_be_bytes()),
    };
    Ok(format!("{ip}/{}", net.prefix_len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        parse_subnet(s).unwrap()
    }

    #[test]
    fn hosts_of_a_subnet_exclude_network_and_broadcast() {
        assert_eq!(host(&net("172.18.0.0/16"), 10).unwrap(), "172.18.0.10/16");
        assert_eq!(host(&net("10.0.0.0/28"), 14).unwrap(), "10.0.0.14/28");
        assert!(host(&net("10.0.0.0/28"), 15)
            .unwrap_err()
            .contains("broadcast"));
        assert!(host(&net("10.0.0.0/28"), 0)
            .unwrap_err()
            .contains("network address"));
        assert!(host(&net("10.0.0.0/28"), 16)
            .unwrap_err()
            .contains("no address number"));
        // Point-to-point and single-host prefixes have no network or broadcast address.
        assert_eq!(host(&net("10.0.0.0/31"), 0).unwrap(), "10.0.0.0/31");
        assert_eq!(host(&net("10.0.0.1/32"), 0).unwrap(), "10.0.0.1/32");
        // IPv6 has no broadcast address.
        assert_eq!(host(&net("fd00::/126"), 3).unwrap(), "fd00::3/126");
        assert_eq!(size(&net("10.0.0.0/24")), 256);
    }

    #[test]
    fn overlapping_subnets_on_two_links_clash() {
        let others = vec![
            ("br-a".to_string(), "172.21.0.1/16".parse().unwrap()),
            ("lo".to_string(), "127.0.0.1/8".parse().unwrap()),
            ("br-a".to_string(), "fe80::1/64".parse().unwrap()),
        ];
        let clash = overlap("br-b", &"172.21.0.1/16".parse().unwrap(), &others);
        assert_eq!(clash.map(|(l, _)| l.as_str()), Some("br-a"));
        assert!(overlap("br-b", &"172.21.128.1/17".parse().unwrap(), &others).is_some());
        assert!(overlap("br-b", &"172.0.0.1/8".parse().unwrap(), &others).is_some());
        assert!(
            overlap("br-a", &"172.21.0.2/16".parse().unwrap(), &others).is_none(),
            "same link"
        );
        assert!(overlap("br-b", &"172.22.0.1/16".parse().unwrap(), &others).is_none());
        assert!(
            overlap("br-b", &"fe80::2/64".parse().unwrap(), &others).is_none(),
            "link-local"
        );
        assert!(
            overlap("br-b", &"172.21.0.9/32".parse().unwrap(), &others).is_none(),
            "a host address"
        );
    }

    #[test]
    fn an_ipv6_address_turns_ipv6_on_for_its_link_first() {
        let ns = NsRef::Named("a".into());
        let ops = addr(&ns, "eth0", "fd00::2/64".parse().unwrap(), false);
        assert_eq!(
            ops.iter().map(|o| o.describe()).collect::<Vec<_>>(),
            vec![
                "ip netns exec a sysctl -qw net/ipv6/conf/eth0/disable_ipv6=0",
                "ip -n a addr add fd00::2/64 nodad dev eth0",
            ]
        );
        assert_eq!(
            addr(&ns, "eth0", "10.0.0.2/24".parse().unwrap(), false).len(),
            1
        );
    }

    #[test]
    fn routes_need_a_gateway_or_a_device_of_the_right_family() {
        let ns = NsRef::Host;
        assert!(route(&ns, None, None, None)
            .unwrap_err()
            .contains("give 'via'"));
        let mixed = route(
            &ns,
            Some("10.0.0.0/8".parse().unwrap()),
            Some("fd00::1".parse().unwrap()),
            None,
        );
        assert!(mixed.unwrap_err().contains("different IP versions"));
        let ok = route(&ns, None, Some("10.0.0.1".parse().unwrap()), None).unwrap();
        assert_eq!(ok.describe(), "ip route add default via 10.0.0.1");
    }
}
