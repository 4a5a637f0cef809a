//! Every use of rtnetlink lives here (its API changes often). Callers see plain
//! types: [`LinkInfo`], [`AddrInfo`], [`RouteInfo`], [`Neighbour`].

use std::net::IpAddr;
use std::os::fd::{IntoRawFd, OwnedFd};

use futures::TryStreamExt;
use ipnet::IpNet;
use rtnetlink::packet_core::ErrorMessage;
use rtnetlink::packet_route::address::{AddressAttribute, AddressMessage};
use rtnetlink::packet_route::link::{
    InfoData, InfoKind, InfoMacVlan, InfoVeth, LinkAttribute, LinkFlags, LinkInfo as NlLinkInfo,
    LinkMessage, MacVlanMode,
};
use rtnetlink::packet_route::neighbour::{NeighbourAddress, NeighbourAttribute, NeighbourState};
use rtnetlink::packet_route::route::{
    RouteAddress, RouteAttribute, RouteMessage, RouteProtocol, RouteType,
};
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::sys::{AsyncSocket, TokioSocket};
use rtnetlink::{Handle, LinkBridge, LinkMacVlan, LinkUnspec, LinkVxlan, RouteMessageBuilder};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Opens a NETLINK_ROUTE socket in the calling thread's namespace. The socket
/// stays bound to that namespace wherever it is used afterwards.
pub fn open_socket() -> Result<OwnedFd> {
    let socket = rtnetlink::sys::Socket::new(rtnetlink::sys::protocols::NETLINK_ROUTE)
        .map_err(|e| Error::io("open a netlink socket", e))?;
    // SAFETY: into_raw_fd hands over sole ownership of a valid descriptor.
    Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(socket.into_raw_fd()) })
}

/// Wraps a socket opened by [`open_socket`] into a connection and its handle.
/// Must be called inside the tokio runtime's context.
pub fn connect(
    fd: OwnedFd,
) -> Result<(
    impl std::future::Future<Output = ()> + Send + 'static,
    Handle,
)> {
    // SAFETY: we own `fd`; TokioSocket takes it over.
    let socket: TokioSocket = unsafe { std::os::fd::FromRawFd::from_raw_fd(fd.into_raw_fd()) };
    socket
        .socket_ref()
        .set_non_blocking(true)
        .map_err(|e| Error::io("netlink socket", e))?;
    let (connection, handle, _) = rtnetlink::from_socket(socket);
    Ok((connection, handle))
}

/// Turns a netlink failure into an error carrying the errno and what was being done.
fn nl(context: impl Into<String>) -> impl FnOnce(rtnetlink::Error) -> Error {
    let context = context.into();
    move |e| match e {
        rtnetlink::Error::NetlinkError(ErrorMessage {
            code: Some(code), ..
        }) => Error::kernel(context, std::io::Error::from_raw_os_error(-code.get())),
        other => Error::kernel(context, std::io::Error::other(other.to_string())),
    }
}

/// What the kernel reports about a link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LinkInfo {
    pub index: u32,
    pub name: String,
    pub kind: String,
    pub alias: Option<String>,
    pub master: Option<u32>,
    pub up: bool,
    pub mtu: u32,
    pub mac: String,
}

impl LinkInfo {
    fn from_message(msg: LinkMessage) -> Self {
        let mut info = LinkInfo {
            index: msg.header.index,
            name: String::new(),
            kind: String::new(),
            alias: None,
            master: None,
            up: msg.header.flags.contains(LinkFlags::Up),
            mtu: 0,
            mac: String::new(),
        };
        for attr in msg.attributes {
            match attr {
                LinkAttribute::IfName(n) => info.name = n,
                LinkAttribute::IfAlias(a) => info.alias = Some(a),
                LinkAttribute::Controller(m) => info.master = Some(m),
                LinkAttribute::Mtu(m) => info.mtu = m,
                LinkAttribute::Address(a) => info.mac = format_mac(&a),
                LinkAttribute::LinkInfo(infos) => {
                    for i in infos {
                        if let NlLinkInfo::Kind(k) = i {
                            info.kind = k.to_string();
                        }
                    }
                }
                _ => {}
            }
        }
        info
    }
}

pub fn format_mac(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

pub fn parse_mac(text: &str) -> Result<Vec<u8>> {
    let bytes: Option<Vec<u8>> = text
        .split(':')
        .map(|p| {
            (p.len() == 2)
                .then(|| u8::from_str_radix(p, 16).ok())
                .flatten()
        })
        .collect();
    match bytes {
        Some(b) if b.len() == 6 => Ok(b),
        _ => Err(Error::invalid(
            "MAC address",
            text,
            "expected six hex pairs like 02:42:ac:11:00:02",
        )),
    }
}

/// The macvlan modes `ip link add ... type macvlan mode M` accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MacvlanMode {
    Private,
    Vepa,
    Bridge,
    Passthru,
}

impl MacvlanMode {
    pub fn parse(text: &str) -> Result<Self> {
        Ok(match text {
            "private" => Self::Private,
            "vepa" => Self::Vepa,
            "bridge" => Self::Bridge,
            "passthru" => Self::Passthru,
            _ => {
                return Err(Error::invalid(
                    "macvlan mode",
                    text,
                    "use one of private, vepa, bridge, passthru",
                ))
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Private => "private",
            Self::Vepa => "vepa",
            Self::Bridge => "bridge",
            Self::Passthru => "passthru",
        }
    }
}

/// A VXLAN device's settings (`ip link add NAME type vxlan id ID ...`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VxlanSpec {
    pub id: u32,
    pub port: u16,
    pub local: Option<IpAddr>,
    pub remote: Option<IpAddr>,
    pub group: Option<IpAddr>,
    /// Index of the underlay device, resolved by the caller.
    #[serde(skip)]
    pub dev_index: Option<u32>,
}

/// Which link to create, at the netlink level (names already resolved to indexes).
pub enum NewLink<'a> {
    Veth {
        peer: &'a str,
        /// Namespace fd the peer is created in (with its final name, in the same request).
        peer_netns: Option<&'a OwnedFd>,
    },
    Bridge,
    Vxlan(&'a VxlanSpec),
    Macvlan {
        parent_index: u32,
        mode: MacvlanMode,
    },
}

/// Settings applied by the request that creates a link (`ip link add NAME
/// mtu M master BR up ...`), so a new link costs one round trip.
#[derive(Clone, Copy, Default)]
pub struct NewLinkSettings {
    pub mtu: Option<u32>,
    pub master: Option<u32>,
    /// Up on creation (not for a veth: the kernel refuses to open one end
    /// before the other exists).
    pub up: bool,
}

pub async fn add_link(
    h: &Handle,
    name: &str,
    kind: NewLink<'_>,
    settings: NewLinkSettings,
) -> Result<()> {
    use std::os::fd::AsRawFd;
    let mtu = settings.mtu;
    let builder = match kind {
        NewLink::Veth { peer, peer_netns } => {
            let mut peer_msg = LinkUnspec::new_with_name(peer);
            if let Some(fd) = peer_netns {
                peer_msg = peer_msg.setns_by_fd(fd.as_raw_fd());
            }
            if let Some(mtu) = mtu {
                peer_msg = peer_msg.mtu(mtu);
            }
            rtnetlink::LinkMessageBuilder::<rtnetlink::LinkVeth>::new_with_info_kind(InfoKind::Veth)
                .name(name.to_string())
                .set_info_data(InfoData::Veth(InfoVeth::Peer(peer_msg.build())))
                .build()
        }
        NewLink::Bridge => LinkBridge::new(name).build(),
        NewLink::Vxlan(spec) => {
            let mut b = LinkVxlan::new(name, spec.id).port(spec.port);
            match spec.local {
                Some(IpAddr::V4(a)) => b = b.local(a),
                Some(IpAddr::V6(a)) => b = b.local6(a),
                None => {}
            }
            match spec.remote {
                Some(IpAddr::V4(a)) => b = b.remote(a),
                Some(IpAddr::V6(a)) => b = b.remote6(a),
                None => {}
            }
            match spec.group {
                Some(IpAddr::V4(a)) => b = b.group(a),
                Some(IpAddr::V6(a)) => b = b.group6(a),
                None => {}
            }
            if let Some(dev) = spec.dev_index {
                b = b.dev(dev);
            }
            b.build()
        }
        NewLink::Macvlan { parent_index, mode } => {
            let mode = match mode {
                MacvlanMode::Private => MacVlanMode::Private,
                MacvlanMode::Vepa => MacVlanMode::Vepa,
                MacvlanMode::Bridge => MacVlanMode::Bridge,
                MacvlanMode::Passthru => MacVlanMode::Passthrough,
            };
            rtnetlink::LinkMessageBuilder::<LinkMacVlan>::new(name)
                .link(parent_index)
                .set_info_data(InfoData::MacVlan(vec![InfoMacVlan::Mode(mode)]))
                .build()
        }
    };
    let mut msg = builder;
    if let Some(mtu) = mtu {
        msg.attributes.push(LinkAttribute::Mtu(mtu));
    }
    if let Some(master) = settings.master {
        msg.attributes.push(LinkAttribute::Controller(master));
    }
    if settings.up {
        msg.header.flags |= LinkFlags::Up;
        msg.header.change_mask |= LinkFlags::Up;
    }
    h.link()
        .add(msg)
        .execute()
        .await
        .map_err(nl(format!("create link '{name}'")))
}

/// Set a link's alias and/or bring it up, naming the link instead of its
/// index: one round trip, no lookup.
pub async fn set_by_name(h: &Handle, name: &str, alias: Option<&str>, up: bool) -> Result<()> {
    let mut b = LinkUnspec::new_with_name(name);
    if let Some(alias) = alias {
        b = b.alias(alias);
    }
    if up {
        b = b.up();
    }
    h.link()
        .set(b.build())
        .execute()
        .await
        .map_err(nl(format!("set up link '{name}'")))
}

pub async fn get_link(h: &Handle, name: &str) -> Result<Option<LinkInfo>> {
    match h.link().get().match_name(name).execute().try_next().await {
        Ok(Some(msg)) => Ok(Some(LinkInfo::from_message(msg))),
        Ok(None) => Ok(None),
        Err(rtnetlink::Error::NetlinkError(ErrorMessage { code: Some(c), .. }))
            if -c.get() == libc::ENODEV =>
        {
            Ok(None)
        }
        Err(e) => Err(nl(format!("look up link '{name}'"))(e)),
    }
}

pub async fn get_link_by_index(h: &Handle, index: u32) -> Result<Option<LinkInfo>> {
    match h.link().get().match_index(index).execute().try_next().await {
        Ok(Some(msg)) => Ok(Some(LinkInfo::from_message(msg))),
        Ok(None) => Ok(None),
        Err(rtnetlink::Error::NetlinkError(ErrorMessage { code: Some(c), .. }))
            if -c.get() == libc::ENODEV =>
        {
            Ok(None)
        }
        Err(e) => Err(nl(format!("look up link #{index}"))(e)),
    }
}

pub async fn links(h: &Handle) -> Result<Vec<LinkInfo>> {
    let msgs: Vec<LinkMessage> = h
        .link()
        .get()
        .execute()
        .try_collect()
        .await
        .map_err(nl("list links"))?;
    Ok(msgs.into_iter().map(LinkInfo::from_message).collect())
}

/// One attribute change on an existing link (`ip link set ...`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkChange {
    Up,
    Down,
    /// None: `nomaster`.
    Master(Option<u32>),
    Mtu(u32),
    Mac(String),
    Alias(String),
    /// Move to the namespace behind the fd, renaming it (`ip link set A netns NS name B`).
    #[serde(skip)]
    Netns {
        fd: i32,
        name: String,
    },
}

pub async fn set_link(h: &Handle, index: u32, change: &LinkChange) -> Result<()> {
    let mut b = LinkUnspec::new_with_index(index);
    b = match change {
        LinkChange::Up => b.up(),
        LinkChange::Down => b.down(),
        LinkChange::Master(Some(m)) => b.controller(*m),
        LinkChange::Master(None) => b.nocontroller(),
        LinkChange::Mtu(m) => b.mtu(*m),
        LinkChange::Mac(mac) => b.address(parse_mac(mac)?),
        LinkChange::Alias(a) => b.alias(a.clone()),
        LinkChange::Netns { fd, name } => b.setns_by_fd(*fd).name(name.clone()),
    };
    h.link()
        .set(b.build())
        .execute()
        .await
        .map_err(nl(format!("change link #{index}: {change:?}")))
}

pub async fn delete_link(h: &Handle, index: u32) -> Result<()> {
    h.link()
        .del(index)
        .execute()
        .await
        .map_err(nl(format!("delete link #{index}")))
}

/// An address on a link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AddrInfo {
    pub index: u32,
    pub addr: IpNet,
}

pub async fn add_addr(h: &Handle, index: u32, addr: IpNet) -> Result<()> {
    h.address()
        .add(index, addr.addr(), addr.prefix_len())
        .execute()
        .await
        .map_err(nl(format!("add address {addr} to link #{index}")))
}

fn addr_of(msg: &AddressMessage) -> Option<IpNet> {
    // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer's on
    // point-to-point links, so prefer LOCAL.
    let mut found = None;
    for attr in &msg.attributes {
        match attr {
            AddressAttribute::Local(a) => return IpNet::new(*a, msg.header.prefix_len).ok(),
            AddressAttribute::Address(a) => found = IpNet::new(*a, msg.header.prefix_len).ok(),
            _ => {}
        }
    }
    found
}

pub async fn addrs(h: &Handle) -> Result<Vec<AddrInfo>> {
    let msgs: Vec<AddressMessage> = h
        .address()
        .get()
        .execute()
        .try_collect()
        .await
        .map_err(nl("list addresses"))?;
    Ok(msgs
        .iter()
        .filter_map(|m| {
            addr_of(m).map(|addr| AddrInfo {
                index: m.header.index,
                addr,
            })
        })
        .collect())
}

pub async fn del_addr(h: &Handle, index: u32, addr: IpNet) -> Result<()> {
    let msgs: Vec<AddressMessage> = h
        .address()
        .get()
        .set_link_index_filter(index)
        .execute()
        .try_collect()
        .await
        .map_err(nl(format!("list addresses of link #{index}")))?;
    match msgs.into_iter().find(|m| addr_of(m) == Some(addr)) {
        Some(msg) => h
            .address()
            .del(msg)
            .execute()
            .await
            .map_err(nl(format!("delete address {addr} from link #{index}"))),
        None => Err(Error::kernel(
            format!("delete address {addr} from link #{index}"),
            std::io::Error::from_raw_os_error(libc::EADDRNOTAVAIL),
        )),
    }
}

/// A route as plumb creates it: `ip route add DEST [via GW] [dev DEV]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RouteInfo {
    /// None for the default route.
    pub dest: Option<IpNet>,
    pub via: Option<IpAddr>,
    pub dev: Option<u32>,
    pub table: u32,
}

fn route_message(dest: IpNet, via: Option<IpAddr>, dev: Option<u32>) -> Result<RouteMessage> {
    let text = || format!("{dest}");
    // Routes carry `proto boot`, as `ip route add` makes them.
    let mut b = RouteMessageBuilder::<IpAddr>::new()
        .protocol(RouteProtocol::Boot)
        .destination_prefix(dest.addr(), dest.prefix_len())
        .map_err(|e| Error::invalid("route destination", text(), e.to_string()))?;
    if let Some(gw) = via {
        b = b
            .gateway(gw)
            .map_err(|e| Error::invalid("gateway", gw.to_string(), e.to_string()))?;
    }
    if let Some(index) = dev {
        b = b.output_interface(index);
    }
    Ok(b.build())
}

pub async fn add_route(
    h: &Handle,
    dest: IpNet,
    via: Option<IpAddr>,
    dev: Option<u32>,
) -> Result<()> {
    h.route()
        .add(route_message(dest, via, dev)?)
        .execute()
        .await
        .map_err(nl(format!("add route {dest}")))
}

pub async fn del_route(
    h: &Handle,
    dest: IpNet,
    via: Option<IpAddr>,
    dev: Option<u32>,
) -> Result<()> {
    h.route()
        .del(route_message(dest, via, dev)?)
        .execute()
        .await
        .map_err(nl(format!("delete route {dest}")))
}

pub async fn routes(h: &Handle, v6: bool) -> Result<Vec<RouteInfo>> {
    let filter = if v6 {
        RouteMessageBuilder::<std::net::Ipv6Addr>::new().build()
    } else {
        RouteMessageBuilder::<std::net::Ipv4Addr>::new().build()
    };
    let msgs: Vec<RouteMessage> = h
        .route()
        .get(filter)
        .execute()
        .try_collect()
        .await
        .map_err(nl("list routes"))?;
    Ok(msgs
        .into_iter()
        .filter(|m| m.header.kind == RouteType::Unicast)
        .map(|m| {
            let mut info = RouteInfo {
                dest: None,
                via: None,
                dev: None,
                table: m.header.table as u32,
            };
            let prefix = m.header.destination_prefix_length;
            for attr in &m.attributes {
                match attr {
                    RouteAttribute::Destination(a) => {
                        info.dest = route_addr(a).and_then(|a| IpNet::new(a, prefix).ok())
                    }
                    RouteAttribute::Gateway(a) => info.via = route_addr(a),
                    RouteAttribute::Oif(i) => info.dev = Some(*i),
                    RouteAttribute::Table(t) => info.table = *t,
                    _ => {}
                }
            }
            info
        })
        .collect())
}

fn route_addr(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(a) => Some(IpAddr::V4(*a)),
        RouteAddress::Inet6(a) => Some(IpAddr::V6(*a)),
        _ => None,
    }
}

/// An entry of the neighbour (ARP/NDP) table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Neighbour {
    pub index: u32,
    pub ip: IpAddr,
    pub mac: String,
    pub state: String,
}

pub async fn neighbours(h: &Handle) -> Result<Vec<Neighbour>> {
    let msgs: Vec<_> = h
        .neighbours()
        .get()
        .execute()
        .try_collect()
        .await
        .map_err(nl("list neighbours"))?;
    Ok(msgs
        .into_iter()
        .filter(|m| matches!(m.header.family, AddressFamily::Inet | AddressFamily::Inet6))
        .filter_map(|m| {
            let mut ip = None;
            let mut mac = String::new();
            for attr in &m.attributes {
                match attr {
                    NeighbourAttribute::Destination(NeighbourAddress::Inet(a)) => {
                        ip = Some(IpAddr::V4(*a))
                    }
                    NeighbourAttribute::Destination(NeighbourAddress::Inet6(a)) => {
                        ip = Some(IpAddr::V6(*a))
                    }
                    NeighbourAttribute::LinkLayerAddress(l) => mac = format_mac(l),
                    _ => {}
                }
            }
            let state = match m.header.state {
                NeighbourState::Reachable => "reachable",
                NeighbourState::Stale => "stale",
                NeighbourState::Delay => "delay",
                NeighbourState::Probe => "probe",
                NeighbourState::Failed => "failed",
                NeighbourState::Incomplete => "incomplete",
                NeighbourState::Permanent => "permanent",
                NeighbourState::Noarp => "noarp",
                _ => "other",
            };
            ip.map(|ip| Neighbour {
                index: m.header.ifindex,
                ip,
                mac,
                state: state.into(),
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_round_trips_and_rejects_junk() {
        let mac = parse_mac("02:42:ac:11:00:02").unwrap();
        assert_eq!(format_mac(&mac), "02:42:ac:11:00:02");
        for bad in [
            "02:42:ac:11:00",
            "zz:42:ac:11:00:02",
            "0242ac110002",
            "2:42:ac:11:00:02",
        ] {
            assert!(parse_mac(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn macvlan_modes_parse() {
        assert_eq!(MacvlanMode::parse("bridge").unwrap(), MacvlanMode::Bridge);
        let err = MacvlanMode::parse("bogus").unwrap_err().to_string();
        assert!(err.contains("use one of"), "{err}");
    }
}
