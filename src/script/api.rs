//! The script API: thin registrations that turn calls into journaled ops or
//! kernel queries. Each function carries its doc, which `plumb doc` prints.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::rc::Rc;
use std::time::Duration;

use ipnet::IpNet;
use std::path::{Path, PathBuf};

use rhai::{Array, Dynamic, Engine, EvalAltResult, Map, NativeCallContext};

use super::handles::{fail, script_error, Link, Netns, Opts, OrScript, RhaiResult};
use super::ScriptError;
use crate::journal::{Op, Session};
use crate::kernel::{
    netns, process, sysctl, LinkChange, LinkKind, LinkSettings, MacvlanMode, NsRef, Route,
    VxlanSpec,
};

/// `--set key=value` parameters, and which of them the script read. A script
/// started with run_script() sees only the parameters it was given.
#[derive(Default)]
pub struct Params {
    values: BTreeMap<String, String>,
    used: BTreeSet<String>,
    nested: Vec<BTreeMap<String, String>>,
}

impl Params {
    pub fn new(values: BTreeMap<String, String>) -> Self {
        Params {
            values,
            ..Default::default()
        }
    }

    fn take(&mut self, name: &str) -> Option<String> {
        if let Some(inner) = self.nested.last() {
            return inner.get(name).cloned();
        }
        self.used.insert(name.to_string());
        self.values.get(name).cloned()
    }

    /// Parameters given on the command line that the script never asked for (likely typos).
    pub fn unused(&self) -> Vec<String> {
        self.values
            .keys()
            .filter(|k| !self.used.contains(*k))
            .cloned()
            .collect()
    }
}

/// Default limit for `exec_in`, so a hung program cannot hang a run.
const DEFAULT_EXEC_TIMEOUT: Duration = Duration::from_secs(30);

/// What every registered function shares: the run's session and parameters.
#[derive(Clone)]
pub struct Api {
    pub session: Rc<RefCell<Session>>,
    pub params: Rc<RefCell<Params>>,
    /// What a dry run has printed once already (it cannot ask the kernel).
    pub mentioned: Rc<RefCell<BTreeSet<String>>>,
}

impl Api {
    /// True the first time `what` is mentioned in this session.
    pub(super) fn first_mention(&self, what: &str) -> bool {
        self.mentioned.borrow_mut().insert(what.to_string())
    }

    pub(super) fn apply(&self, op: Op) -> RhaiResult<()> {
        self.session.borrow_mut().apply(op).or_script()
    }

    pub(super) fn dry_run(&self) -> bool {
        self.session.borrow().is_dry_run()
    }

    fn with_kernel<T>(
        &self,
        f: impl FnOnce(&crate::kernel::Kernel) -> crate::error::Result<T>,
    ) -> RhaiResult<T> {
        f(&self.session.borrow().kernel).or_script()
    }

    fn create_netns(&self, name: &str, opts: Opts) -> RhaiResult<Netns> {
        netns::validate_netns_name(name).or_script()?;
        let ipv6 = opts.bool("ipv6")?.unwrap_or(false);
        self.apply(Op::NetnsAdd {
            name: name.into(),
            ipv6,
        })?;
        Ok(Netns(NsRef::Named(name.into())))
    }

    fn open_netns(&self, ns: NsRef) -> RhaiResult<Netns> {
        if !self.dry_run() {
            ns.inode().or_script()?;
        }
        Ok(Netns(ns))
    }

    /// Create a link with the options every link kind shares (mtu, master,
    /// up: default true), all in the request that creates it.
    fn create_link(&self, ns: &NsRef, name: &str, kind: LinkKind, opts: &Opts) -> RhaiResult<Link> {
        let settings = LinkSettings {
            mtu: opts.int_in("mtu", 68, 65535)?.map(|m| m as u32),
            master: opts.link_name("master", ns)?,
            up: opts.bool("up")?.unwrap_or(true),
        };
        self.add_link(ns, name, kind, settings)
    }

    fn add_link(
        &self,
        ns: &NsRef,
        name: &str,
        kind: LinkKind,
        settings: LinkSettings,
    ) -> RhaiResult<Link> {
        crate::kernel::validate_ifname(name).or_script()?;
        self.apply(Op::LinkAdd {
            ns: ns.clone(),
            name: name.into(),
            kind,
            settings,
        })?;
        Ok(Link::new(ns.clone(), name))
    }

    fn set(&self, link: &Link, change: LinkChange) -> RhaiResult<()> {
        self.apply(Op::LinkSet {
            ns: link.ns.clone(),
            name: link.name.clone(),
            change,
            old: None,
        })
    }

    fn set_master(&self, link: &Link, master: Option<String>) -> RhaiResult<()> {
        self.apply(Op::SetMaster {
            ns: link.ns.clone(),
            name: link.name.clone(),
            master,
            old: None,
        })
    }

    fn veth(&self, ns: NsRef, name: &str, opts: Opts) -> RhaiResult<Link> {
        let peer = opts.required_string("peer")?;
        crate::kernel::validate_ifname(&peer).or_script()?;
        let peer_ns = opts.netns("netns")?.unwrap_or_else(|| ns.clone());
        let mut link = self.create_link(
            &ns,
            name,
            LinkKind::Veth {
                peer: peer.clone(),
                peer_netns: (peer_ns != ns).then(|| peer_ns.clone()),
            },
            &opts,
        )?;
        link.peer = Some(Box::new(Link::new(peer_ns, peer)));
        Ok(link)
    }

    fn vxlan(&self, ns: NsRef, name: &str, opts: Opts) -> RhaiResult<Link> {
        let id = opts
            .int_in("id", 0, (1 << 24) - 1)?
            .ok_or_else(|| script_error("vxlan(): option 'id' (the VNI) is required"))?;
        let parse_ip = |key: &str| -> RhaiResult<Option<IpAddr>> {
            opts.string(key)?
                .map(|s| {
                    s.parse().map_err(|_| {
                        script_error(format!(
                            "vxlan(): option '{key}': '{s}' is not an IP address"
                        ))
                    })
                })
                .transpose()
        };
        let spec = VxlanSpec {
            id: id as u32,
            port: opts.int_in("port", 1, 65535)?.unwrap_or(4789) as u16,
            local: parse_ip("local")?,
            remote: parse_ip("remote")?,
            group: parse_ip("group")?,
            dev_index: None,
        };
        if spec.remote.is_some() && spec.group.is_some() {
            return fail(
                "vxlan(): give either 'remote' (unicast) or 'group' (multicast), not both",
            );
        }
        let dev = opts.link_name("dev", &ns)?;
        self.create_link(&ns, name, LinkKind::Vxlan { spec, dev }, &opts)
    }

    fn macvlan(&self, ns: NsRef, name: &str, opts: Opts) -> RhaiResult<Link> {
        let parent = opts
            .link_name("parent", &ns)?
            .ok_or_else(|| script_error("macvlan(): option 'parent' is required"))?;
        let mode = MacvlanMode::parse(&opts.string("mode")?.unwrap_or_else(|| "bridge".into()))
            .or_script()?;
        let target = opts.netns("netns")?;
        // Bring it up only once it sits where it will live.
        let up = opts.bool("up")?.unwrap_or(true);
        let link = self.add_link(
            &ns,
            name,
            LinkKind::Macvlan { parent, mode },
            LinkSettings::default(),
        )?;
        let link = match target {
            Some(to) if to != ns => self.move_link(&link, to, name)?,
            _ => link,
        };
        if up {
            self.set(&link, LinkChange::Up)?;
        }
        Ok(link)
    }

    fn move_link(&self, link: &Link, to: NsRef, new_name: &str) -> RhaiResult<Link> {
        crate::kernel::validate_ifname(new_name).or_script()?;
        self.apply(Op::LinkMove {
            ns: link.ns.clone(),
            name: link.name.clone(),
            to: to.clone(),
            new_name: new_name.into(),
        })?;
        Ok(Link::new(to, new_name))
    }

    fn addr(&self, link: &Link, cidr: &str) -> RhaiResult<()> {
        let addr: IpNet = cidr.parse().map_err(|_| {
            script_error(format!(
                "invalid address '{cidr}': expected an address with a prefix length, like 172.18.0.10/16 or fd00::10/64"
            ))
        })?;
        if let IpNet::V6(_) = addr {
            // New namespaces create interfaces with IPv6 off; an IPv6 address turns it on for this link.
            self.apply(Op::Sysctl {
                ns: link.ns.clone(),
                key: format!("net/ipv6/conf/{}/disable_ipv6", link.name),
                value: "0".into(),
                old: None,
            })?;
        }
        self.apply(Op::AddrAdd {
            ns: link.ns.clone(),
            dev: link.name.clone(),
            addr,
        })
    }

    fn route(&self, ns: NsRef, dest: &str, opts: Opts) -> RhaiResult<()> {
        let dest = if dest == "default" {
            None
        } else {
            Some(dest.parse::<IpNet>().map_err(|_| {
                script_error(format!("route(): invalid destination '{dest}': expected \"default\" or a prefix like 10.1.0.0/16"))
            })?)
        };
        let via = opts
            .string("via")?
            .map(|s| {
                s.parse::<IpAddr>().map_err(|_| {
                    script_error(format!("route(): option 'via': '{s}' is not an IP address"))
                })
            })
            .transpose()?;
        let dev = opts.link_name("dev", &ns)?;
        if via.is_none() && dev.is_none() {
            return fail("route(): give 'via' (a gateway), 'dev' (a link), or both");
        }
        let route = Route { dest, via, dev };
        if let (Some(d), Some(gw)) = (route.dest, route.via) {
            if d.addr().is_ipv4() != gw.is_ipv4() {
                return fail(format!(
                    "route(): {d} and gateway {gw} are of different IP versions"
                ));
            }
        }
        self.apply(Op::RouteAdd { ns, route })
    }

    fn sysctl(&self, ns: NsRef, key: &str, value: &str) -> RhaiResult<()> {
        sysctl::path_of(key).or_script()?;
        self.apply(Op::Sysctl {
            ns,
            key: key.into(),
            value: value.into(),
            old: None,
        })
    }

    fn exec_in(&self, ns: NsRef, argv: Array, opts: Opts) -> RhaiResult<Map> {
        let argv = strings(argv, "exec_in")?;
        let timeout = opts
            .seconds("timeout")?
            .map(Duration::from_secs_f64)
            .unwrap_or(DEFAULT_EXEC_TIMEOUT);
        let check = opts.bool("check")?.unwrap_or(false);
        self.session.borrow_mut().flush().or_script()?;
        if self.dry_run() {
            let mut session = self.session.borrow_mut();
            session
                .print_command(&format!(
                    "{}{}",
                    ns.exec_prefix(),
                    crate::journal::shell_join(&argv)
                ))
                .or_script()?;
            return Ok(exec_result(0, "", "", false));
        }
        let out = process::exec_in(&ns, &argv, Some(timeout)).or_script()?;
        if check && (out.code != 0 || out.timed_out) {
            let why = if out.timed_out {
                format!("timed out after {timeout:?}")
            } else {
                format!("exited with {}", out.code)
            };
            return fail(format!(
                "exec_in({}, {:?}) {why}: {}",
                Netns(ns).name(),
                argv.join(" "),
                out.stderr.trim()
            ));
        }
        Ok(exec_result(
            out.code,
            &out.stdout,
            &out.stderr,
            out.timed_out,
        ))
    }

    fn param(&self, name: &str) -> Option<String> {
        self.params.borrow_mut().take(name)
    }

    /// Run another script file in this run, with `params` as its parameters;
    /// a relative path is taken from the calling script's directory.
    fn run_script(&self, ctx: &NativeCallContext, path: &str, params: Map) -> RhaiResult<Dynamic> {
        let dir = ctx.call_source().and_then(|s| Path::new(s).parent());
        let file = dir.map_or_else(|| PathBuf::from(path), |d| d.join(path));
        let name = file.display().to_string();
        let located = |e: &EvalAltResult| script_error(ScriptError::from_rhai(&name, e));
        let source = std::fs::read_to_string(&file)
            .map_err(|e| script_error(format!("run_script(): cannot read {name}: {e}")))?;
        let mut ast = ctx
            .engine()
            .compile(&source)
            .map_err(|e| located(&e.into()))?;
        ast.set_source(name.as_str());
        let values = params
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.params.borrow_mut().nested.push(values);
        let result = ctx.engine().eval_ast::<Dynamic>(&ast);
        self.params.borrow_mut().nested.pop();
        result.map_err(|e| located(&e))
    }
}

fn exec_result(code: i64, stdout: &str, stderr: &str, timed_out: bool) -> Map {
    let mut m = Map::new();
    m.insert("code".into(), code.into());
    m.insert("ok".into(), (code == 0 && !timed_out).into());
    m.insert("stdout".into(), stdout.into());
    m.insert("stderr".into(), stderr.into());
    m.insert("timed_out".into(), timed_out.into());
    m
}

fn strings(argv: Array, func: &str) -> RhaiResult<Vec<String>> {
    if argv.is_empty() {
        return fail(format!(
            "{func}(): the command is empty; give [program, args...]"
        ));
    }
    argv.into_iter()
        .map(|v| {
            v.clone()
                .into_immutable_string()
                .map(|s| s.to_string())
                .or_else(|_| {
                    if v.is_int() || v.is_float() {
                        Ok(v.to_string())
                    } else {
                        Err(script_error(format!(
                            "{func}(): every word of the command must be a string, not {}",
                            v.type_name()
                        )))
                    }
                })
        })
        .collect()
}

fn to_dynamic<T: serde::Serialize>(value: &T) -> RhaiResult<Dynamic> {
    rhai::serde::to_dynamic(value)
}

pub fn register(engine: &mut Engine, api: &Api) {
    engine
        .register_type_with_name::<Netns>("Netns")
        .register_get("name", |ns: &mut Netns| ns.name())
        .register_fn("to_string", |ns: &mut Netns| format!("netns {}", ns.name()))
        .register_fn("to_debug", |ns: &mut Netns| format!("netns {}", ns.name()))
        .register_fn("==", |a: Netns, b: Netns| a == b)
        .register_type_with_name::<Link>("Link")
        .register_get("name", |l: &mut Link| l.name.clone())
        .register_get("netns", |l: &mut Link| Netns(l.ns.clone()))
        .register_get("peer", |l: &mut Link| match &l.peer {
            Some(p) => Dynamic::from((**p).clone()),
            None => Dynamic::UNIT,
        })
        .register_fn("to_string", |l: &mut Link| l.describe())
        .register_fn("to_debug", |l: &mut Link| l.describe());
    let a = api.clone();
    engine.register_get("ifindex", move |l: &mut Link| -> RhaiResult<i64> {
        if a.dry_run() {
            return Ok(0);
        }
        a.with_kernel(|k| k.link(&l.ns, &l.name))
            .map(|i| i64::from(i.index))
    });

    register_namespaces(engine, api);
    register_links(engine, api);
    register_addressing(engine, api);
    register_processes(engine, api);
    register_queries(engine, api);
    register_utilities(engine, api);
    super::firewall_api::register(engine, api);
}

fn register_namespaces(engine: &mut Engine, api: &Api) {
    let a = api.clone();
    api!(
        engine,
        "netns",
        ["name: &str", "Netns"],
        "Create a named network namespace (`ip netns add`), lo up, IPv6 off unless asked for.",
        move |name: &str| a.create_netns(name, Opts::empty("netns"))
    );
    let a = api.clone();
    api!(
        engine,
        "netns",
        ["name: &str", "options: Map", "Netns"],
        "Create a namespace with options: #{ ipv6: true } keeps IPv6 on for its interfaces.",
        move |name: &str, opts: Map| a.create_netns(name, Opts::new("netns", opts, &["ipv6"])?)
    );
    let a = api.clone();
    api!(engine, "netns_open", ["name: &str", "Netns"],
        "Use an existing named namespace (one `ip netns add` or another run made); it is not deleted on rollback.",
        move |name: &str| {
            netns::validate_netns_name(name).or_script()?;
            a.open_netns(NsRef::Named(name.into()))
        });
    let a = api.clone();
    api!(
        engine,
        "netns_pid",
        ["pid: i64", "Netns"],
        "The namespace of a running process (/proc/PID/ns/net), e.g. a Docker container's.",
        move |pid: i64| {
            let pid = u32::try_from(pid)
                .map_err(|_| script_error(format!("netns_pid(): {pid} is not a process id")))?;
            a.open_netns(NsRef::Pid(pid))
        }
    );
    api!(
        engine,
        "host",
        ["Netns"],
        "The namespace plumb runs in (in --sandbox, the sandbox's own).",
        || Netns(NsRef::Host)
    );
    api!(
        engine,
        "netns_list",
        ["Array"],
        "Names of the namespaces under /run/netns (`ip netns list`).",
        || netns::list_named()
            .into_iter()
            .map(Dynamic::from)
            .collect::<Array>()
    );
}

fn register_links(engine: &mut Engine, api: &Api) {
    const BRIDGE_OPTS: &[&str] = &["mtu", "up"];
    const VETH_OPTS: &[&str] = &["peer", "netns", "master", "mtu", "up"];
    const VXLAN_OPTS: &[&str] = &[
        "id", "port", "local", "remote", "group", "dev", "master", "mtu", "up",
    ];
    const MACVLAN_OPTS: &[&str] = &["parent", "mode", "netns", "up"];

    let a = api.clone();
    api!(
        engine,
        "bridge",
        ["name: &str", "Link"],
        "Create a bridge in the host namespace and bring it up (`ip link add NAME type bridge`).",
        move |name: &str| a.create_link(
            &NsRef::Host,
            name,
            LinkKind::Bridge,
            &Opts::empty("bridge")
        )
    );
    let a = api.clone();
    api!(
        engine,
        "bridge",
        ["name: &str", "options: Map", "Link"],
        "Create a bridge with options #{ mtu, up }.",
        move |name: &str, opts: Map| a.create_link(
            &NsRef::Host,
            name,
            LinkKind::Bridge,
            &Opts::new("bridge", opts, BRIDGE_OPTS)?
        )
    );
    let a = api.clone();
    api!(
        engine,
        "bridge",
        ["ns: Netns", "name: &str", "options: Map", "Link"],
        "Create a bridge inside namespace `ns`, with options #{ mtu, up }.",
        move |ns: Netns, name: &str, opts: Map| a.create_link(
            &ns.0,
            name,
            LinkKind::Bridge,
            &Opts::new("bridge", opts, BRIDGE_OPTS)?
        )
    );

    let a = api.clone();
    api!(engine, "veth", ["name: &str", "options: Map", "Link"],
        "Create a veth pair in the host: #{ peer: NAME (required), netns: NS for the peer, master: BRIDGE, mtu, up }. The peer is made inside NS directly.",
        move |name: &str, opts: Map| a.veth(NsRef::Host, name, Opts::new("veth", opts, VETH_OPTS)?));
    let a = api.clone();
    api!(
        engine,
        "veth",
        ["ns: Netns", "name: &str", "options: Map", "Link"],
        "Create a veth pair whose first end is in `ns`; options as for veth(name, options).",
        move |ns: Netns, name: &str, opts: Map| a.veth(
            ns.0,
            name,
            Opts::new("veth", opts, VETH_OPTS)?
        )
    );

    let a = api.clone();
    api!(engine, "vxlan", ["name: &str", "options: Map", "Link"],
        "Create a VXLAN device: #{ id: VNI (required), port: 4789, local, remote or group, dev: UNDERLAY, master, mtu, up }.",
        move |name: &str, opts: Map| a.vxlan(NsRef::Host, name, Opts::new("vxlan", opts, VXLAN_OPTS)?));
    let a = api.clone();
    api!(
        engine,
        "vxlan",
        ["ns: Netns", "name: &str", "options: Map", "Link"],
        "Create a VXLAN device inside `ns`; options as for vxlan(name, options).",
        move |ns: Netns, name: &str, opts: Map| a.vxlan(
            ns.0,
            name,
            Opts::new("vxlan", opts, VXLAN_OPTS)?
        )
    );

    let a = api.clone();
    api!(engine, "macvlan", ["name: &str", "options: Map", "Link"],
        "Create a macvlan on a parent link: #{ parent (required), mode: \"bridge\", netns: NS to move it into, up }.",
        move |name: &str, opts: Map| a.macvlan(NsRef::Host, name, Opts::new("macvlan", opts, MACVLAN_OPTS)?));
    let a = api.clone();
    api!(
        engine,
        "macvlan",
        ["ns: Netns", "name: &str", "options: Map", "Link"],
        "Create a macvlan on a parent link inside `ns`; options as for macvlan(name, options).",
        move |ns: Netns, name: &str, opts: Map| a.macvlan(
            ns.0,
            name,
            Opts::new("macvlan", opts, MACVLAN_OPTS)?
        )
    );

    let a = api.clone();
    api!(
        engine,
        "link",
        ["name: &str", "Link"],
        "An existing link in the host namespace, by name.",
        move |name: &str| -> RhaiResult<Link> {
            if !a.dry_run() {
                a.with_kernel(|k| k.link(&NsRef::Host, name))?;
            }
            Ok(Link::new(NsRef::Host, name))
        }
    );
    let a = api.clone();
    api!(
        engine,
        "link",
        ["ns: Netns", "name: &str", "Link"],
        "An existing link in namespace `ns`, by name.",
        move |ns: Netns, name: &str| -> RhaiResult<Link> {
            if !a.dry_run() {
                a.with_kernel(|k| k.link(&ns.0, name))?;
            }
            Ok(Link::new(ns.0, name))
        }
    );

    let a = api.clone();
    api!(
        engine,
        "up",
        ["link: Link", "()"],
        "Bring a link up (`ip link set NAME up`).",
        move |l: Link| a.set(&l, LinkChange::Up)
    );
    let a = api.clone();
    api!(
        engine,
        "down",
        ["link: Link", "()"],
        "Take a link down (`ip link set NAME down`).",
        move |l: Link| a.set(&l, LinkChange::Down)
    );
    let a = api.clone();
    api!(
        engine,
        "set_mtu",
        ["link: Link", "mtu: i64", "()"],
        "Set a link's MTU (`ip link set NAME mtu N`).",
        move |l: Link, mtu: i64| {
            if !(68..=65535).contains(&mtu) {
                return fail(format!("set_mtu(): {mtu} is outside 68..65535"));
            }
            a.set(&l, LinkChange::Mtu(mtu as u32))
        }
    );
    let a = api.clone();
    api!(
        engine,
        "set_mac",
        ["link: Link", "mac: &str", "()"],
        "Set a link's MAC address (`ip link set NAME address MAC`).",
        move |l: Link, mac: &str| {
            crate::kernel::netlink::parse_mac(mac).or_script()?;
            a.set(&l, LinkChange::Mac(mac.to_lowercase()))
        }
    );
    let a = api.clone();
    api!(
        engine,
        "set_master",
        ["link: Link", "master: Link", "()"],
        "Attach a link to a bridge (`ip link set NAME master BR`).",
        move |l: Link, master: Link| {
            if master.ns != l.ns {
                return fail(format!(
                    "set_master(): {} and {} are in different namespaces",
                    l.describe(),
                    master.describe()
                ));
            }
            a.set_master(&l, Some(master.name))
        }
    );
    let a = api.clone();
    api!(
        engine,
        "nomaster",
        ["link: Link", "()"],
        "Detach a link from its bridge (`ip link set NAME nomaster`).",
        move |l: Link| a.set_master(&l, None)
    );
    let a = api.clone();
    api!(engine, "move_to", ["link: Link", "ns: Netns", "Link"],
        "Move a link into another namespace (`ip link set NAME netns NS`); costs the kernel 16-20 ms, so prefer creating it there.",
        move |l: Link, ns: Netns| { let name = l.name.clone(); a.move_link(&l, ns.0, &name) });
    let a = api.clone();
    api!(
        engine,
        "move_to",
        ["link: Link", "ns: Netns", "new_name: &str", "Link"],
        "Move a link into another namespace and rename it (`ip link set NAME netns NS name NEW`).",
        move |l: Link, ns: Netns, new_name: &str| a.move_link(&l, ns.0, new_name)
    );
}

fn register_addressing(engine: &mut Engine, api: &Api) {
    let a = api.clone();
    api!(
        engine,
        "addr",
        ["link: Link", "cidr: &str", "()"],
        "Add an IPv4 or IPv6 address with its prefix length (`ip addr add CIDR dev NAME`).",
        move |l: Link, cidr: &str| a.addr(&l, cidr)
    );
    let a = api.clone();
    api!(engine, "route", ["ns: Netns", "dest: &str", "options: Map", "()"],
        "Add a route in `ns`: dest \"default\" or a prefix, #{ via: GATEWAY, dev: LINK } (`ip route add`).",
        move |ns: Netns, dest: &str, opts: Map| a.route(ns.0, dest, Opts::new("route", opts, &["via", "dev"])?));
    let a = api.clone();
    api!(engine, "sysctl", ["ns: Netns", "key: &str", "value: &str", "()"],
        "Set a network sysctl in `ns` (`sysctl -w net.ipv4.ip_forward=1`); the old value comes back on rollback.",
        move |ns: Netns, key: &str, value: &str| a.sysctl(ns.0, key, value));
    let a = api.clone();
    api!(
        engine,
        "sysctl",
        ["ns: Netns", "key: &str", "value: i64", "()"],
        "Set a network sysctl in `ns` to a number.",
        move |ns: Netns, key: &str, value: i64| a.sysctl(ns.0, key, &value.to_string())
    );
    let a = api.clone();
    api!(
        engine,
        "sysctl_get",
        ["ns: Netns", "key: &str", "String"],
        "Read a network sysctl in `ns`.",
        move |ns: Netns, key: &str| -> RhaiResult<String> {
            if a.dry_run() {
                return Ok(String::new());
            }
            sysctl::get(&ns.0, key).or_script()
        }
    );
}

fn register_processes(engine: &mut Engine, api: &Api) {
    let a = api.clone();
    api!(
        engine,
        "exec_in",
        ["ns: Netns", "argv: Array", "Map"],
        "Run a program in `ns` and wait (30 s limit): #{ code, ok, stdout, stderr, timed_out }.",
        move |ns: Netns, argv: Array| a.exec_in(ns.0, argv, Opts::empty("exec_in"))
    );
    let a = api.clone();
    api!(
        engine,
        "exec_in",
        ["ns: Netns", "argv: Array", "options: Map", "Map"],
        "Run a program in `ns` with #{ timeout: SECONDS, check: true (throw unless it exits 0) }.",
        move |ns: Netns, argv: Array, opts: Map| a.exec_in(
            ns.0,
            argv,
            Opts::new("exec_in", opts, &["timeout", "check"])?
        )
    );
    let a = api.clone();
    api!(
        engine,
        "spawn_in",
        ["ns: Netns", "argv: Array", "()"],
        "Start a background program in `ns` (e.g. a server); it is stopped on rollback.",
        move |ns: Netns, argv: Array| {
            let argv = strings(argv, "spawn_in")?;
            a.apply(Op::Spawn { ns: ns.0, argv })
        }
    );
}

fn register_queries(engine: &mut Engine, api: &Api) {
    let a = api.clone();
    api!(
        engine,
        "links",
        ["ns: Netns", "Array"],
        "The links in `ns`: [#{ index, name, kind, alias, master, up, mtu, mac }].",
        move |ns: Netns| -> RhaiResult<Dynamic> {
            if a.dry_run() {
                return Ok(Dynamic::from(Array::new()));
            }
            to_dynamic(&a.with_kernel(|k| k.links(&ns.0))?)
        }
    );
    let a = api.clone();
    api!(
        engine,
        "addrs",
        ["ns: Netns", "Array"],
        "The addresses in `ns`: [#{ dev, addr }].",
        move |ns: Netns| -> RhaiResult<Dynamic> {
            if a.dry_run() {
                return Ok(Dynamic::from(Array::new()));
            }
            let (links, addrs) = a.with_kernel(|k| Ok((k.links(&ns.0)?, k.addrs(&ns.0)?)))?;
            let list: Vec<Map> = addrs
                .iter()
                .map(|ad| {
                    let mut m = Map::new();
                    let dev = links
                        .iter()
                        .find(|l| l.index == ad.index)
                        .map(|l| l.name.clone())
                        .unwrap_or_default();
                    m.insert("dev".into(), dev.into());
                    m.insert("addr".into(), ad.addr.to_string().into());
                    m
                })
                .collect();
            Ok(list
                .into_iter()
                .map(Dynamic::from_map)
                .collect::<Array>()
                .into())
        }
    );
    let a = api.clone();
    api!(
        engine,
        "routes",
        ["ns: Netns", "Array"],
        "The routes of the main table in `ns`: [#{ dest, via, dev }].",
        move |ns: Netns| -> RhaiResult<Dynamic> {
            if a.dry_run() {
                return Ok(Dynamic::from(Array::new()));
            }
            let (links, routes) = a.with_kernel(|k| Ok((k.links(&ns.0)?, k.routes(&ns.0)?)))?;
            let list: Vec<Map> = routes
                .iter()
                .filter(|r| r.table == 254)
                .map(|r| {
                    let mut m = Map::new();
                    m.insert(
                        "dest".into(),
                        r.dest.map_or("default".into(), |d| d.to_string()).into(),
                    );
                    m.insert(
                        "via".into(),
                        r.via.map_or(Dynamic::UNIT, |v| v.to_string().into()),
                    );
                    let dev = r
                        .dev
                        .and_then(|i| links.iter().find(|l| l.index == i))
                        .map(|l| l.name.clone());
                    m.insert("dev".into(), dev.map_or(Dynamic::UNIT, Dynamic::from));
                    m
                })
                .collect();
            Ok(list
                .into_iter()
                .map(Dynamic::from_map)
                .collect::<Array>()
                .into())
        }
    );
    let a = api.clone();
    api!(
        engine,
        "neighbours",
        ["ns: Netns", "Array"],
        "The neighbour (ARP/NDP) table of `ns`: [#{ index, ip, mac, state }] (`ip neigh`).",
        move |ns: Netns| -> RhaiResult<Dynamic> {
            if a.dry_run() {
                return Ok(Dynamic::from(Array::new()));
            }
            to_dynamic(&a.with_kernel(|k| k.neighbours(&ns.0))?)
        }
    );
}

fn register_utilities(engine: &mut Engine, api: &Api) {
    api!(engine, "cidr_host", ["subnet: &str", "n: i64", "String"],
        "The n-th address of a subnet with its prefix: cidr_host(\"172.18.0.0/16\", 10) is \"172.18.0.10/16\".",
        |subnet: &str, n: i64| -> RhaiResult<String> {
            let net: IpNet = subnet.parse().map_err(|_| script_error(format!("cidr_host(): '{subnet}' is not a subnet like 172.18.0.0/16")))?;
            let net = net.trunc();
            let size_bits = u32::from(net.max_prefix_len() - net.prefix_len());
            let fits = n >= 0 && (size_bits >= 63 || (n as u128) < (1u128 << size_bits));
            if !fits {
                return fail(format!("cidr_host(): {subnet} has no address number {n}"));
            }
            let ip = match net.network() {
                IpAddr::V4(a) => IpAddr::from((u32::from(a) + n as u32).to_be_bytes()),
                IpAddr::V6(a) => IpAddr::from((u128::from(a) + n as u128).to_be_bytes()),
            };
            Ok(format!("{ip}/{}", net.prefix_len()))
        });
    api!(engine, "cidr_size", ["subnet: &str", "i64"],
        "How many addresses a subnet holds, network and broadcast included: cidr_size(\"10.0.0.0/24\") is 256 (at most 2^62).",
        |subnet: &str| -> RhaiResult<i64> {
            let net: IpNet = subnet.parse().map_err(|_| script_error(format!("cidr_size(): '{subnet}' is not a subnet like 172.18.0.0/16")))?;
            let bits = u32::from(net.max_prefix_len() - net.prefix_len()).min(62);
            Ok(1i64 << bits)
        });
    api!(
        engine,
        "cidr_ip",
        ["cidr: &str", "String"],
        "The address part of a CIDR: cidr_ip(\"172.18.0.10/16\") is \"172.18.0.10\".",
        |cidr: &str| -> RhaiResult<String> {
            cidr.parse::<IpNet>()
                .map(|n| n.addr().to_string())
                .map_err(|_| {
                    script_error(format!(
                        "cidr_ip(): '{cidr}' is not an address with a prefix"
                    ))
                })
        }
    );
    let a = api.clone();
    api!(engine, "run_script", ["path: &str", "Dynamic"],
        "Run another script in this run (its changes join this run's journal); the path is relative to the calling script.",
        move |ctx: NativeCallContext, path: &str| a.run_script(&ctx, path, Map::new()));
    let a = api.clone();
    api!(engine, "run_script", ["path: &str", "params: Map", "Dynamic"],
        "run_script() with parameters: the map plays the part of --set for that script (and only for it).",
        move |ctx: NativeCallContext, path: &str, params: Map| a.run_script(&ctx, path, params));
    let a = api.clone();
    api!(
        engine,
        "param",
        ["name: &str", "String"],
        "A required parameter given with --set NAME=VALUE.",
        move |name: &str| -> RhaiResult<String> {
            a.param(name).ok_or_else(|| {
                script_error(format!(
                    "parameter '{name}' is required: pass --set {name}=VALUE"
                ))
            })
        }
    );
    let a = api.clone();
    api!(
        engine,
        "param",
        ["name: &str", "default: &str", "String"],
        "A parameter from --set NAME=VALUE, or `default`.",
        move |name: &str, default: &str| a.param(name).unwrap_or_else(|| default.to_string())
    );
    let a = api.clone();
    api!(
        engine,
        "param",
        ["name: &str", "default: i64", "i64"],
        "An integer parameter from --set NAME=VALUE, or `default`.",
        move |name: &str, default: i64| -> RhaiResult<i64> {
            match a.param(name) {
                None => Ok(default),
                Some(v) => v.trim().parse().map_err(|_| {
                    script_error(format!("parameter '{name}': '{v}' is not an integer"))
                }),
            }
        }
    );
    let a = api.clone();
    api!(
        engine,
        "param",
        ["name: &str", "default: bool", "bool"],
        "A true/false parameter from --set NAME=VALUE, or `default`.",
        move |name: &str, default: bool| -> RhaiResult<bool> {
            match a.param(name).as_deref().map(str::trim) {
                None => Ok(default),
                Some("true" | "yes" | "1" | "on") => Ok(true),
                Some("false" | "no" | "0" | "off") => Ok(false),
                Some(v) => fail(format!("parameter '{name}': '{v}' is not true or false")),
            }
        }
    );
    let a = api.clone();
    api!(
        engine,
        "dry_run",
        ["bool"],
        "True when the run only prints commands (--dry-run).",
        move || a.dry_run()
    );
    api!(
        engine,
        "assert",
        ["condition: bool", "message: &str", "()"],
        "Stop the script with `message` (and roll back) unless `condition` holds.",
        |cond: bool, message: &str| if cond {
            Ok(())
        } else {
            fail(format!("assertion failed: {message}"))
        }
    );
    api!(
        engine,
        "sleep",
        ["seconds: f64", "()"],
        "Pause for a number of seconds.",
        |secs: f64| -> RhaiResult<()> {
            if !(0.0..=3600.0).contains(&secs) {
                return fail(format!("sleep(): {secs} is outside 0..3600 seconds"));
            }
            std::thread::sleep(Duration::from_secs_f64(secs));
            Ok(())
        }
    );
    api!(
        engine,
        "sleep",
        ["seconds: i64", "()"],
        "Pause for a whole number of seconds.",
        |secs: i64| -> RhaiResult<()> {
            if !(0..=3600).contains(&secs) {
                return fail(format!("sleep(): {secs} is outside 0..3600 seconds"));
            }
            std::thread::sleep(Duration::from_secs(secs as u64));
            Ok(())
        }
    );
}
