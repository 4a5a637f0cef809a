//! Firewall and NAT: what masquerade, publish, forward_accept, isolate and a
//! raw rule mean, as rules in plumb's chains. The session gathers
//! consecutive rules into one journaled batch and sets each batch's comment.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;
use plumb_journal::Op;
use plumb_kernel::firewall::{Batch, Rule, DNAT, FORWARD, POSTROUTING, TABLES};
use plumb_kernel::NsRef;

use super::Plan;

pub const PROTOCOLS: &[&str] = &["tcp", "udp", "sctp"];

fn batch(ns: &NsRef, v6: bool, rules: Vec<Rule>, shared: bool) -> Op {
    Op::Firewall {
        batch: Batch {
            ns: ns.clone(),
            v6,
            comment: String::new(), // set by the session when journaled
            rules,
        },
        shared,
    }
}

/// Forwarding on for the family: a host-wide setting every run that needs
/// it shares (the last one to leave puts back what was there before).
pub fn forwarding(ns: &NsRef, v6: bool) -> Op {
    let key = if v6 {
        "net.ipv6.conf.all.forwarding"
    } else {
        "net.ipv4.ip_forward"
    };
    Op::Sysctl {
        ns: ns.clone(),
        key: key.into(),
        value: "1".into(),
        old: None,
    }
}

/// Which traffic of a subnet is masqueraded, by outgoing link.
pub enum Out {
    Any,
    Via(String),
    NotVia(String),
}

/// `iptables -t nat -A POSTROUTING -s SUBNET [! -o LINK] -j MASQUERADE`,
/// with forwarding on. A shared one is one rule for every run that asks.
pub fn masquerade(ns: &NsRef, net: IpNet, out: Out, shared: bool) -> Vec<Op> {
    let mut matches = vec!["-s".to_string(), net.to_string()];
    match out {
        Out::Any => {}
        Out::Via(link) => matches.extend(["-o".into(), link]),
        Out::NotVia(link) => matches.extend(["!".into(), "-o".into(), link]),
    }
    let v6 = matches!(net, IpNet::V6(_));
    let words: Vec<&str> = matches.iter().map(String::as_str).collect();
    vec![
        forwarding(ns, v6),
        batch(
            ns,
            v6,
            vec![Rule::new("nat", POSTROUTING, &words, &["-j", "MASQUERADE"])],
            shared,
        ),
    ]
}

/// A published port: host `port` (on `host_ip`, or every local address)
/// DNATed to `to`.
pub struct Publish {
    pub port: u16,
    pub to: SocketAddr,
    pub proto: String,
    pub host_ip: Option<IpAddr>,
}

/// `to` as "IP:PORT", "[IPv6]:PORT" or a bare IP (same port as published).
pub fn parse_target(to: &str, port: u16) -> Plan<SocketAddr> {
    let target = to
        .parse::<SocketAddr>()
        .or_else(|_| to.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, port)))
        .map_err(|_| format!("'{to}' is not IP:PORT (like 172.18.0.10:5000)"))?;
    if target.port() == 0 {
        return Err("the target port must be between 1 and 65535".into());
    }
    Ok(target)
}

/// DNAT from outside (PREROUTING) and from the host itself (OUTPUT, its
/// loopback addresses included), the hairpin MASQUERADE for containers
/// reaching it through the host, and a FORWARD accept so it works where the
/// FORWARD policy is DROP. `via` is the link the target is reached through
/// (the bridge whose subnet holds it): loopback traffic DNATed to the
/// target must leave by it, so it gets `route_localnet` and the loopback
/// source is masqueraded to it, as Docker does without its userland proxy.
pub fn publish(ns: &NsRef, p: &Publish, via: Option<&str>) -> Plan<Vec<Op>> {
    if !PROTOCOLS.contains(&p.proto.as_str()) {
        return Err(format!(
            "unknown protocol '{}'; use one of {}",
            p.proto,
            PROTOCOLS.join(", ")
        ));
    }
    let v6 = p.to.is_ipv6();
    if p.host_ip.is_some_and(|h| h.is_ipv6() != v6) {
        return Err("'host_ip' and 'to' are of different IP versions".into());
    }
    let loopback = p.host_ip.is_some_and(|h| h.is_loopback());
    if loopback && (v6 || via.is_none()) {
        return Err(format!(
            "host_ip {} can only reach an IPv4 target on a link with an address in its subnet (a bridge): traffic from the loopback is routed there with route_localnet",
            p.host_ip.expect("loopback")
        ));
    }
    let proto = p.proto.as_str();
    let (port, to_ip, to_port) = (
        p.port.to_string(),
        p.to.ip().to_string(),
        p.to.port().to_string(),
    );
    let dest = p.to.to_string();
    let host_match = p
        .host_ip
        .map(|h| vec!["-d".to_string(), h.to_string()])
        .unwrap_or_default();
    let mut dnat: Vec<&str> = host_match.iter().map(String::as_str).collect();
    dnat.extend(["-p", proto, "-m", proto, "--dport", &port]);
    let to_service = ["-p", proto, "-m", proto, "--dport", to_port.as_str()];
    let mut hairpin = vec!["-s", to_ip.as_str(), "-d", to_ip.as_str()];
    hairpin.extend(to_service);
    let mut forward = vec!["-d", to_ip.as_str()];
    forward.extend(to_service);
    let mut ops = vec![forwarding(ns, v6)];
    if let (Some(link), false) = (via, v6) {
        ops.extend(localhost(ns, link));
    }
    ops.push(batch(
        ns,
        v6,
        vec![
            Rule::new(
                "nat",
                DNAT,
                &dnat,
                &["-j", "DNAT", "--to-destination", &dest],
            ),
            // A container reaching its own published port through the host.
            Rule::new("nat", POSTROUTING, &hairpin, &["-j", "MASQUERADE"]),
            Rule::new("filter", FORWARD, &forward, &["-j", "ACCEPT"]),
        ],
        false,
    ));
    Ok(ops)
}

/// What loopback traffic needs to reach targets behind `link`: the link
/// routes 127.0.0.0/8 sources, which leave it masqueraded to its address.
/// Both are shared by every run that publishes behind the link.
fn localhost(ns: &NsRef, link: &str) -> Vec<Op> {
    vec![
        Op::Sysctl {
            ns: ns.clone(),
            key: format!("net/ipv4/conf/{link}/route_localnet"),
            value: "1".into(),
            old: None,
        },
        batch(
            ns,
            false,
            vec![Rule::new(
                "nat",
                POSTROUTING,
                &["-s", "127.0.0.0/8", "-o", link],
                &["-j", "MASQUERADE"],
            )],
            true,
        ),
    ]
}

/// Accept forwarded traffic in and out of a bridge, for both families,
/// even under a FORWARD policy of DROP.
/// A shared link's are shared like the link: made by its first user,
/// removed with its last.
pub fn forward_accept_link(ns: &NsRef, link: &str, shared: bool) -> Vec<Op> {
    let rules = vec![
        Rule::new("filter", FORWARD, &["-i", link], &["-j", "ACCEPT"]),
        Rule::new("filter", FORWARD, &["-o", link], &["-j", "ACCEPT"]),
    ];
    vec![
        batch(ns, false, rules.clone(), shared),
        batch(ns, true, rules, shared),
    ]
}

/// Accept forwarded traffic from and to a subnet.
pub fn forward_accept_subnet(ns: &NsRef, net: IpNet) -> Op {
    let net_text = net.to_string();
    batch(
        ns,
        matches!(net, IpNet::V6(_)),
        vec![
            Rule::new("filter", FORWARD, &["-s", &net_text], &["-j", "ACCEPT"]),
            Rule::new("filter", FORWARD, &["-d", &net_text], &["-j", "ACCEPT"]),
        ],
        false,
    )
}

/// Drop traffic forwarded between two bridges, both ways and both
/// families, ahead of any accept (Docker's network isolation).
pub fn isolate(ns: &NsRef, a: &str, b: &str) -> Vec<Op> {
    let rules = vec![
        Rule::new("filter", FORWARD, &["-i", a, "-o", b], &["-j", "DROP"]).at_top(),
        Rule::new("filter", FORWARD, &["-i", b, "-o", a], &["-j", "DROP"]).at_top(),
    ];
    vec![
        batch(ns, false, rules.clone(), false),
        batch(ns, true, rules, false),
    ]
}

/// Any rule, split at its target (`-j`/`-g`), which must follow plumb's comment.
pub fn raw_rule(ns: &NsRef, v6: bool, table: &str, chain: &str, words: &[String]) -> Plan<Op> {
    if !TABLES.contains(&table) {
        return Err(format!(
            "unknown table '{table}'; use one of {}",
            TABLES.join(", ")
        ));
    }
    if chain.is_empty() || chain.contains(char::is_whitespace) {
        return Err(format!("'{chain}' is not a chain name"));
    }
    let Some(split) = words.iter().position(|w| w == "-j" || w == "-g") else {
        return Err(format!(
            "'{}' has no target (-j ACCEPT, -j DNAT ...)",
            words.join(" ")
        ));
    };
    let (matches, target): (Vec<&str>, Vec<&str>) = (
        words[..split].iter().map(String::as_str).collect(),
        words[split..].iter().map(String::as_str).collect(),
    );
    Ok(batch(
        ns,
        v6,
        vec![Rule::new(table, chain, &matches, &target)],
        false,
    ))
}

/// Split a rule's text into words as a shell would: quotes group, a
/// backslash escapes (`--log-prefix "DROP: "` is two words).
pub fn shell_words(text: &str) -> Plan<Vec<String>> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if let Some(w) = word.take() {
                    words.push(w);
                }
            }
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err(format!("unclosed ' in `{text}`")),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => w.push(c),
                            Some(c) => {
                                w.push('\\');
                                w.push(c);
                            }
                            None => return Err(format!("unclosed \" in `{text}`")),
                        },
                        Some(c) => w.push(c),
                        None => return Err(format!("unclosed \" in `{text}`")),
                    }
                }
            }
            '\\' => match chars.next() {
                Some(c) => word.get_or_insert_with(String::new).push(c),
                None => return Err(format!("a lone \\ ends `{text}`")),
            },
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules_of(op: &Op) -> Vec<String> {
        match op {
            Op::Firewall { batch, .. } => batch.rules.iter().map(|r| r.words()).collect(),
            other => panic!("not rules: {other:?}"),
        }
    }

    #[test]
    fn publish_means_dnat_hairpin_and_forward_with_forwarding_on() {
        let p = Publish {
            port: 5000,
            to: "172.18.0.10:80".parse().unwrap(),
            proto: "tcp".into(),
            host_ip: Some("10.0.2.15".parse().unwrap()),
        };
        let ops = publish(&NsRef::Host, &p, None).unwrap();
        assert_eq!(ops[0].describe(), "sysctl -qw net.ipv4.ip_forward=1");
        assert_eq!(
            rules_of(&ops[1]),
            vec![
                "nat PLUMB-DNAT -d 10.0.2.15 -p tcp -m tcp --dport 5000 -j DNAT --to-destination 172.18.0.10:80",
                "nat PLUMB-POSTROUTING -s 172.18.0.10 -d 172.18.0.10 -p tcp -m tcp --dport 80 -j MASQUERADE",
                "filter PLUMB-FORWARD -d 172.18.0.10 -p tcp -m tcp --dport 80 -j ACCEPT",
            ]
        );
        let udp6 = Publish {
            port: 53,
            to: "[fd00::2]:53".parse().unwrap(),
            proto: "udp".into(),
            host_ip: None,
        };
        let ops = publish(&NsRef::Host, &udp6, Some("br0")).unwrap();
        assert_eq!(
            ops[0].describe(),
            "sysctl -qw net.ipv6.conf.all.forwarding=1"
        );
        assert!(matches!(&ops[1], Op::Firewall { batch, .. } if batch.v6));
        let bad = Publish {
            proto: "icmp".into(),
            ..udp6
        };
        assert!(publish(&NsRef::Host, &bad, None)
            .unwrap_err()
            .contains("unknown protocol"));
    }

    #[test]
    fn localhost_reaches_a_target_behind_a_bridge() {
        let p = Publish {
            port: 5000,
            to: "172.18.0.10:5000".parse().unwrap(),
            proto: "tcp".into(),
            host_ip: Some("127.0.0.1".parse().unwrap()),
        };
        let ops = publish(&NsRef::Host, &p, Some("br0")).unwrap();
        assert_eq!(
            ops[1].describe(),
            "sysctl -qw net/ipv4/conf/br0/route_localnet=1"
        );
        assert_eq!(
            rules_of(&ops[2]),
            vec!["nat PLUMB-POSTROUTING -s 127.0.0.0/8 -o br0 -j MASQUERADE"]
        );
        assert!(ops[1].shared_key().is_some() && ops[2].shared_key().is_some());
        let refused = publish(&NsRef::Host, &p, None).unwrap_err();
        assert!(refused.contains("route_localnet"), "{refused}");
    }

    #[test]
    fn masquerade_isolate_and_forward_accept_rules() {
        let ops = masquerade(
            &NsRef::Host,
            "172.18.0.0/16".parse().unwrap(),
            Out::NotVia("br0".into()),
            false,
        );
        assert_eq!(
            rules_of(&ops[1]),
            vec!["nat PLUMB-POSTROUTING -s 172.18.0.0/16 ! -o br0 -j MASQUERADE"]
        );
        let shared = masquerade(
            &NsRef::Host,
            "10.66.0.0/24".parse().unwrap(),
            Out::Any,
            true,
        );
        assert!(shared[1].shared_key().is_some());
        let iso = isolate(&NsRef::Host, "br-a", "br-b");
        assert_eq!(iso.len(), 2, "IPv4 and IPv6");
        let Op::Firewall { batch, .. } = &iso[0] else {
            panic!()
        };
        assert!(
            batch.rules.iter().all(|r| r.first),
            "drops go above accepts"
        );
        assert_eq!(
            rules_of(&iso[0])[1],
            "filter PLUMB-FORWARD -i br-b -o br-a -j DROP"
        );
        assert_eq!(forward_accept_link(&NsRef::Host, "br0", false).len(), 2);
        let shared = forward_accept_link(&NsRef::Host, "cni0", true);
        assert!(shared.iter().all(|op| op.shared_key().is_some()));
        assert_eq!(
            rules_of(&forward_accept_subnet(
                &NsRef::Host,
                "10.1.0.0/16".parse().unwrap()
            )),
            vec![
                "filter PLUMB-FORWARD -s 10.1.0.0/16 -j ACCEPT",
                "filter PLUMB-FORWARD -d 10.1.0.0/16 -j ACCEPT"
            ]
        );
    }

    #[test]
    fn raw_rules_split_like_a_shell_and_at_their_target() {
        let words =
            shell_words(r#"-j LOG --log-prefix "DROP: " -m comment --comment 'hello world'"#)
                .unwrap();
        assert_eq!(
            words,
            [
                "-j",
                "LOG",
                "--log-prefix",
                "DROP: ",
                "-m",
                "comment",
                "--comment",
                "hello world"
            ]
        );
        assert_eq!(shell_words(r#"a\ b "c\"d""#).unwrap(), ["a b", "c\"d"]);
        assert!(shell_words("'open").is_err());
        let op = raw_rule(
            &NsRef::Host,
            false,
            "filter",
            "INPUT",
            &shell_words("-i lo -j ACCEPT").unwrap(),
        )
        .unwrap();
        assert_eq!(rules_of(&op), vec!["filter INPUT -i lo -j ACCEPT"]);
        assert!(raw_rule(
            &NsRef::Host,
            false,
            "filter",
            "INPUT",
            &["-i".into(), "lo".into()]
        )
        .unwrap_err()
        .contains("no target"));
        assert!(raw_rule(&NsRef::Host, false, "bogus", "INPUT", &[])
            .unwrap_err()
            .contains("unknown table"));
    }
}
