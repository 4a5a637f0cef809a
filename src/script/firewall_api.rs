//! Firewall and NAT functions: masquerade, port publishing, forwarding,
//! isolation and raw rules. Each builds rules for plumb's own chains; the
//! session gathers consecutive rules into one journaled iptables-restore batch.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;
use rhai::{Engine, Map};

use super::api::Api;
use super::handles::{fail, script_error, Link, Opts, OrScript, RhaiResult};
use crate::journal::{mark_of, Op};
use crate::kernel::firewall::{Batch, Rule};
use crate::kernel::{sysctl, NsRef};

const PROTOCOLS: &[&str] = &["tcp", "udp", "sctp"];
const TABLES: &[&str] = &["filter", "nat", "mangle", "raw"];

impl Api {
    /// The comment that marks this run's rules (`plumb:RUN`).
    fn rule_comment(&self) -> String {
        match self.session.borrow().run_id() {
            Some(id) => mark_of(id),
            None => "plumb".into(),
        }
    }

    fn add_rules(&self, ns: NsRef, v6: bool, rules: Vec<Rule>) -> RhaiResult<()> {
        let comment = self.rule_comment();
        self.apply(Op::Firewall(Batch {
            ns,
            v6,
            comment,
            rules,
        }))
    }

    /// Turn on forwarding for the family (journaled with its old value), unless it is on.
    fn ensure_forwarding(&self, ns: &NsRef, v6: bool) -> RhaiResult<()> {
        let key = if v6 {
            "net.ipv6.conf.all.forwarding"
        } else {
            "net.ipv4.ip_forward"
        };
        let already = if self.dry_run() {
            !self.first_mention(&format!("{ns:?} {key}"))
        } else {
            sysctl::get(ns, key).or_script()? == "1"
        };
        if already {
            return Ok(());
        }
        self.apply(Op::Sysctl {
            ns: ns.clone(),
            key: key.into(),
            value: "1".into(),
            old: None,
        })
    }
}

fn parse_net(func: &str, text: &str) -> RhaiResult<IpNet> {
    text.parse::<IpNet>()
        .map(|n| n.trunc())
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| {
            script_error(format!(
                "{func}(): '{text}' is not a subnet like 172.18.0.0/16"
            ))
        })
}

fn masquerade(api: &Api, subnet: &str, opts: Opts) -> RhaiResult<()> {
    let net = parse_net("masquerade", subnet)?;
    let ns = opts.netns("netns")?.unwrap_or(NsRef::Host);
    let out = opts.link_name("out", &ns)?;
    let not_out = opts.link_name("not_out", &ns)?;
    let mut matches = vec!["-s".to_string(), net.to_string()];
    match (out, not_out) {
        (Some(_), Some(_)) => return fail("masquerade(): give 'out' or 'not_out', not both"),
        (Some(o), None) => matches.extend(["-o".into(), o]),
        (None, Some(o)) => matches.extend(["!".into(), "-o".into(), o]),
        (None, None) => {}
    }
    let v6 = matches!(net, IpNet::V6(_));
    api.ensure_forwarding(&ns, v6)?;
    let words: Vec<&str> = matches.iter().map(String::as_str).collect();
    api.add_rules(
        ns,
        v6,
        vec![Rule::new(
            "nat",
            "PLUMB-POSTROUTING",
            &words,
            &["-j", "MASQUERADE"],
        )],
    )
}

/// `to` as "IP:PORT", "[IPv6]:PORT" or a bare IP (same port as published).
fn parse_target(to: &str, port: u16) -> RhaiResult<SocketAddr> {
    to.parse::<SocketAddr>()
        .or_else(|_| to.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, port)))
        .map_err(|_| {
            script_error(format!(
                "publish(): option 'to': '{to}' is not IP:PORT (like 172.18.0.10:5000)"
            ))
        })
}

fn publish(api: &Api, opts: Opts) -> RhaiResult<()> {
    let port = opts
        .int_in("port", 1, 65535)?
        .ok_or_else(|| script_error("publish(): option 'port' is required"))? as u16;
    let to = parse_target(&opts.required_string("to")?, port)?;
    if to.port() == 0 {
        return fail("publish(): the target port must be between 1 and 65535");
    }
    let proto = opts.string("proto")?.unwrap_or_else(|| "tcp".into());
    if !PROTOCOLS.contains(&proto.as_str()) {
        return fail(format!(
            "publish(): unknown protocol '{proto}'; use one of {}",
            PROTOCOLS.join(", ")
        ));
    }
    let host_ip = opts
        .string("host_ip")?
        .map(|s| {
            s.parse::<IpAddr>().map_err(|_| {
                script_error(format!(
                    "publish(): option 'host_ip': '{s}' is not an IP address"
                ))
            })
        })
        .transpose()?;
    let v6 = to.is_ipv6();
    if host_ip.is_some_and(|h| h.is_ipv6() != v6) {
        return fail("publish(): 'host_ip' and 'to' are of different IP versions");
    }
    let ns = opts.netns("netns")?.unwrap_or(NsRef::Host);
    let (port, to_ip, to_port) = (port.to_string(), to.ip().to_string(), to.port().to_string());
    let dest = to.to_string();
    let host_match = host_ip
        .map(|h| vec!["-d".to_string(), h.to_string()])
        .unwrap_or_default();
    let mut dnat: Vec<&str> = host_match.iter().map(String::as_str).collect();
    dnat.extend(["-p", &proto, "-m", &proto, "--dport", &port]);
    let to_service = [
        "-p",
        proto.as_str(),
        "-m",
        proto.as_str(),
        "--dport",
        to_port.as_str(),
    ];
    let mut hairpin = vec!["-s", to_ip.as_str(), "-d", to_ip.as_str()];
    hairpin.extend(to_service);
    let mut forward = vec!["-d", to_ip.as_str()];
    forward.extend(to_service);
    api.ensure_forwarding(&ns, v6)?;
    api.add_rules(
        ns,
        v6,
        vec![
            Rule::new(
                "nat",
                "PLUMB-DNAT",
                &dnat,
                &["-j", "DNAT", "--to-destination", &dest],
            ),
            // A container reaching its own published port through the host (hairpin).
            Rule::new("nat", "PLUMB-POSTROUTING", &hairpin, &["-j", "MASQUERADE"]),
            // Accepted even where the FORWARD policy is DROP.
            Rule::new("filter", "PLUMB-FORWARD", &forward, &["-j", "ACCEPT"]),
        ],
    )
}

fn forward_accept_bridge(api: &Api, link: Link) -> RhaiResult<()> {
    let rules = vec![
        Rule::new(
            "filter",
            "PLUMB-FORWARD",
            &["-i", &link.name],
            &["-j", "ACCEPT"],
        ),
        Rule::new(
            "filter",
            "PLUMB-FORWARD",
            &["-o", &link.name],
            &["-j", "ACCEPT"],
        ),
    ];
    api.add_rules(link.ns.clone(), false, rules.clone())?;
    api.add_rules(link.ns, true, rules)
}

fn forward_accept_subnet(api: &Api, subnet: &str, ns: NsRef) -> RhaiResult<()> {
    let net = parse_net("forward_accept", subnet)?.to_string();
    let v6 = net.contains(':');
    api.add_rules(
        ns,
        v6,
        vec![
            Rule::new("filter", "PLUMB-FORWARD", &["-s", &net], &["-j", "ACCEPT"]),
            Rule::new("filter", "PLUMB-FORWARD", &["-d", &net], &["-j", "ACCEPT"]),
        ],
    )
}

fn isolate(api: &Api, a: Link, b: Link) -> RhaiResult<()> {
    if a.ns != b.ns {
        return fail(format!(
            "isolate(): {} and {} are in different namespaces",
            a.describe(),
            b.describe()
        ));
    }
    let rules = vec![
        Rule::new(
            "filter",
            "PLUMB-FORWARD",
            &["-i", &a.name, "-o", &b.name],
            &["-j", "DROP"],
        )
        .at_top(),
        Rule::new(
            "filter",
            "PLUMB-FORWARD",
            &["-i", &b.name, "-o", &a.name],
            &["-j", "DROP"],
        )
        .at_top(),
    ];
    api.add_rules(a.ns.clone(), false, rules.clone())?;
    api.add_rules(a.ns, true, rules)
}

fn raw_rule(api: &Api, table: &str, chain: &str, spec: &str, opts: Opts) -> RhaiResult<()> {
    if !TABLES.contains(&table) {
        return fail(format!(
            "rule(): unknown table '{table}'; use one of {}",
            TABLES.join(", ")
        ));
    }
    if chain.is_empty() || chain.contains(char::is_whitespace) {
        return fail(format!("rule(): '{chain}' is not a chain name"));
    }
    let words: Vec<&str> = spec.split_whitespace().collect();
    let Some(split) = words.iter().position(|w| *w == "-j" || *w == "-g") else {
        return fail(format!(
            "rule(): '{spec}' has no target (-j ACCEPT, -j DNAT ...)"
        ));
    };
    let ns = opts.netns("netns")?.unwrap_or(NsRef::Host);
    let v6 = opts.bool("v6")?.unwrap_or(false);
    api.add_rules(
        ns,
        v6,
        vec![Rule::new(table, chain, &words[..split], &words[split..])],
    )
}

pub fn register(engine: &mut Engine, api: &Api) {
    let a = api.clone();
    api!(engine, "masquerade", ["subnet: &str", "()"],
        "Source-NAT a subnet's traffic to the outside (`iptables -t nat -A POSTROUTING -s SUBNET -j MASQUERADE`); turns on forwarding.",
        move |subnet: &str| masquerade(&a, subnet, Opts::empty("masquerade")));
    let a = api.clone();
    api!(
        engine,
        "masquerade",
        ["subnet: &str", "options: Map", "()"],
        "Masquerade with #{ not_out: BRIDGE (traffic not leaving by it) or out: LINK, netns }.",
        move |subnet: &str, opts: Map| masquerade(
            &a,
            subnet,
            Opts::new("masquerade", opts, &["out", "not_out", "netns"])?
        )
    );
    let a = api.clone();
    api!(engine, "publish", ["options: Map", "()"],
        "Publish a port: #{ port, to: \"IP:PORT\", proto: \"tcp\", host_ip, netns }: DNAT from outside (PREROUTING), from the host (OUTPUT) and hairpin.",
        move |opts: Map| publish(&a, Opts::new("publish", opts, &["port", "to", "proto", "host_ip", "netns"])?));
    let a = api.clone();
    api!(
        engine,
        "forward_accept",
        ["bridge: Link", "()"],
        "Accept forwarded traffic in and out of a bridge, even under a FORWARD policy of DROP.",
        move |link: Link| forward_accept_bridge(&a, link)
    );
    let a = api.clone();
    api!(
        engine,
        "forward_accept",
        ["subnet: &str", "()"],
        "Accept forwarded traffic from and to a subnet, even under a FORWARD policy of DROP.",
        move |subnet: &str| forward_accept_subnet(&a, subnet, NsRef::Host)
    );
    let a = api.clone();
    api!(
        engine,
        "isolate",
        ["a: Link", "b: Link", "()"],
        "Drop traffic forwarded between two bridges, both ways (Docker's network isolation).",
        move |x: Link, y: Link| isolate(&a, x, y)
    );
    let a = api.clone();
    api!(
        engine,
        "rule",
        ["table: &str", "chain: &str", "spec: &str", "()"],
        "Append any iptables rule, journaled: rule(\"filter\", \"FORWARD\", \"-i br0 -j ACCEPT\").",
        move |table: &str, chain: &str, spec: &str| raw_rule(
            &a,
            table,
            chain,
            spec,
            Opts::empty("rule")
        )
    );
    let a = api.clone();
    api!(
        engine,
        "rule",
        [
            "table: &str",
            "chain: &str",
            "spec: &str",
            "options: Map",
            "()"
        ],
        "Append an iptables rule with #{ v6: true (ip6tables), netns }.",
        move |table: &str, chain: &str, spec: &str, opts: Map| raw_rule(
            &a,
            table,
            chain,
            spec,
            Opts::new("rule", opts, &["v6", "netns"])?
        )
    );
}
