//! [`Kernel`]: links, addresses, routes and namespaces behind synchronous
//! methods that take names. It keeps one netlink socket per namespace
//! (opened by a short-lived thread inside it) and a current-thread tokio
//! runtime that drives them.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use ipnet::IpNet;
use rtnetlink::Handle;
use tokio::task::JoinHandle;

use crate::error::{Error, Result};
use crate::netlink::{self, SetLink};
use crate::types::{
    validate_ifname, AddrInfo, LinkChange, LinkInfo, LinkKind, LinkSettings, Neighbour, NsRef,
    Route, RouteInfo,
};
use crate::{netns, sysctl};

/// What can be asked of the network without changing it. The kernel answers
/// for real; a dry run answers from what it has printed (see plumb-journal).
pub trait Inspect {
    fn find_link(&self, ns: &NsRef, name: &str) -> Result<Option<LinkInfo>>;
    fn links(&self, ns: &NsRef) -> Result<Vec<LinkInfo>>;
    fn addrs(&self, ns: &NsRef) -> Result<Vec<AddrInfo>>;
    fn routes(&self, ns: &NsRef) -> Result<Vec<RouteInfo>>;
    fn neighbours(&self, ns: &NsRef) -> Result<Vec<Neighbour>>;
    fn sysctl(&self, ns: &NsRef, key: &str) -> Result<String>;
    /// Ok when the namespace exists.
    fn netns_exists(&self, ns: &NsRef) -> Result<()>;
    /// Ok when iptables accepts the rule's words (see firewall::check_syntax).
    fn check_rule(
        &self,
        ns: &NsRef,
        v6: bool,
        table: &str,
        chain: &str,
        words: &[String],
    ) -> Result<()>;

    fn link(&self, ns: &NsRef, name: &str) -> Result<LinkInfo> {
        self.find_link(ns, name)?.ok_or_else(|| Error::NoSuchLink {
            name: name.into(),
            ns: ns.to_string(),
        })
    }
}

struct Connection {
    handle: Handle,
    task: JoinHandle<()>,
}

/// Namespaces whose sockets stay open (besides the host's): a connection
/// holds its read buffers, so one per namespace of a W5000 run cost
/// 60 MiB; a run works in a few namespaces at a time.
const OPEN_NAMESPACES: usize = 32;

pub struct Kernel {
    rt: tokio::runtime::Runtime,
    connections: RefCell<HashMap<NsRef, Connection>>,
    /// The namespaces (not the host) with an open socket, oldest first.
    opened: RefCell<VecDeque<NsRef>>,
    /// Bridges made without multicast snooping, until settle_bridges.
    quiet_bridges: RefCell<Vec<(NsRef, String)>>,
    /// Started by the first namespace a run creates.
    spares: RefCell<Option<netns::SpareMaker>>,
}

/// A device group number in 2^30 .. 2^31 drawn at random (std's hasher
/// keys are random per process).
fn unused_group_seed() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    (h.finish() as u32 % (1 << 30)) + (1 << 30)
}

/// How a link is named in messages: `'veth0' in namespace 'a'`.
fn what(ns: &NsRef, name: &str) -> String {
    match ns {
        NsRef::Host => format!("link '{name}'"),
        other => format!("link '{name}' in {other}"),
    }
}

impl Kernel {
    pub fn new() -> Result<Self> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| Error::io("start the async runtime", e))?;
        Ok(Kernel {
            rt,
            connections: RefCell::new(HashMap::new()),
            opened: RefCell::new(VecDeque::new()),
            quiet_bridges: RefCell::new(Vec::new()),
            spares: RefCell::new(None),
        })
    }

    fn adopt(&self, ns: &NsRef, fd: OwnedFd) -> Result<Handle> {
        let _guard = self.rt.enter();
        let (connection, handle) = netlink::connect(fd)?;
        let task = self.rt.spawn(connection);
        self.connections.borrow_mut().insert(
            ns.clone(),
            Connection {
                handle: handle.clone(),
                task,
            },
        );
        if *ns != NsRef::Host {
            let oldest = {
                let mut opened = self.opened.borrow_mut();
                opened.push_back(ns.clone());
                (opened.len() > OPEN_NAMESPACES)
                    .then(|| opened.pop_front())
                    .flatten()
            };
            if let Some(oldest) = oldest {
                self.forget(&oldest);
            }
        }
        Ok(handle)
    }

    /// The netlink handle bound to `ns`, opening a socket there on first use.
    fn handle(&self, ns: &NsRef) -> Result<Handle> {
        if let Some(c) = self.connections.borrow().get(ns) {
            return Ok(c.handle.clone());
        }
        let fd = netns::in_netns(ns, netlink::open_socket)?;
        self.adopt(ns, fd)
    }

    /// Close the socket bound to `ns`: an open socket would keep a deleted
    /// namespace (and its links) alive.
    pub fn forget(&self, ns: &NsRef) {
        self.opened.borrow_mut().retain(|o| o != ns);
        let closed = self.connections.borrow_mut().remove(ns);
        if let Some(c) = closed {
            drop(c.handle);
            c.task.abort();
            let _ = self.rt.block_on(c.task);
        }
    }

    fn run<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    // ---- namespaces -------------------------------------------------------

    /// `ip netns add NAME`, then lo up and, unless `ipv6`, IPv6 off for every
    /// interface created in it later (Docker's default: no start-up
    /// multicast). Its lo carries `mark` as alias, set before the namespace
    /// gets its name, so plumb tells its namespaces from others' even
    /// without a journal. Returns the inode.
    pub fn create_netns(&self, name: &str, ipv6: bool, mark: &str) -> Result<u64> {
        netns::validate_netns_name(name)?;
        let made = if ipv6 {
            netns::make(true)?
        } else {
            // Spares are made with IPv6 off, ahead of use.
            let mut spares = self.spares.borrow_mut();
            if spares.is_none() {
                *spares = Some(netns::SpareMaker::start()?);
            }
            spares.as_ref().expect("just started").next()?
        };
        let netns::Unnamed { ns, socket } = made;
        let key = NsRef::Named(name.into());
        let h = self.adopt(&key, socket)?;
        let named = self
            .run(netlink::set_by_name(&h, "lo", Some(mark), false))
            .and_then(|()| netns::name(name, &ns, mark));
        if named.is_err() {
            // The socket belongs to a namespace that did not get the name.
            self.forget(&key);
        }
        named
    }

    /// Delete many namespaces at once, on several threads: each unmount
    /// waits for an RCU grace period, and concurrent ones share the wait.
    /// One result per namespace, in order.
    pub fn delete_netns_many(&self, spaces: &[(String, Option<u64>)]) -> Vec<Result<()>> {
        const WORKERS: usize = 8;
        for (name, _) in spaces {
            self.forget(&NsRef::Named(name.clone()));
        }
        let chunk = spaces.len().div_ceil(WORKERS).max(1);
        std::thread::scope(|s| {
            let workers: Vec<_> = spaces
                .chunks(chunk)
                .map(|part| {
                    s.spawn(move || {
                        part.iter()
                            .map(|(name, inode)| netns::delete(name, *inode))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().expect("namespace deletion thread panicked"))
                .collect()
        })
    }

    // ---- links ------------------------------------------------------------

    pub fn link_by_index(&self, ns: &NsRef, index: u32) -> Result<Option<LinkInfo>> {
        let h = self.handle(ns)?;
        self.run(netlink::get_link_by_index(&h, index))
    }

    /// Create a link, already with its MTU, master and up state; then mark
    /// it with `alias` (the kernel ignores an alias in the creating request).
    /// A veth is brought up after creation, both ends, by name. Returns the
    /// new link's index.
    pub fn add_link(
        &self,
        ns: &NsRef,
        name: &str,
        kind: &LinkKind,
        settings: &LinkSettings,
        alias: &str,
    ) -> Result<()> {
        validate_ifname(name)?;
        let h = self.handle(ns)?;
        let request = netlink::NewLinkSettings {
            mtu: settings.mtu,
            master: match &settings.master {
                Some(m) => Some(self.link(ns, m)?.index),
                None => None,
            },
            up: settings.up && kind.up_on_create(),
            mac: settings.mac.as_deref().map(crate::parse_mac).transpose()?,
        };
        self.create_link(&h, ns, name, kind, request)?;
        match kind {
            LinkKind::Veth { peer, peer_netns } if settings.up => {
                // The peer carries the mark too: it finds the pair when the
                // first end was moved away. It comes up first: the first end
                // then comes up with its carrier, one state change instead
                // of two (each walks the host's IPv6 routes; ~25% of a
                // container's build on a big bridge, bench/FLOOR.md).
                let peer_h = self.handle(peer_netns.as_ref().unwrap_or(ns))?;
                self.run(netlink::set_by_name(&peer_h, peer, Some(alias), true))?;
                self.run(netlink::set_by_name(&h, name, Some(alias), true))
            }
            _ => self.run(netlink::set_by_name(&h, name, Some(alias), false)),
        }
    }

    fn create_link(
        &self,
        h: &Handle,
        ns: &NsRef,
        name: &str,
        kind: &LinkKind,
        settings: netlink::NewLinkSettings,
    ) -> Result<()> {
        let new = match kind {
            LinkKind::Veth { peer, peer_netns } => {
                validate_ifname(peer)?;
                let fd = match peer_netns {
                    Some(p) if p != ns => Some(netns::open(p)?),
                    _ => None,
                };
                return self.run(netlink::add_link(
                    h,
                    name,
                    netlink::NewLink::Veth {
                        peer,
                        peer_netns: fd.as_ref(),
                    },
                    settings,
                ));
            }
            LinkKind::Bridge => {
                // Every port that joins a snooping bridge re-arms every
                // port's query timers: O(ports) per join, x1.7 for a
                // thousand (bench/FLOOR.md). Snooping comes on once the
                // ports are in: settle_bridges.
                self.quiet_bridges
                    .borrow_mut()
                    .push((ns.clone(), name.to_string()));
                netlink::NewLink::Bridge { snooping: false }
            }
            LinkKind::Vxlan { spec, dev } => netlink::NewLink::Vxlan {
                spec,
                dev: match dev {
                    Some(d) => Some(self.link(ns, d)?.index),
                    None => None,
                },
            },
            LinkKind::Macvlan { parent, mode } => netlink::NewLink::Macvlan {
                parent_index: self.link(ns, parent)?.index,
                mode: *mode,
            },
        };
        self.run(netlink::add_link(h, name, new, settings))
    }

    /// Turn multicast snooping on (the kernel's default, and the state a
    /// bridge is journaled in) on the bridges made since the last call; one
    /// gone meanwhile is skipped. Called at the end of a run or statement,
    /// and before a program or probe runs.
    pub fn settle_bridges(&self) -> Result<()> {
        let quiet = std::mem::take(&mut *self.quiet_bridges.borrow_mut());
        for (ns, name) in quiet {
            let Some(link) = self.find_link(&ns, &name)? else {
                continue;
            };
            let h = self.handle(&ns)?;
            self.run(netlink::set_snooping(
                &h,
                link.index,
                &what(&ns, &name),
                true,
            ))?;
        }
        Ok(())
    }

    fn set(&self, ns: &NsRef, name: &str, change: SetLink<'_>) -> Result<()> {
        let h = self.handle(ns)?;
        let index = self.link(ns, name)?.index;
        self.run(netlink::set_link(&h, index, &what(ns, name), change))
    }

    pub fn set_link(&self, ns: &NsRef, name: &str, change: &LinkChange) -> Result<()> {
        self.set(
            ns,
            name,
            match change {
                LinkChange::Up => SetLink::Up,
                LinkChange::Down => SetLink::Down,
                LinkChange::Mtu(m) => SetLink::Mtu(*m),
                LinkChange::Mac(mac) => SetLink::Mac(mac),
                LinkChange::Alias(a) => SetLink::Alias(a),
                LinkChange::Hairpin(on) => SetLink::Hairpin(*on),
            },
        )
    }

    /// `ip link set NAME master BR` (None: `nomaster`).
    pub fn set_master(&self, ns: &NsRef, name: &str, master: Option<&str>) -> Result<()> {
        let master = match master {
            Some(m) => Some(self.link(ns, m)?.index),
            None => None,
        };
        self.set(ns, name, SetLink::Master(master))
    }

    /// `ip link set NAME netns TO name NEW_NAME`.
    pub fn move_link(&self, ns: &NsRef, name: &str, to: &NsRef, new_name: &str) -> Result<()> {
        validate_ifname(new_name)?;
        let fd = netns::open(to)?;
        self.set(
            ns,
            name,
            SetLink::Netns {
                fd: fd.as_raw_fd(),
                name: new_name,
            },
        )
    }

    pub fn delete_link(&self, ns: &NsRef, index: u32, name: &str) -> Result<()> {
        let h = self.handle(ns)?;
        self.run(netlink::delete_link(&h, index, &what(ns, name)))
    }

    /// Delete links of `ns` in one request: each `(name, alias)` whose link
    /// carries that alias joins a device group no link of `ns` is in, and
    /// the group is deleted. The kernel then unregisters them in one batch,
    /// with one round of RCU grace periods, where a request per link (or a
    /// bridge alone: 40-80 ms) waits for its own (bench/FLOOR.md). Returns
    /// the names deleted; the rest (gone, renamed, another's) are left to
    /// the caller. A link that joins the group between the choice of the
    /// number and the deletion would go too: the number is drawn at random
    /// among 2^30, from those no link uses.
    pub fn delete_links_together(
        &self,
        ns: &NsRef,
        links: &[(String, String)],
    ) -> Result<Vec<String>> {
        let present = self.links(ns)?;
        let wanted: HashMap<&str, &str> = links
            .iter()
            .map(|(n, a)| (n.as_str(), a.as_str()))
            .collect();
        let ours: Vec<&LinkInfo> = present
            .iter()
            .filter(|l| {
                wanted
                    .get(l.name.as_str())
                    .is_some_and(|&a| l.alias.as_deref() == Some(a))
            })
            .collect();
        if ours.is_empty() {
            return Ok(Vec::new());
        }
        let used: std::collections::HashSet<u32> = present.iter().map(|l| l.group).collect();
        let mut group = unused_group_seed();
        while used.contains(&group) {
            group = (1 << 30) + (group + 1) % (1 << 30);
        }
        let h = self.handle(ns)?;
        let mut joined = Vec::new();
        for link in ours {
            let what = what(ns, &link.name);
            match self.run(netlink::set_link(
                &h,
                link.index,
                &what,
                SetLink::Group(group),
            )) {
                Ok(()) => joined.push(link.name.clone()),
                Err(e) if e.is_already_gone() => {}
                Err(e) => {
                    // Those that joined still go; the rest stay with the caller.
                    if !joined.is_empty() {
                        self.run(netlink::delete_group(&h, group))?;
                    }
                    return Err(e);
                }
            }
        }
        if !joined.is_empty() {
            self.run(netlink::delete_group(&h, group))?;
        }
        Ok(joined)
    }

    /// Wait until none of `names` is left in `ns`: after a namespace is deleted
    /// the kernel removes its links (and their veth peers) asynchronously.
    /// Returns the names still there after `limit`.
    pub fn wait_links_gone(
        &self,
        ns: &NsRef,
        names: &[String],
        limit: Duration,
    ) -> Result<Vec<String>> {
        // One link asked for at a time, until it is gone: a dump of every
        // link per poll cost more than the kernel's own clean-up it waited
        // for (1000 links, polled every 5 ms, on two cores).
        let start = Instant::now();
        let mut nap = Duration::from_micros(500);
        let mut pending: Vec<&String> = names.iter().collect();
        loop {
            while let Some(name) = pending.last() {
                if self.find_link(ns, name)?.is_some() {
                    break;
                }
                pending.pop();
            }
            if pending.is_empty() {
                return Ok(Vec::new());
            }
            if start.elapsed() > limit {
                let mut present = Vec::new();
                for name in pending {
                    if self.find_link(ns, name)?.is_some() {
                        present.push(name.clone());
                    }
                }
                return Ok(present);
            }
            std::thread::sleep(nap);
            nap = (nap * 2).min(Duration::from_millis(5));
        }
    }

    // ---- addresses, routes ------------------------------------------------

    pub fn add_addr(&self, ns: &NsRef, dev: &str, addr: IpNet) -> Result<()> {
        let h = self.handle(ns)?;
        let index = self.link(ns, dev)?.index;
        self.run(netlink::add_addr(&h, index, addr, &what(ns, dev)))
    }

    pub fn del_addr(&self, ns: &NsRef, dev: &str, addr: IpNet) -> Result<()> {
        let h = self.handle(ns)?;
        let index = self.link(ns, dev)?.index;
        self.run(netlink::del_addr(&h, index, addr, &what(ns, dev)))
    }

    fn route_dev(&self, ns: &NsRef, route: &Route) -> Result<Option<u32>> {
        match &route.dev {
            Some(d) => Ok(Some(self.link(ns, d)?.index)),
            None => Ok(None),
        }
    }

    pub fn add_route(&self, ns: &NsRef, route: &Route) -> Result<()> {
        let h = self.handle(ns)?;
        let dev = self.route_dev(ns, route)?;
        self.run(netlink::add_route(&h, route.dest_net(), route.via, dev))
    }

    pub fn del_route(&self, ns: &NsRef, route: &Route) -> Result<()> {
        let h = self.handle(ns)?;
        let dev = self.route_dev(ns, route)?;
        self.run(netlink::del_route(&h, route.dest_net(), route.via, dev))
    }
}

impl Inspect for Kernel {
    fn find_link(&self, ns: &NsRef, name: &str) -> Result<Option<LinkInfo>> {
        let h = self.handle(ns)?;
        self.run(netlink::get_link(&h, name))
    }

    fn links(&self, ns: &NsRef) -> Result<Vec<LinkInfo>> {
        let h = self.handle(ns)?;
        self.run(netlink::links(&h))
    }

    fn addrs(&self, ns: &NsRef) -> Result<Vec<AddrInfo>> {
        let h = self.handle(ns)?;
        self.run(netlink::addrs(&h))
    }

    fn routes(&self, ns: &NsRef) -> Result<Vec<RouteInfo>> {
        let h = self.handle(ns)?;
        let mut all = self.run(netlink::routes(&h, false))?;
        all.extend(self.run(netlink::routes(&h, true))?);
        Ok(all)
    }

    fn neighbours(&self, ns: &NsRef) -> Result<Vec<Neighbour>> {
        let h = self.handle(ns)?;
        self.run(netlink::neighbours(&h))
    }

    fn sysctl(&self, ns: &NsRef, key: &str) -> Result<String> {
        sysctl::get(ns, key)
    }

    fn netns_exists(&self, ns: &NsRef) -> Result<()> {
        netns::inode(ns).map(drop)
    }

    fn check_rule(
        &self,
        ns: &NsRef,
        v6: bool,
        table: &str,
        chain: &str,
        words: &[String],
    ) -> Result<()> {
        crate::firewall::check_syntax(ns, v6, table, chain, words)
    }
}
