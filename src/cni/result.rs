//! The result an ADD answers: derived from what the script built in the
//! container's namespace (its interfaces, addresses, routes), with what the
//! script set itself (cni_result()) on top, printed in the cniVersion the
//! runtime asked for. Plain functions: no kernel here.

use std::net::IpAddr;

use ipnet::IpNet;
use serde_json::{json, Map, Value};

use plumb_kernel::{AddrInfo, LinkInfo, RouteInfo, MAIN_TABLE};

/// The spec versions plumb speaks (VERSION's answer).
pub const SUPPORTED: &[&str] = &["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];

/// What the container's namespace holds, as a CNI result.
#[derive(Debug, Default, PartialEq)]
pub struct Result {
    pub interfaces: Vec<Interface>,
    pub ips: Vec<Ip>,
    pub routes: Vec<Route>,
}

#[derive(Debug, PartialEq)]
pub struct Interface {
    pub name: String,
    pub mac: String,
    pub sandbox: String,
}

#[derive(Debug, PartialEq)]
pub struct Ip {
    pub address: IpNet,
    pub gateway: Option<IpAddr>,
    /// Index into the interfaces.
    pub interface: usize,
}

#[derive(Debug, PartialEq)]
pub struct Route {
    pub dst: IpNet,
    pub gw: Option<IpAddr>,
}

fn link_local(a: &IpNet) -> bool {
    match a {
        IpNet::V4(n) => n.addr().is_link_local(),
        IpNet::V6(n) => n.addr().segments()[0] & 0xffc0 == 0xfe80,
    }
}

/// The result from the container namespace's links, addresses and routes:
/// its interfaces (`ifname` first, lo left out) with MAC and sandbox path,
/// their addresses (not link-local) with the gateway of their family's
/// default route, and the routes through a gateway.
pub fn derive(
    sandbox: &str,
    ifname: &str,
    links: &[LinkInfo],
    addrs: &[AddrInfo],
    routes: &[RouteInfo],
) -> Result {
    let mut own: Vec<&LinkInfo> = links.iter().filter(|l| l.name != "lo").collect();
    own.sort_by_key(|l| (l.name != ifname, l.index));
    let default_gw = |v6: bool| {
        routes
            .iter()
            .filter(|r| r.table == MAIN_TABLE && r.dest.is_none())
            .filter_map(|r| r.via)
            .find(|gw| gw.is_ipv6() == v6)
    };
    let mut result = Result::default();
    for (i, link) in own.iter().enumerate() {
        result.interfaces.push(Interface {
            name: link.name.clone(),
            mac: link.mac.clone(),
            sandbox: sandbox.to_string(),
        });
        for a in addrs
            .iter()
            .filter(|a| a.index == link.index && !link_local(&a.addr))
        {
            result.ips.push(Ip {
                address: a.addr,
                gateway: default_gw(a.addr.addr().is_ipv6()),
                interface: i,
            });
        }
    }
    for r in routes
        .iter()
        .filter(|r| r.table == MAIN_TABLE && r.via.is_some())
    {
        let dst = r.dest.unwrap_or_else(|| match r.via {
            Some(IpAddr::V6(_)) => "::/0".parse().expect("valid"),
            _ => "0.0.0.0/0".parse().expect("valid"),
        });
        result.routes.push(Route { dst, gw: r.via });
    }
    result
}

impl Result {
    /// The result as JSON in `version`: before 1.0.0 each ip names its
    /// family ("version": "4"); from 1.0.0 on it does not. `extra` (what the
    /// script set: dns, or whole fields) goes over the derived fields.
    pub fn to_json(&self, version: &str, extra: &Map<String, Value>) -> Value {
        let pre_1 = !version.starts_with('1');
        let interfaces: Vec<Value> = self
            .interfaces
            .iter()
            .map(|i| json!({ "name": i.name, "mac": i.mac, "sandbox": i.sandbox }))
            .collect();
        let ips: Vec<Value> = self
            .ips
            .iter()
            .map(|ip| {
                let mut v = json!({ "address": ip.address.to_string(), "interface": ip.interface });
                if let Some(gw) = ip.gateway {
                    v["gateway"] = json!(gw.to_string());
                }
                if pre_1 {
                    v["version"] = json!(if ip.address.addr().is_ipv6() {
                        "6"
                    } else {
                        "4"
                    });
                }
                v
            })
            .collect();
        let routes: Vec<Value> = self
            .routes
            .iter()
            .map(|r| match r.gw {
                Some(gw) => json!({ "dst": r.dst.to_string(), "gw": gw.to_string() }),
                None => json!({ "dst": r.dst.to_string() }),
            })
            .collect();
        let mut out = json!({
            "cniVersion": version,
            "interfaces": interfaces,
            "ips": ips,
            "routes": routes,
            "dns": {},
        });
        for (k, v) in extra {
            out[k] = v.clone();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(index: u32, name: &str) -> LinkInfo {
        LinkInfo {
            index,
            name: name.into(),
            kind: "veth".into(),
            alias: None,
            master: None,
            link: None,
            hairpin: None,
            up: true,
            mtu: 1500,
            mac: format!("02:00:00:00:00:0{index}"),
            group: 0,
        }
    }

    fn addr(index: u32, a: &str) -> AddrInfo {
        AddrInfo {
            index,
            addr: a.parse().unwrap(),
        }
    }

    fn route(dest: Option<&str>, via: Option<&str>) -> RouteInfo {
        RouteInfo {
            dest: dest.map(|d| d.parse().unwrap()),
            via: via.map(|v| v.parse().unwrap()),
            dev: Some(2),
            table: MAIN_TABLE,
        }
    }

    #[test]
    fn the_result_is_what_the_namespace_holds() {
        let links = [link(1, "lo"), link(3, "net1"), link(2, "eth0")];
        let addrs = [
            addr(1, "127.0.0.1/8"),
            addr(2, "10.66.0.2/24"),
            addr(2, "fe80::1/64"),
            addr(3, "10.67.0.2/24"),
        ];
        let routes = [
            route(None, Some("10.66.0.1")),
            route(Some("10.66.0.0/24"), None),
            route(Some("10.99.0.0/16"), Some("10.67.0.1")),
        ];
        let r = derive("/run/netns/cni-1", "eth0", &links, &addrs, &routes);
        assert_eq!(
            r.interfaces[0].name, "eth0",
            "the asked-for interface first"
        );
        assert_eq!(r.interfaces.len(), 2, "lo left out");
        assert_eq!(r.ips.len(), 2, "no link-local, no loopback");
        assert_eq!(r.ips[0].gateway, Some("10.66.0.1".parse().unwrap()));
        assert_eq!(r.ips[1].interface, 1);
        assert_eq!(r.routes.len(), 2, "routes through a gateway only");
        assert_eq!(r.routes[0].dst.to_string(), "0.0.0.0/0");
    }

    #[test]
    fn versions_before_1_0_name_each_ips_family() {
        let links = [link(2, "eth0")];
        let addrs = [addr(2, "10.66.0.2/24")];
        let r = derive("/p", "eth0", &links, &addrs, &[]);
        let old = r.to_json("0.4.0", &Map::new());
        assert_eq!(old["ips"][0]["version"], "4");
        let new = r.to_json("1.0.0", &Map::new());
        assert!(new["ips"][0].get("version").is_none());
        assert_eq!(new["cniVersion"], "1.0.0");
        assert_eq!(new["interfaces"][0]["sandbox"], "/p");
        let mut dns = Map::new();
        dns.insert("dns".into(), json!({ "nameservers": ["10.66.0.1"] }));
        assert_eq!(
            r.to_json("1.1.0", &dns)["dns"]["nameservers"][0],
            "10.66.0.1"
        );
    }
}
