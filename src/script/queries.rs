//! Queries: links(), addrs(), routes(), neighbours() of a namespace, as
//! arrays of maps (a dry run answers with empty lists).

use rhai::{Array, Dynamic, Engine, Map};

use super::convert::{to_dynamic, Netns, RhaiResult};
use super::Api;
use plumb_kernel::{LinkInfo, MAIN_TABLE};

fn name_of(links: &[LinkInfo], index: u32) -> Dynamic {
    links
        .iter()
        .find(|l| l.index == index)
        .map_or(Dynamic::UNIT, |l| Dynamic::from(l.name.clone()))
}

pub fn register(engine: &mut Engine, api: &Api) {
    let a = api.clone();
    api!(
        engine,
        "links",
        ["ns: Netns", "Array"],
        "The links in `ns`: [#{ index, name, kind, alias, master, link, up, mtu, mac }].",
        move |ns: Netns| -> RhaiResult<Dynamic> { to_dynamic(&a.inspect(|i| i.links(&ns.0))?) }
    );
    let a = api.clone();
    api!(
        engine,
        "addrs",
        ["ns: Netns", "Array"],
        "The addresses in `ns`: [#{ dev, addr }].",
        move |ns: Netns| -> RhaiResult<Dynamic> {
            let (links, addrs) = a.inspect(|i| Ok((i.links(&ns.0)?, i.addrs(&ns.0)?)))?;
            Ok(addrs
                .iter()
                .map(|ad| {
                    let mut m = Map::new();
                    m.insert("dev".into(), name_of(&links, ad.index));
                    m.insert("addr".into(), ad.addr.to_string().into());
                    Dynamic::from_map(m)
                })
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
            let (links, routes) = a.inspect(|i| Ok((i.links(&ns.0)?, i.routes(&ns.0)?)))?;
            Ok(routes
                .iter()
                .filter(|r| r.table == MAIN_TABLE)
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
                    m.insert(
                        "dev".into(),
                        r.dev.map_or(Dynamic::UNIT, |d| name_of(&links, d)),
                    );
                    Dynamic::from_map(m)
                })
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
            to_dynamic(&a.inspect(|i| i.neighbours(&ns.0))?)
        }
    );
}
