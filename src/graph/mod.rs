//! `plumb graph`: a model of the network ([`model`]: from runs' journals or
//! from the kernel) and its renderers: Graphviz DOT, Mermaid, JSON, and SVG
//! (plumb's own layered layout, or with `--renderer graphviz` Graphviz's).
//! Everything a renderer needs to agree with the others (colours by owner,
//! a link's label) is here.

pub mod dot;
pub mod json;
pub mod mermaid;
pub mod model;
pub mod svg;

use crate::schema::{EdgeKind, Graph, GraphLink, OwnerInfo};

/// How an owner's objects are painted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Paint {
    pub fill: &'static str,
    pub stroke: &'static str,
    /// Not plumb's: drawn dashed.
    pub dashed: bool,
}

/// Runs' colours, in the order the graph lists its owners.
const RUN_PAINTS: &[(&str, &str)] = &[
    ("#dbeafe", "#2563eb"),
    ("#dcfce7", "#16a34a"),
    ("#fef3c7", "#b45309"),
    ("#fce7f3", "#db2777"),
    ("#ede9fe", "#7c3aed"),
    ("#cffafe", "#0e7490"),
    ("#fee2e2", "#dc2626"),
    ("#e0e7ff", "#4338ca"),
];

const SHARED_PAINT: Paint = Paint {
    fill: "#e5e7eb",
    stroke: "#4b5563",
    dashed: false,
};

const FOREIGN_PAINT: Paint = Paint {
    fill: "#ffffff",
    stroke: "#9ca3af",
    dashed: true,
};

/// The paint of an owner (a run id, `shared`, or None: not plumb's).
pub fn paint(graph: &Graph, owner: Option<&str>) -> Paint {
    match owner {
        None => FOREIGN_PAINT,
        Some("shared") => SHARED_PAINT,
        Some(run) => {
            let runs = graph.owners.iter().filter(|o| o.id != "shared");
            match runs.clone().position(|o| o.id == run) {
                Some(i) => {
                    let (fill, stroke) = RUN_PAINTS[i % RUN_PAINTS.len()];
                    Paint {
                        fill,
                        stroke,
                        dashed: false,
                    }
                }
                None => FOREIGN_PAINT,
            }
        }
    }
}

/// The legend's entries: (text, paint), each owner and then "not plumb's".
pub fn legend(graph: &Graph) -> Vec<(String, Paint)> {
    graph
        .owners
        .iter()
        .map(|o| (owner_text(o), paint(graph, Some(&o.id))))
        .chain(std::iter::once(("not plumb's".to_string(), FOREIGN_PAINT)))
        .collect()
}

fn owner_text(o: &OwnerInfo) -> String {
    match (o.id.as_str(), &o.source) {
        ("shared", _) => "shared by runs".into(),
        (id, Some(source)) => format!("run {id}: {source}"),
        (id, None) => format!("run {id} (no journal)"),
    }
}

/// A link's label, line by line: its name, its kind (and state, MTU), its addresses.
pub fn label_lines(link: &GraphLink) -> Vec<String> {
    if link.kind == model::UPLINK {
        return vec![link.name.clone(), "the way out".into()];
    }
    let mut kind = if link.kind.is_empty() {
        "link".to_string()
    } else {
        link.kind.clone()
    };
    if link.up == Some(false) {
        kind += ", down";
    }
    if let Some(mtu) = link.mtu.filter(|&m| m != 1500) {
        kind += &format!(", mtu {mtu}");
    }
    std::iter::once(link.name.clone())
        .chain(std::iter::once(kind))
        .chain(link.addresses.iter().cloned())
        .collect()
}

/// The graph's caption: what it shows.
pub fn caption(graph: &Graph) -> String {
    match graph.source.as_str() {
        "live" => "plumb graph --live".into(),
        _ => format!(
            "plumb graph: {}",
            graph
                .owners
                .iter()
                .filter(|o| o.id != "shared")
                .map(|o| format!("run {}", o.id))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The class (DOT and SVG) of an edge of this kind.
pub fn class_of(kind: EdgeKind) -> &'static str {
    match kind {
        EdgeKind::Veth => "veth",
        EdgeKind::Port => "port",
        EdgeKind::Parent => "parent",
        EdgeKind::Masquerade => "masquerade",
        EdgeKind::Publish => "publish",
        EdgeKind::Isolate => "isolate",
    }
}

#[cfg(test)]
pub mod fixture {
    //! A small graph for the renderers' tests: a bridge with one veth into
    //! a namespace, NAT, a published port, and a link that is not plumb's.

    use crate::schema::*;

    fn link(ns: &str, name: &str, kind: &str, owner: Option<&str>, addrs: &[&str]) -> GraphLink {
        GraphLink {
            id: format!("{ns}/{name}"),
            name: name.into(),
            kind: kind.into(),
            owner: owner.map(Into::into),
            mtu: Some(1500),
            up: Some(true),
            addresses: addrs.iter().map(|a| a.to_string()).collect(),
        }
    }

    pub fn graph() -> Graph {
        const RUN: &str = "20261123-101010-1";
        let run = Some(RUN);
        let edge = |kind, from: &str, to: &str, label: Option<&str>| GraphEdge {
            kind,
            from: from.into(),
            to: to.into(),
            label: label.map(Into::into),
            owner: run.map(Into::into),
        };
        Graph {
            schema: GRAPH_SCHEMA.into(),
            source: "runs".into(),
            owners: vec![OwnerInfo {
                id: RUN.into(),
                source: Some("scripts/bridge-nat.rhai".into()),
            }],
            namespaces: vec![
                GraphNamespace {
                    name: "host".into(),
                    kind: NamespaceKind::Host,
                    owner: None,
                    links: vec![
                        link("host", "br0", "bridge", run, &["172.18.0.1/16"]),
                        link("host", "veth0", "veth", run, &[]),
                        link("host", "(uplink)", super::model::UPLINK, None, &[]),
                        link("host", "eth9", "", None, &[]),
                    ],
                    routes: vec![],
                },
                GraphNamespace {
                    name: "netns0".into(),
                    kind: NamespaceKind::Named,
                    owner: run.map(Into::into),
                    links: vec![link("netns0", "ceth0", "veth", run, &["172.18.0.10/16"])],
                    routes: vec!["default via 172.18.0.1".into()],
                },
            ],
            edges: vec![
                edge(EdgeKind::Veth, "host/veth0", "netns0/ceth0", None),
                edge(EdgeKind::Port, "host/veth0", "host/br0", None),
                edge(
                    EdgeKind::Masquerade,
                    "host/br0",
                    "host/(uplink)",
                    Some("MASQUERADE 172.18.0.0/16"),
                ),
                edge(
                    EdgeKind::Publish,
                    "host/(uplink)",
                    "netns0/ceth0",
                    Some("tcp :5000 → 172.18.0.10:5000"),
                ),
            ],
        }
    }
}
