//! Every use of rtnetlink lives here (its API changes often): the wire code
//! alone. Callers see the contract types of types.rs.

use std::net::IpAddr;
use std::os::fd::{IntoRawFd, OwnedFd};

use crate::error::{Error, Result};
use crate::types::{
    format_mac, parse_mac, AddrInfo, LinkInfo, MacvlanMode, Neighbour, RouteInfo, VxlanSpec,
};
use futures::TryStreamExt;
use ipnet::IpNet;
use rtnetlink::packet_core::ErrorMessage;
use rtnetlink::packet_route::address::{AddressAttribute, AddressFlags, AddressMessage};
use rtnetlink::packet_route::link::{
    InfoBridge, InfoBridgePort, InfoData, InfoKind, InfoMacVlan, InfoPortData, InfoVeth,
    LinkAttribute, LinkExtentMask, LinkFlags, LinkInfo as NlLinkInfo, LinkMessage, MacVlanMode,
};
use rtnetlink::packet_route::neighbour::{NeighbourAddress, NeighbourAttribute, NeighbourState};
use rtnetlink::packet_route::route::{
    RouteAddress, RouteAttribute, RouteMessage, RouteProtocol, RouteType,
};
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::sys::{AsyncSocket, TokioSocket};
use rtnetlink::{
    Handle, LinkBridge, LinkBridgePort, LinkMacVlan, LinkUnspec, LinkVxlan, RouteMessageBuilder,
};

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

fn link_info(msg: LinkMessage) -> LinkInfo {
    let mut info = LinkInfo {
        index: msg.header.index,
        name: String::new(),
        kind: String::new(),
        alias: None,
        master: None,
        link: None,
        hairpin: None,
        up: msg.header.flags.contains(LinkFlags::Up),
        mtu: 0,
        mac: String::new(),
        group: 0,
    };
    for attr in msg.attributes {
        match attr {
            LinkAttribute::IfName(n) => info.name = n,
            LinkAttribute::IfAlias(a) => info.alias = Some(a),
            LinkAttribute::Controller(m) => info.master = Some(m),
            LinkAttribute::Link(l) => info.link = Some(l),
            LinkAttribute::Mtu(m) => info.mtu = m,
            LinkAttribute::Group(g) => info.group = g,
            LinkAttribute::Address(a) => info.mac = format_mac(&a),
            LinkAttribute::LinkInfo(infos) => {
                for i in infos {
                    match i {
                        NlLinkInfo::Kind(k) => info.kind = k.to_string(),
                        NlLinkInfo::PortData(InfoPortData::BridgePort(port)) => {
                            for p in port {
                                if let InfoBridgePort::HairpinMode(on) = p {
                                    info.hairpin = Some(on);
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    info
}

/// Which link to create, at the netlink level (names already resolved to indexes).
pub enum NewLink<'a> {
    Veth {
        peer: &'a str,
        /// Namespace fd the peer is created in (with its final name, in the same request).
        peer_netns: Option<&'a OwnedFd>,
    },
    /// Without multicast snooping while ports join (see Kernel::settle_bridges).
    Bridge { snooping: bool },
    Vxlan {
        spec: &'a VxlanSpec,
        /// The underlay device's index.
        dev: Option<u32>,
    },
    Macvlan {
        parent_index: u32,
        mode: MacvlanMode,
    },
}

/// Settings applied by the request that creates a link (`ip link add NAME
/// mtu M master BR up ...`), so a new link costs one round trip.
#[derive(Clone, Default)]
pub struct NewLinkSettings {
    pub mtu: Option<u32>,
    pub master: Option<u32>,
    /// Up on creation (not for a veth: the kernel refuses to open one end
    /// before the other exists).
    pub up: bool,
    /// A MAC given at creation is the link's own: a bridge keeps it when
    /// ports come and go (one without takes its lowest port's).
    pub mac: Option<Vec<u8>>,
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
        // Up only when asked (LinkBridge::new brings it up).
        NewLink::Bridge { snooping } => rtnetlink::LinkMessageBuilder::<LinkBridge>::new(name)
            .set_info_data(InfoData::Bridge(vec![InfoBridge::MulticastSnooping(
                snooping,
            )]))
            .build(),
        NewLink::Vxlan { spec, dev } => {
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
            if let Some(dev) = dev {
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
    if let Some(mac) = settings.mac {
        msg.attributes.push(LinkAttribute::Address(mac));
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

/// Link queries leave out the counters: plumb never reads them, and they
/// are most of a link's message (a dump of a thousand links is parsed in
/// about half the time without them).
fn without_stats(request: rtnetlink::LinkGetRequest) -> rtnetlink::LinkGetRequest {
    request.set_filter_mask(AddressFamily::Unspec, vec![LinkExtentMask::SkipStats])
}

pub async fn get_link(h: &Handle, name: &str) -> Result<Option<LinkInfo>> {
    let request = h.link().get().match_name(name);
    match without_stats(request).execute().try_next().await {
        Ok(Some(msg)) => Ok(Some(link_info(msg))),
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
    let request = h.link().get().match_index(index);
    match without_stats(request).execute().try_next().await {
        Ok(Some(msg)) => Ok(Some(link_info(msg))),
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
    let msgs: Vec<LinkMessage> = without_stats(h.link().get())
        .execute()
        .try_collect()
        .await
        .map_err(nl("list links"))?;
    Ok(msgs.into_iter().map(link_info).collect())
}

/// One change on an existing link, names resolved (`ip link set ...`).
#[derive(Debug)]
pub enum SetLink<'a> {
    Up,
    Down,
    Mtu(u32),
    Mac(&'a str),
    Alias(&'a str),
    /// None: `nomaster`.
    Master(Option<u32>),
    /// Move to the namespace behind the fd, renaming it (`ip link set A netns NS name B`).
    Netns {
        fd: i32,
        name: &'a str,
    },
    /// A bridge port sending frames back where they came in (`type bridge_slave hairpin on`).
    Hairpin(bool),
    /// `ip link set DEV group N`.
    Group(u32),
}

/// Apply `change` to the link with `index`; `what` names the link for errors.
pub async fn set_link(h: &Handle, index: u32, what: &str, change: SetLink<'_>) -> Result<()> {
    if let SetLink::Hairpin(on) = change {
        // Bridge port settings take RTM_NEWLINK with the port's data.
        return h
            .link()
            .set_port(LinkBridgePort::new(index).hairpin(on).build())
            .execute()
            .await
            .map_err(nl(format!("change {what} (hairpin {on})")));
    }
    let mut b = LinkUnspec::new_with_index(index);
    let context = format!("{change:?}");
    b = match change {
        SetLink::Up => b.up(),
        SetLink::Down => b.down(),
        SetLink::Master(Some(m)) => b.controller(m),
        SetLink::Master(None) => b.nocontroller(),
        SetLink::Mtu(m) => b.mtu(m),
        SetLink::Mac(mac) => b.address(parse_mac(mac)?),
        SetLink::Alias(a) => b.alias(a.to_string()),
        SetLink::Netns { fd, name } => b.setns_by_fd(fd).name(name.to_string()),
        SetLink::Group(g) => b.link_group(g),
        SetLink::Hairpin(_) => unreachable!("sent above as a bridge port change"),
    };
    h.link()
        .set(b.build())
        .execute()
        .await
        .map_err(nl(format!("change {what} ({})", context.to_lowercase())))
}

/// Turn a bridge's multicast snooping on or off (`ip link set NAME type
/// bridge mcast_snooping 1`): bridge settings take RTM_NEWLINK with its data.
pub async fn set_snooping(h: &Handle, index: u32, what: &str, on: bool) -> Result<()> {
    let msg = rtnetlink::LinkMessageBuilder::<LinkBridge>::new_with_info_kind(InfoKind::Bridge)
        .index(index)
        .set_info_data(InfoData::Bridge(vec![InfoBridge::MulticastSnooping(on)]))
        .build();
    h.link().change(msg).execute().await.map_err(nl(format!(
        "change {what} (mcast_snooping {})",
        u8::from(on)
    )))
}

pub async fn delete_link(h: &Handle, index: u32, what: &str) -> Result<()> {
    h.link()
        .del(index)
        .execute()
        .await
        .map_err(nl(format!("delete {what}")))
}

/// `ip link delete group N`: every link in the group, in one unregister
/// batch.
pub async fn delete_group(h: &Handle, group: u32) -> Result<()> {
    let mut request = h.link().del(0);
    request
        .message_mut()
        .attributes
        .push(LinkAttribute::Group(group));
    request
        .execute()
        .await
        .map_err(nl(format!("delete link group {group}")))
}

/// `ip addr add ADDR dev DEV` (IPv4 with its broadcast address; IPv6
/// `nodad`, as Docker adds them: usable at once, not after 2 s of DAD).
pub async fn add_addr(h: &Handle, index: u32, addr: IpNet, what: &str) -> Result<()> {
    let mut request = h.address().add(index, addr.addr(), addr.prefix_len());
    if addr.addr().is_ipv6() {
        request
            .message_mut()
            .attributes
            .push(AddressAttribute::Flags(AddressFlags::Nodad));
    }
    request
        .execute()
        .await
        .map_err(nl(format!("add address {addr} to {what}")))
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

pub async fn del_addr(h: &Handle, index: u32, addr: IpNet, what: &str) -> Result<()> {
    let msgs: Vec<AddressMessage> = h
        .address()
        .get()
        .set_link_index_filter(index)
        .execute()
        .try_collect()
        .await
        .map_err(nl(format!("list the addresses of {what}")))?;
    match msgs.into_iter().find(|m| addr_of(m) == Some(addr)) {
        Some(msg) => h
            .address()
            .del(msg)
            .execute()
            .await
            .map_err(nl(format!("delete address {addr} from {what}"))),
        None => Err(Error::kernel(
            format!("delete address {addr} from {what}"),
            std::io::Error::from_raw_os_error(libc::EADDRNOTAVAIL),
        )),
    }
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
