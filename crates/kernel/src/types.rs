//! The contract types: what callers ask of the kernel and what it reports.
//! The journal writes the request types to disk, so their serde form is
//! stable; nothing here depends on netlink's own types (see netlink.rs).

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The routing table `ip route` shows by default.
pub const MAIN_TABLE: u32 = 254;

/// Which network namespace an object lives in.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NsRef {
    /// The namespace plumb itself runs in (in `--sandbox`, the sandbox's).
    Host,
    /// A namespace under /run/netns.
    Named(String),
    /// The namespace of a running process, e.g. a Docker container's.
    Pid(u32),
    /// A namespace file anywhere (a container runtime's `/run/netns/...`,
    /// `/proc/PID/ns/net`): plumb never deletes one of these.
    Path(PathBuf),
}

impl fmt::Display for NsRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NsRef::Host => write!(f, "the host namespace"),
            NsRef::Named(name) => write!(f, "namespace '{name}'"),
            NsRef::Pid(pid) => write!(f, "the namespace of pid {pid}"),
            NsRef::Path(path) => write!(f, "the namespace at {}", path.display()),
        }
    }
}

impl NsRef {
    /// How scripts and tables name it: `host`, `netns0`, `pid:42`, or the path.
    pub fn short_name(&self) -> String {
        match self {
            NsRef::Host => "host".into(),
            NsRef::Named(n) => n.clone(),
            NsRef::Pid(p) => format!("pid:{p}"),
            NsRef::Path(p) => p.display().to_string(),
        }
    }
}

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
    /// Its MAC address (`address` of `ip link add`); None: the kernel's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
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

    /// The kind as the kernel reports it (`ip -d link`'s word).
    pub fn kernel_name(&self) -> &'static str {
        match self {
            LinkKind::Veth { .. } => "veth",
            LinkKind::Bridge => "bridge",
            LinkKind::Vxlan { .. } => "vxlan",
            LinkKind::Macvlan { .. } => "macvlan",
        }
    }

    /// Other links (in the link's own namespace) this one is built on.
    pub fn depends_on(&self) -> Option<&str> {
        match self {
            LinkKind::Vxlan { dev, .. } => dev.as_deref(),
            LinkKind::Macvlan { parent, .. } => Some(parent),
            LinkKind::Veth { .. } | LinkKind::Bridge => None,
        }
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
}

/// One attribute change on an existing link (`ip link set NAME ...`).
/// Master and namespace changes are ops of their own (they need names
/// resolved and undo of their own).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkChange {
    Up,
    Down,
    Mtu(u32),
    Mac(String),
    Alias(String),
    /// A bridge port that sends frames back out where they came in: a
    /// container reaching its own published port through the host needs it.
    Hairpin(bool),
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
}

/// What the kernel reports about a link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LinkInfo {
    pub index: u32,
    pub name: String,
    pub kind: String,
    pub alias: Option<String>,
    pub master: Option<u32>,
    /// The link this one is built on or paired with (a veth's peer, a
    /// macvlan's parent), by index, possibly in another namespace.
    pub link: Option<u32>,
    /// A bridge port's hairpin mode.
    pub hairpin: Option<bool>,
    pub up: bool,
    pub mtu: u32,
    pub mac: String,
    /// Its device group (`ip link set DEV group N`; 0 is the default).
    pub group: u32,
}

/// An address on a link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AddrInfo {
    pub index: u32,
    pub addr: IpNet,
}

/// A route as the kernel reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RouteInfo {
    /// None for the default route.
    pub dest: Option<IpNet>,
    pub via: Option<IpAddr>,
    pub dev: Option<u32>,
    pub table: u32,
}

/// An entry of the neighbour (ARP/NDP) table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Neighbour {
    pub index: u32,
    pub ip: IpAddr,
    pub mac: String,
    pub state: String,
}

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
    fn default_routes_take_the_gateway_family() {
        let r = Route {
            dest: None,
            via: Some("172.18.0.1".parse().unwrap()),
            dev: None,
        };
        assert_eq!(r.dest_net().to_string(), "0.0.0.0/0");
        let r6 = Route {
            dest: None,
            via: Some("fd00::1".parse().unwrap()),
            dev: Some("eth0".into()),
        };
        assert_eq!(r6.dest_net().to_string(), "::/0");
    }

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
