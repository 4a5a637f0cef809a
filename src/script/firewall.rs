//! Firewall and NAT: masquerade(), publish(), forward_accept(), isolate()
//! and rule(), over the plans of crate::plan::firewall.

use rhai::{Array, Dynamic, Engine, Map, NativeCallContext};

use super::convert::{fail, planned, script_error, strings, Link, Opts, RhaiResult};
use super::Api;
use crate::plan::addressing::parse_subnet;
use crate::plan::firewall::{self as plan, Out, Publish};
use plumb_kernel::NsRef;

fn masquerade(api: &Api, ctx: &NativeCallContext, subnet: &str, opts: Opts) -> RhaiResult<()> {
    let net = planned("masquerade", parse_subnet(subnet))?;
    let ns = opts.netns("netns")?.unwrap_or(NsRef::Host);
    let out = match (opts.link_name("out", &ns)?, opts.link_name("not_out", &ns)?) {
        (Some(_), Some(_)) => return fail("masquerade(): give 'out' or 'not_out', not both"),
        (Some(o), None) => Out::Via(o),
        (None, Some(o)) => Out::NotVia(o),
        (None, None) => Out::Any,
    };
    let shared = opts.bool("share")?.unwrap_or(false);
    api.apply_all(ctx, plan::masquerade(&ns, net, out, shared))
}

fn publish(api: &Api, ctx: &NativeCallContext, opts: Opts) -> RhaiResult<()> {
    let port = opts
        .int_in("port", 1, 65535)?
        .ok_or_else(|| script_error("publish(): option 'port' is required"))? as u16;
    let to = planned(
        "publish",
        plan::parse_target(&opts.required_string("to")?, port),
    )?;
    let p = Publish {
        port,
        to,
        proto: opts.string("proto")?.unwrap_or_else(|| "tcp".into()),
        host_ip: opts.ip("host_ip")?,
    };
    let ns = opts.netns("netns")?.unwrap_or(NsRef::Host);
    let via = api.link_toward(&ns, p.to.ip())?;
    let ops = planned("publish", plan::publish(&ns, &p, via.as_deref()))?;
    api.apply_all(ctx, ops)
}

impl Api {
    /// The link in `ns` whose subnet holds `ip` (a container's bridge), if any.
    fn link_toward(&self, ns: &NsRef, ip: std::net::IpAddr) -> RhaiResult<Option<String>> {
        let (links, addrs) = self.inspect(|i| Ok((i.links(ns)?, i.addrs(ns)?)))?;
        Ok(addrs
            .iter()
            .filter(|a| a.addr.contains(&ip) && a.addr.prefix_len() < a.addr.max_prefix_len())
            .find_map(|a| links.iter().find(|l| l.index == a.index))
            .map(|l| l.name.clone()))
    }
}

/// A rule's words: an array, or a text split as a shell splits it.
fn rule_words(spec: Dynamic) -> RhaiResult<Vec<String>> {
    if spec.is_array() {
        return strings(spec.cast::<Array>(), "rule");
    }
    let text = spec.into_immutable_string().map_err(|t| {
        script_error(format!(
            "rule(): the spec must be a string or an array, not {t}"
        ))
    })?;
    planned("rule", plan::shell_words(&text))
}

fn raw_rule(
    api: &Api,
    ctx: &NativeCallContext,
    table: &str,
    chain: &str,
    spec: Dynamic,
    opts: Opts,
) -> RhaiResult<()> {
    let words = rule_words(spec)?;
    let ns = opts.netns("netns")?.unwrap_or(NsRef::Host);
    let v6 = opts.bool("v6")?.unwrap_or(false);
    let op = planned("rule", plan::raw_rule(&ns, v6, table, chain, &words))?;
    // iptables judges the words here, so a mistake points at this line.
    api.inspect(|i| Ok(i.check_rule(&ns, v6, table, chain, &words)))?
        .map_err(|e| script_error(format!("rule(): {e}")))?;
    api.apply(ctx, op)
}

pub fn register(engine: &mut Engine, api: &Api) {
    let a = api.clone();
    api!(engine, "masquerade", ["subnet: &str", "()"],
        "Source-NAT a subnet's traffic to the outside (`iptables -t nat -A POSTROUTING -s SUBNET -j MASQUERADE`); turns on forwarding.",
        move |ctx: NativeCallContext, subnet: &str| masquerade(&a, &ctx, subnet, Opts::empty("masquerade")));
    let a = api.clone();
    api!(
        engine,
        "masquerade",
        ["subnet: &str", "options: Map", "()"],
        "Masquerade with #{ not_out: BRIDGE (traffic not leaving by it) or out: LINK, netns, share: true (one rule for every run that asks) }.",
        move |ctx: NativeCallContext, subnet: &str, opts: Map| masquerade(
            &a,
            &ctx,
            subnet,
            Opts::new("masquerade", opts, &["out", "not_out", "netns", "share"])?
        )
    );
    let a = api.clone();
    api!(engine, "publish", ["options: Map", "()"],
        "Publish a port: #{ port, to: \"IP:PORT\", proto: \"tcp\", host_ip, netns }: DNAT from outside (PREROUTING), from the host (OUTPUT) and hairpin.",
        move |ctx: NativeCallContext, opts: Map| publish(&a, &ctx, Opts::new("publish", opts, &["port", "to", "proto", "host_ip", "netns"])?));
    let a = api.clone();
    api!(
        engine,
        "forward_accept",
        ["bridge: Link", "()"],
        "Accept forwarded traffic in and out of a bridge, even under a FORWARD policy of DROP.",
        move |ctx: NativeCallContext, link: Link| a.apply_all(
            &ctx,
            plan::forward_accept_link(&link.ns, &link.name, link.shared)
        )
    );
    let a = api.clone();
    api!(
        engine,
        "forward_accept",
        ["subnet: &str", "()"],
        "Accept forwarded traffic from and to a subnet, even under a FORWARD policy of DROP.",
        move |ctx: NativeCallContext, subnet: &str| {
            let net = planned("forward_accept", parse_subnet(subnet))?;
            a.apply(&ctx, plan::forward_accept_subnet(&NsRef::Host, net))
        }
    );
    let a = api.clone();
    api!(
        engine,
        "isolate",
        ["a: Link", "b: Link", "()"],
        "Drop traffic forwarded between two bridges, both ways (Docker's network isolation).",
        move |ctx: NativeCallContext, x: Link, y: Link| {
            x.same_namespace_as(&y, "isolate")?;
            a.apply_all(&ctx, plan::isolate(&x.ns, &x.name, &y.name))
        }
    );
    let a = api.clone();
    api!(
        engine,
        "rule",
        ["table: &str", "chain: &str", "spec: Dynamic", "()"],
        "Append any iptables rule, journaled: rule(\"filter\", \"INPUT\", \"-j LOG --log-prefix 'DROP: '\") (quoted as in a shell) or with an array of words.",
        move |ctx: NativeCallContext, table: &str, chain: &str, spec: Dynamic| raw_rule(
            &a,
            &ctx,
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
            "spec: Dynamic",
            "options: Map",
            "()"
        ],
        "Append an iptables rule with #{ v6: true (ip6tables), netns }.",
        move |ctx: NativeCallContext, table: &str, chain: &str, spec: Dynamic, opts: Map| raw_rule(
            &a,
            &ctx,
            table,
            chain,
            spec,
            Opts::new("rule", opts, &["v6", "netns"])?
        )
    );
}
