//! The kernel-facing layer: namespaces, links, addresses, routes, sysctls,
//! processes and firewall rules. It knows nothing of Rhai or of the journal.
//!
//! [`Kernel`] keeps one netlink socket per namespace (opened by a short-lived
//! thread inside it) and a current-thread tokio runtime that drives them;
//! its methods are synchronous and take names, resolving them to indexes.

pub mod firewall;
pub mod netlink;
pub mod netns;
pub mod probe;
pub mod process;
pub mod sysctl;

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::IpAddr;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use ipnet::IpNet;
use rtnetlink::Handle;
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

/// What a new link is created with, beyond its kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkSettings {
    pub mtu: Option<u32>,
    /// A bridge (in the same namespace) to attach it to.
    #[serde(default)]
    pub master: Option<String>,
    /// Bring it up (a veth: both ends).
    #[serde(default)]
    pub up: bool,
}

pub use netlink::{AddrInfo, LinkChange, LinkInfo, MacvlanMode, Neighbour, RouteInfo, VxlanSpec};
pub use netns::NsRef;

use crate::error::{Error, Result};

/// Interface names are at most 15 bytes (IFNAMSIZ - 1 in the kernel).
pub const MAX_IFNAME: usize = 15;

pub fn validate_ifname(name: &str) -> Result<()> {
    let why = if name.is_empty() {
        "it is empty"
    } else if name.len() > MAX_IFNAME {
        "interface names are limited to 15 bytes by the kernel"
    } else if name == "." || name == ".." {
        "'.' and '..' are not interface names"
    } else if name
        .chars()
        .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
    {
        "it may not contain '/', ':' or white space"
    } else {
        return Ok(());
    };
    Err(Error::invalid("interface name", name, why))
}

/// What kind of link to create, by name (as journaled and as `ip link add` reads).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum LinkKind {
    Veth {
        peer: String,
        /// Where the peer is created; None: beside the link.
        peer_netns: Option<NsRef>,
    },
    Bridge,
    Vxlan {
        #[serde(flatten)]
        spec: VxlanSpec,
        dev: Option<String>,
    },
    Macvlan {
        parent: String,
        mode: MacvlanMode,
    },
}

impl LinkKind {
    /// Can the creating request already bring it up? Not a veth: the kernel
    /// opens one end only once the other exists (ENOTCONN), so its ends are
    /// brought up after creation.
    pub fn up_on_create(&self) -> bool {
        !matches!(self, LinkKind::Veth { .. })
    }
}

/// A route as `ip route add DEST [via GW] [dev DEV]` states it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// None: the default route.
    pub dest: Option<IpNet>,
    pub via: Option<IpAddr>,
    pub dev: Option<String>,
}

impl Route {
    pub fn is_v6(&self) -> bool {
        match (&self.dest, &self.via) {
            (Some(d), _) => matches!(d, IpNet::V6(_)),
            (None, Some(gw)) => gw.is_ipv6(),
            (None, None) => false,
        }
    }

    /// The destination as a prefix (`default` is 0.0.0.0/0 or ::/0).
    pub fn dest_net(&self) -> IpNet {
        match self.dest {
            Some(d) => d,
            None if self.is_v6() => "::/0".parse().expect("valid"),
            None => "0.0.0.0/0".parse().expect("valid"),
        }
    }

    /// `default via 10.0.0.1` / `10.1.0.0/16 dev br0`, as `ip route` prints it.
    pub fn describe(&self) -> String {
        let mut s = match self.dest {
            Some(d) => d.to_string(),
            None => "default".into(),
        };
        if let Some(gw) = self.via {
            s += &format!(" via {gw}");
        }
        if let Some(dev) = &self.dev {
            s += &format!(" dev {dev}");
        }
        s
    }
}

struct Connection {
    handle: Handle,
    task: JoinHandle<()>,
}

pub struct Kernel {
    rt: tokio::runtime::Runtime,
    connections: RefCell<HashMap<NsRef, Connection>>,
    /// Started by the first namespace a run creates.
    spares: RefCell<Option<netns::SpareMaker>>,
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
    fn forget(&self, ns: &NsRef) {
        if let Some(c) = self.connections.borrow_mut().remove(ns) {
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
    /// interface created in it later (Docker's default: no start-up multicast).
    /// Returns the namespace's inode.
    pub fn create_netns(&self, name: &str, ipv6: bool) -> Result<u64> {
        let (inode, socket) = if ipv6 {
            netns::create(name, true)?
        } else {
            // Spares are made with IPv6 off, ahead of use.
            let mut spares = self.spares.borrow_mut();
            if spares.is_none() {
                *spares = Some(netns::SpareMaker::start()?);
            }
            spares.as_ref().expect("just started").take(name)?
        };
        self.adopt(&NsRef::Named(name.into()), socket)?;
        Ok(inode)
    }

    pub fn delete_netns(&self, name: &str, expect_inode: Option<u64>) -> Result<()> {
        self.forget(&NsRef::Named(name.into()));
        netns::delete(name, expect_inode)
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

    pub fn find_link(&self, ns: &NsRef, name: &str) -> Result<Option<LinkInfo>> {
        let h = self.handle(ns)?;
        self.run(netlink::get_link(&h, name))
    }

    pub fn link(&self, ns: &NsRef, name: &str) -> Result<LinkInfo> {
        self.find_link(ns, name)?.ok_or_else(|| Error::NoSuchLink {
            name: name.into(),
            ns: ns.to_string(),
        })
    }

    pub fn link_by_index(&self, ns: &NsRef, index: u32) -> Result<Option<LinkInfo>> {
        let h = self.handle(ns)?;
        self.run(netlink::get_link_by_index(&h, index))
    }

    pub fn links(&self, ns: &NsRef) -> Result<Vec<LinkInfo>> {
        let h = self.handle(ns)?;
        self.run(netlink::links(&h))
    }

    /// Create a link, already with its MTU, master and up state; then mark
    /// it with `alias` (the kernel ignores an alias in the creating request).
    /// A veth is brought up after creation, both ends, by name.
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
        };
        self.create_link(&h, ns, name, kind, request)?;
        match kind {
            LinkKind::Veth { peer, peer_netns } if settings.up => {
                self.run(netlink::set_by_name(&h, name, Some(alias), true))?;
                let peer_h = self.handle(peer_netns.as_ref().unwrap_or(ns))?;
                self.run(netlink::set_by_name(&peer_h, peer, None, true))
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
        match kind {
            LinkKind::Veth { peer, peer_netns } => {
                validate_ifname(peer)?;
                let fd = match peer_netns {
                    Some(p) if p != ns => Some(p.open()?),
                    _ => None,
                };
                self.run(netlink::add_link(
                    h,
                    name,
                    netlink::NewLink::Veth {
                        peer,
                        peer_netns: fd.as_ref(),
                    },
                    settings,
                ))
            }
            LinkKind::Bridge => self.run(netlink::add_link(
                h,
                name,
                netlink::NewLink::Bridge,
                settings,
            )),
            LinkKind::Vxlan { spec, dev } => {
                let mut spec = spec.clone();
                if let Some(dev) = dev {
                    spec.dev_index = Some(self.link(ns, dev)?.index);
                }
                self.run(netlink::add_link(
                    h,
                    name,
                    netlink::NewLink::Vxlan(&spec),
                    settings,
                ))
            }
            LinkKind::Macvlan { parent, mode } => {
                let parent_index = self.link(ns, parent)?.index;
                self.run(netlink::add_link(
                    h,
                    name,
                    netlink::NewLink::Macvlan {
                        parent_index,
                        mode: *mode,
                    },
                    settings,
                ))
            }
        }
    }

    pub fn set_link(&self, ns: &NsRef, name: &str, change: &LinkChange) -> Result<()> {
        let h = self.handle(ns)?;
        let index = self.link(ns, name)?.index;
        self.run(netlink::set_link(&h, index, change))
    }

    /// `ip link set NAME master BR` (None: `nomaster`).
    pub fn set_master(&self, ns: &NsRef, name: &str, master: Option<&str>) -> Result<()> {
        let master = match master {
            Some(m) => Some(self.link(ns, m)?.index),
            None => None,
        };
        self.set_link(ns, name, &LinkChange::Master(master))
    }

    /// `ip link set NAME netns TO name NEW_NAME`.
    pub fn move_link(&self, ns: &NsRef, name: &str, to: &NsRef, new_name: &str) -> Result<()> {
        validate_ifname(new_name)?;
        let fd = to.open()?;
        use std::os::fd::AsRawFd;
        self.set_link(
            ns,
            name,
            &LinkChange::Netns {
                fd: fd.as_raw_fd(),
                name: new_name.into(),
            },
        )
    }

    pub fn delete_link(&self, ns: &NsRef, index: u32) -> Result<()> {
        let h = self.handle(ns)?;
        self.run(netlink::delete_link(&h, index))
    }

    /// Wait until none of `names` is left in `ns`: after a namespace is deleted
    /// the kernel removes its links (and their veth peers) asynchronously.
    pub fn wait_links_gone(&self, ns: &NsRef, names: &[String], limit: Duration) -> Result<()> {
        let start = Instant::now();
        let mut nap = Duration::from_micros(500);
        loop {
            let present: Vec<String> = self
                .links(ns)?
                .into_iter()
                .map(|l| l.name)
                .filter(|n| names.contains(n))
                .collect();
            if present.is_empty() {
                return Ok(());
            }
            if start.elapsed() > limit {
                return Err(Error::Journal(format!(
                    "links still present in {ns} after {limit:?}: {}",
                    present.join(", ")
                )));
            }
            std::thread::sleep(nap);
            nap = (nap * 2).min(Duration::from_millis(5));
        }
    }

    // ---- addresses, routes, neighbours ------------------------------------

    pub fn add_addr(&self, ns: &NsRef, dev: &str, addr: IpNet) -> Result<()> {
        let h = self.handle(ns)?;
        let index = self.link(ns, dev)?.index;
        self.run(netlink::add_addr(&h, index, addr))
    }

    pub fn del_addr(&self, ns: &NsRef, dev: &str, addr: IpNet) -> Result<()> {
        let h = self.handle(ns)?;
        let index = self.link(ns, dev)?.index;
        self.run(netlink::del_addr(&h, index, addr))
    }

    pub fn addrs(&self, ns: &NsRef) -> Result<Vec<AddrInfo>> {
        let h = self.handle(ns)?;
        self.run(netlink::addrs(&h))
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

    pub fn routes(&self, ns: &NsRef) -> Result<Vec<RouteInfo>> {
        let h = self.handle(ns)?;
        let mut all = self.run(netlink::routes(&h, false))?;
        all.extend(self.run(netlink::routes(&h, true))?);
        Ok(all)
    }

    pub fn neighbours(&self, ns: &NsRef) -> Result<Vec<Neighbour>> {
        let h = self.handle(ns)?;
        self.run(netlink::neighbours(&h))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names_follow_the_kernel_limit() {
        assert!(validate_ifname("veth0").is_ok());
        assert!(validate_ifname("fifteen-chars-x").is_ok());
        let err = validate_ifname("sixteen-chars-xx").unwrap_err().to_string();
        assert!(err.contains("15 bytes"), "{err}");
        for bad in ["", "a/b", "a b", "eth0:1", ".."] {
            assert!(validate_ifname(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn routes_describe_themselves_like_ip_route() {
        let r = Route {
            dest: None,
            via: Some("172.18.0.1".parse().unwrap()),
            dev: None,
        };
        assert_eq!(r.describe(), "default via 172.18.0.1");
        assert_eq!(r.dest_net().to_string(), "0.0.0.0/0");
        let r6 = Route {
            dest: None,
            via: Some("fd00::1".parse().unwrap()),
            dev: Some("eth0".into()),
        };
        assert_eq!(r6.dest_net().to_string(), "::/0");
        assert_eq!(r6.describe(), "default via fd00::1 dev eth0");
    }
}
