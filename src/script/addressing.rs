//! Addresses, routes and sysctls: addr(), route(), sysctl(), sysctl_get().

use ipnet::IpNet;
use rhai::{Engine, Map, NativeCallContext};

use super::convert::{fail, planned, script_error, Link, Netns, Opts, OrScript, RhaiResult};
use super::Api;
use crate::plan::addressing as plan;
use plumb_journal::Op;
use plumb_kernel::{error::cut, sysctl, NsRef};

impl Api {
    fn addr(&self, ctx: &NativeCallContext, link: &Link, cidr: &str) -> RhaiResult<()> {
        let addr: IpNet = cidr.parse().map_err(|_| {
            script_error(format!(
                "invalid address '{}': expected an address with a prefix length, like 172.18.0.10/16 or fd00::10/64",
                cut(cidr)
            ))
        })?;
        self.refuse_overlap(link, &addr)?;
        self.apply_all(ctx, plan::addr(&link.ns, &link.name, addr, link.shared))
    }

    /// Two links of a namespace on overlapping subnets break routing for both:
    /// refused, naming the other link and whose it is.
    fn refuse_overlap(&self, link: &Link, addr: &IpNet) -> RhaiResult<()> {
        // Addresses are few where links are many (a bridge with a thousand
        // ports): links are looked up by index, only for addresses, and the
        // link's own index only when some address overlaps (most add none).
        let addrs = self.inspect(|i| i.addrs(&link.ns))?;
        let mut others: Vec<(String, IpNet)> = addrs
            .iter()
            .map(|a| (format!("#{}", a.index), a.addr))
            .collect();
        if plan::overlap(&link.name, addr, &others).is_none() {
            return Ok(());
        }
        if let Some(own) = self.inspect(|i| i.find_link(&link.ns, &link.name))? {
            others.retain(|(index, _)| *index != format!("#{}", own.index));
        }
        let Some((other, theirs)) = plan::overlap(&link.name, addr, &others) else {
            return Ok(());
        };
        let links = self.inspect(|i| i.links(&link.ns))?;
        let index: u32 = other[1..].parse().unwrap_or_default();
        let other = links
            .iter()
            .find(|l| l.index == index)
            .map_or_else(|| other.clone(), |l| l.name.clone());
        let this_run = self.session.borrow().run_id().map(str::to_string);
        let owner = match links
            .iter()
            .find(|l| l.name == other)
            .and_then(|l| l.alias.clone())
            .as_deref()
            .and_then(plumb_journal::run_of_mark)
        {
            Some(r) if Some(r) == this_run.as_deref() => "made by this run".to_string(),
            Some(r) => format!("made by run {r}"),
            None => "not made by plumb".into(),
        };
        fail(format!(
            "addr(): {addr} on {} overlaps {theirs} on {other} ({owner}); two networks cannot share addresses: pick another subnet",
            link.describe()
        ))
    }

    fn route(&self, ctx: &NativeCallContext, ns: NsRef, dest: &str, opts: Opts) -> RhaiResult<()> {
        let dest = match dest {
            "default" => None,
            prefix => Some(prefix.parse::<IpNet>().map_err(|_| {
                script_error(format!(
                    "route(): invalid destination '{}': expected \"default\" or a prefix like 10.1.0.0/16",
                    cut(prefix)
                ))
            })?),
        };
        let via = opts.ip("via")?;
        let dev = opts.link_name("dev", &ns)?;
        let op = planned("route", plan::route(&ns, dest, via, dev))?;
        self.apply(ctx, op)
    }

    fn sysctl(&self, ctx: &NativeCallContext, ns: NsRef, key: &str, value: &str) -> RhaiResult<()> {
        sysctl::path_of(key).or_script()?;
        self.apply(
            ctx,
            Op::Sysctl {
                ns,
                key: key.into(),
                value: value.into(),
                old: None,
            },
        )
    }
}

pub fn register(engine: &mut Engine, api: &Api) {
    let a = api.clone();
    api!(
        engine,
        "addr",
        ["link: Link", "cidr: &str", "()"],
        "Add an IPv4 or IPv6 address with its prefix length (`ip addr add CIDR dev NAME`; IPv6 without DAD, usable at once).",
        move |ctx: NativeCallContext, l: Link, cidr: &str| a.addr(&ctx, &l, cidr)
    );
    let a = api.clone();
    api!(engine, "route", ["ns: Netns", "dest: &str", "options: Map", "()"],
        "Add a route in `ns`: dest \"default\" or a prefix, #{ via: GATEWAY, dev: LINK } (`ip route add`).",
        move |ctx: NativeCallContext, ns: Netns, dest: &str, opts: Map| a.route(&ctx, ns.0, dest, Opts::new("route", opts, &["via", "dev"])?));
    let a = api.clone();
    api!(engine, "sysctl", ["ns: Netns", "key: &str", "value: &str", "()"],
        "Set a network sysctl in `ns` (`sysctl -w net.ipv4.ip_forward=1`); the old value comes back on rollback (a host-wide one when the last run that set it goes).",
        move |ctx: NativeCallContext, ns: Netns, key: &str, value: &str| a.sysctl(&ctx, ns.0, key, value));
    let a = api.clone();
    api!(
        engine,
        "sysctl",
        ["ns: Netns", "key: &str", "value: i64", "()"],
        "Set a network sysctl in `ns` to a number.",
        move |ctx: NativeCallContext, ns: Netns, key: &str, value: i64| a.sysctl(
            &ctx,
            ns.0,
            key,
            &value.to_string()
        )
    );
    let a = api.clone();
    api!(
        engine,
        "sysctl_get",
        ["ns: Netns", "key: &str", "String"],
        "Read a network sysctl in `ns`.",
        move |ns: Netns, key: &str| -> RhaiResult<String> {
            sysctl::path_of(key).or_script()?;
            a.inspect(|i| i.sysctl(&ns.0, key))
        }
    );
}
