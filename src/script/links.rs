//! Links: bridge(), veth(), vxlan(), macvlan(), link() and the methods of a
//! Link (up, down, set_mtu, set_mac, set_master, nomaster, move_to).

use rhai::{Dynamic, Engine, NativeCallContext};

use super::convert::{fail, planned, script_error, Link, Netns, Opts, OrScript, RhaiResult};
use super::Api;
use crate::plan::links as plan;
use plumb_journal::{Op, SHARED_MARK};
use plumb_kernel::{parse_mac, LinkChange, LinkSettings, MacvlanMode, NsRef, VxlanSpec};

const BRIDGE_OPTS: &[&str] = &["mtu", "up", "share", "mac"];
const VETH_OPTS: &[&str] = &["peer", "netns", "master", "mtu", "up", "hairpin", "mac"];
const VXLAN_OPTS: &[&str] = &[
    "id", "port", "local", "remote", "group", "dev", "master", "mtu", "up", "mac",
];
const MACVLAN_OPTS: &[&str] = &["parent", "mode", "netns", "ifname", "up"];

/// The options every link kind shares: mtu, master, up (default true), mac.
fn settings(opts: &Opts, ns: &NsRef) -> RhaiResult<LinkSettings> {
    let mac = opts.string("mac")?;
    if let Some(mac) = &mac {
        parse_mac(mac).or_script()?;
    }
    Ok(LinkSettings {
        mtu: opts.int_in("mtu", 68, 65535)?.map(|m| m as u32),
        master: opts.link_name("master", ns)?,
        up: opts.bool("up")?.unwrap_or(true),
        mac: mac.map(|m| m.to_lowercase()),
    })
}

impl Api {
    fn make_link(&self, ctx: &NativeCallContext, op: Op) -> RhaiResult<Link> {
        let Op::LinkAdd {
            ns, name, shared, ..
        } = &op
        else {
            unreachable!("make_link takes a LinkAdd")
        };
        plumb_kernel::validate_ifname(name).or_script()?;
        let mut link = Link::new(ns.clone(), name.as_str());
        link.shared = *shared;
        self.apply(ctx, op)?;
        Ok(link)
    }

    fn bridge(
        &self,
        ctx: &NativeCallContext,
        ns: NsRef,
        name: &str,
        opts: Opts,
    ) -> RhaiResult<Link> {
        let shared = opts.bool("share")?.unwrap_or(false);
        let op = plan::bridge(&ns, name, settings(&opts, &ns)?, shared);
        self.make_link(ctx, op)
    }

    fn veth(&self, ctx: &NativeCallContext, ns: NsRef, name: &str, opts: Opts) -> RhaiResult<Link> {
        let peer = opts.required_string("peer")?;
        plumb_kernel::validate_ifname(&peer).or_script()?;
        let peer_ns = opts.netns("netns")?.unwrap_or_else(|| ns.clone());
        let hairpin = opts.bool("hairpin")?.unwrap_or(false);
        plumb_kernel::validate_ifname(name).or_script()?;
        let ops = planned(
            "veth",
            plan::veth(&ns, name, &peer, &peer_ns, settings(&opts, &ns)?, hairpin),
        )?;
        self.apply_all(ctx, ops)?;
        let mut link = Link::new(ns, name);
        link.peer = Some(Box::new(Link::new(peer_ns, peer)));
        Ok(link)
    }

    fn vxlan(
        &self,
        ctx: &NativeCallContext,
        ns: NsRef,
        name: &str,
        opts: Opts,
    ) -> RhaiResult<Link> {
        let id = opts
            .int_in("id", 0, (1 << 24) - 1)?
            .ok_or_else(|| script_error("vxlan(): option 'id' (the VNI) is required"))?;
        let spec = VxlanSpec {
            id: id as u32,
            port: opts.int_in("port", 1, 65535)?.unwrap_or(4789) as u16,
            local: opts.ip("local")?,
            remote: opts.ip("remote")?,
            group: opts.ip("group")?,
        };
        let dev = opts.link_name("dev", &ns)?;
        let op = planned(
            "vxlan",
            plan::vxlan(&ns, name, spec, dev, settings(&opts, &ns)?),
        )?;
        self.make_link(ctx, op)
    }

    fn macvlan(
        &self,
        ctx: &NativeCallContext,
        ns: NsRef,
        name: &str,
        opts: Opts,
    ) -> RhaiResult<Link> {
        plumb_kernel::validate_ifname(name).or_script()?;
        let parent = opts
            .link_name("parent", &ns)?
            .ok_or_else(|| script_error("macvlan(): option 'parent' is required"))?;
        let mode = MacvlanMode::parse(&opts.string("mode")?.unwrap_or_else(|| "bridge".into()))
            .or_script()?;
        let target = opts.netns("netns")?;
        let inside = opts.string("ifname")?.unwrap_or_else(|| name.to_string());
        plumb_kernel::validate_ifname(&inside).or_script()?;
        let up = opts.bool("up")?.unwrap_or(true);
        let to = target.as_ref().map(|netns| plan::Target {
            netns,
            name: &inside,
        });
        self.apply_all(ctx, plan::macvlan(&ns, name, &parent, mode, to, up))?;
        Ok(match target {
            Some(t) => Link::new(t, inside),
            None => Link::new(ns, name),
        })
    }

    /// An existing link, by name; one marked shared stays shared in this run.
    fn existing(&self, ns: NsRef, name: &str) -> RhaiResult<Link> {
        let info = self.inspect(|i| i.link(&ns, name))?;
        let mut link = Link::new(ns, name);
        link.shared = info.alias.as_deref() == Some(SHARED_MARK);
        Ok(link)
    }

    fn set(&self, ctx: &NativeCallContext, link: &Link, change: LinkChange) -> RhaiResult<()> {
        self.apply(
            ctx,
            Op::LinkSet {
                ns: link.ns.clone(),
                name: link.name.clone(),
                change,
                old: None,
            },
        )
    }

    fn set_master(
        &self,
        ctx: &NativeCallContext,
        link: &Link,
        master: Option<String>,
    ) -> RhaiResult<()> {
        self.apply(
            ctx,
            Op::SetMaster {
                ns: link.ns.clone(),
                name: link.name.clone(),
                master,
                old: None,
            },
        )
    }

    fn move_link(
        &self,
        ctx: &NativeCallContext,
        link: &Link,
        to: NsRef,
        new_name: &str,
    ) -> RhaiResult<Link> {
        plumb_kernel::validate_ifname(new_name).or_script()?;
        let made_here = self.session.borrow().made_here(&link.ns, &link.name);
        let op = planned(
            "move_to",
            plan::move_link(&link.ns, &link.name, &to, new_name, made_here),
        )?;
        self.apply(ctx, op)?;
        Ok(Link::new(to, new_name))
    }
}

fn register_type(engine: &mut Engine, api: &Api) {
    engine
        .register_type_with_name::<Link>("Link")
        .register_get("name", |l: &mut Link| l.name.clone())
        .register_get("netns", |l: &mut Link| Netns(l.ns.clone()))
        .register_get("is_shared", |l: &mut Link| l.shared)
        .register_get("peer", |l: &mut Link| match &l.peer {
            Some(p) => Dynamic::from((**p).clone()),
            None => Dynamic::UNIT,
        })
        .register_fn("to_string", |l: &mut Link| format!("link {}", l.describe()))
        .register_fn("to_debug", |l: &mut Link| format!("link {}", l.describe()));
    let a = api.clone();
    engine.register_get("ifindex", move |l: &mut Link| -> RhaiResult<i64> {
        a.inspect(|i| i.link(&l.ns, &l.name))
            .map(|info| i64::from(info.index))
    });
}

pub fn register(engine: &mut Engine, api: &Api) {
    register_type(engine, api);
    let a = api.clone();
    api!(
        engine,
        "bridge",
        ["name: &str", "Link"],
        "Create a bridge in the host namespace and bring it up (`ip link add NAME type bridge`).",
        move |ctx: NativeCallContext, name: &str| a.bridge(
            &ctx,
            NsRef::Host,
            name,
            Opts::empty("bridge")
        )
    );
    let a = api.clone();
    in_netns!(engine, "bridge", "Link", BRIDGE_OPTS,
        "Create a bridge with #{ mtu, up, mac (default: one derived from the name, kept as ports come and go), share: true (one bridge for every run that asks; the last to leave removes it; Rhai reserves the word `shared`) }.",
        move |ctx: &NativeCallContext, ns: NsRef, name: &str, opts: Opts| a.bridge(ctx, ns, name, opts));
    let a = api.clone();
    in_netns!(engine, "veth", "Link", VETH_OPTS,
        "Create a veth pair: #{ peer: NAME (required), netns: NS for the peer, master: BRIDGE, mtu, up, mac (of this end), hairpin: true (the container reaches its own published ports) }. The peer is made inside NS directly.",
        move |ctx: &NativeCallContext, ns: NsRef, name: &str, opts: Opts| a.veth(ctx, ns, name, opts));
    let a = api.clone();
    in_netns!(engine, "vxlan", "Link", VXLAN_OPTS,
        "Create a VXLAN device: #{ id: VNI (required), port: 4789, local, remote or group, dev: UNDERLAY, master, mtu, up, mac }.",
        move |ctx: &NativeCallContext, ns: NsRef, name: &str, opts: Opts| a.vxlan(ctx, ns, name, opts));
    let a = api.clone();
    in_netns!(engine, "macvlan", "Link", MACVLAN_OPTS,
        "Create a macvlan on a parent link: #{ parent (required), mode: \"bridge\", netns: NS to move it into, ifname: its name there, up }.",
        move |ctx: &NativeCallContext, ns: NsRef, name: &str, opts: Opts| a.macvlan(ctx, ns, name, opts));

    let a = api.clone();
    api!(
        engine,
        "link",
        ["name: &str", "Link"],
        "An existing link in the host namespace, by name.",
        move |name: &str| a.existing(NsRef::Host, name)
    );
    let a = api.clone();
    api!(
        engine,
        "link",
        ["ns: Netns", "name: &str", "Link"],
        "An existing link in namespace `ns`, by name.",
        move |ns: Netns, name: &str| a.existing(ns.0, name)
    );

    let a = api.clone();
    api!(
        engine,
        "up",
        ["link: Link", "()"],
        "Bring a link up (`ip link set NAME up`).",
        move |ctx: NativeCallContext, l: Link| a.set(&ctx, &l, LinkChange::Up)
    );
    let a = api.clone();
    api!(
        engine,
        "down",
        ["link: Link", "()"],
        "Take a link down (`ip link set NAME down`).",
        move |ctx: NativeCallContext, l: Link| a.set(&ctx, &l, LinkChange::Down)
    );
    let a = api.clone();
    api!(
        engine,
        "set_mtu",
        ["link: Link", "mtu: i64", "()"],
        "Set a link's MTU (`ip link set NAME mtu N`).",
        move |ctx: NativeCallContext, l: Link, mtu: i64| {
            if !(68..=65535).contains(&mtu) {
                return fail(format!("set_mtu(): {mtu} is outside 68..65535"));
            }
            a.set(&ctx, &l, LinkChange::Mtu(mtu as u32))
        }
    );
    let a = api.clone();
    api!(
        engine,
        "set_hairpin",
        ["link: Link", "on: bool", "()"],
        "Let a bridge port send frames back where they came in (`ip link set NAME type bridge_slave hairpin on`).",
        move |ctx: NativeCallContext, l: Link, on: bool| a.set(&ctx, &l, LinkChange::Hairpin(on))
    );
    let a = api.clone();
    api!(
        engine,
        "set_mac",
        ["link: Link", "mac: &str", "()"],
        "Set a link's MAC address (`ip link set NAME address MAC`).",
        move |ctx: NativeCallContext, l: Link, mac: &str| {
            parse_mac(mac).or_script()?;
            a.set(&ctx, &l, LinkChange::Mac(mac.to_lowercase()))
        }
    );
    let a = api.clone();
    api!(
        engine,
        "set_master",
        ["link: Link", "master: Link", "()"],
        "Attach a link to a bridge (`ip link set NAME master BR`).",
        move |ctx: NativeCallContext, l: Link, master: Link| {
            l.same_namespace_as(&master, "set_master")?;
            a.set_master(&ctx, &l, Some(master.name))
        }
    );
    let a = api.clone();
    api!(
        engine,
        "nomaster",
        ["link: Link", "()"],
        "Detach a link from its bridge (`ip link set NAME nomaster`).",
        move |ctx: NativeCallContext, l: Link| a.set_master(&ctx, &l, None)
    );
    let a = api.clone();
    api!(engine, "move_to", ["link: Link", "ns: Netns", "Link"],
        "Move a link this run made into another namespace (`ip link set NAME netns NS`); costs the kernel 16-20 ms, so prefer creating it there.",
        move |ctx: NativeCallContext, l: Link, ns: Netns| { let name = l.name.clone(); a.move_link(&ctx, &l, ns.0, &name) });
    let a = api.clone();
    api!(
        engine,
        "move_to",
        ["link: Link", "ns: Netns", "new_name: &str", "Link"],
        "Move a link this run made into another namespace and rename it (`ip link set NAME netns NS name NEW`).",
        move |ctx: NativeCallContext, l: Link, ns: Netns, new_name: &str| a.move_link(&ctx, &l, ns.0, new_name)
    );
}
