//! Queries: links(), addrs(), routes(), neighbours() of a namespace, as
//! arrays of maps (a dry run answers with empty lists), with the fields of
//! the records in crate::schema (docs/json.md); to_json() prints them.

use rhai::{Dynamic, Engine};

use super::convert::{to_dynamic, Netns, RhaiResult};
use super::Api;
use crate::schema::{QueryAddr, QueryRoute};
use plumb_kernel::{LinkInfo, MAIN_TABLE};

fn name_of(links: &[LinkInfo], index: u32) -> Option<String> {
    links
        .iter()
        .find(|l| l.index == index)
        .map(|l| l.name.clone())
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
            let records: Vec<QueryAddr> = addrs
                .iter()
                .map(|ad| QueryAddr {
                    dev: name_of(&links, ad.index),
                    addr: ad.addr.to_string(),
                })
                .collect();
            to_dynamic(&records)
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
            let records: Vec<QueryRoute> = routes
                .iter()
                .filter(|r| r.table == MAIN_TABLE)
                .map(|r| QueryRoute {
                    dest: r.dest.map_or("default".into(), |d| d.to_string()),
                    via: r.via.map(|v| v.to_string()),
                    dev: r.dev.and_then(|d| name_of(&links, d)),
                })
                .collect();
            to_dynamic(&records)
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
    api!(
        engine,
        "to_json",
        ["value: Dynamic", "String"],
        "`value` as JSON text: `print(to_json(links(host())))` (records as docs/json.md describes them).",
        |value: Dynamic| -> RhaiResult<String> {
            serde_json::to_string(&value).map_err(|e| format!("to_json: {e}").into())
        }
    );
}
