//! Mermaid (`flowchart`), for Markdown that renders it (GitHub, GitLab):
//! namespaces as subgraphs, links as nodes, one class per owner.

use std::collections::HashMap;
use std::fmt::Write;

use super::{label_lines, legend, paint};
use crate::schema::{EdgeKind, Graph};

/// Text inside a quoted Mermaid label.
fn escape(text: &str) -> String {
    text.replace('&', "#amp;")
        .replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
}

pub fn render(graph: &Graph) -> String {
    let mut out = String::from("flowchart TB\n");
    let mut ids: HashMap<&str, String> = HashMap::new();
    let mut classes: Vec<(String, Vec<String>)> = Vec::new();
    let class_of = |owner: Option<&str>, node: String, classes: &mut Vec<(String, Vec<String>)>| {
        let p = paint(graph, owner);
        let class = format!("o{}", &p.stroke[1..]);
        match classes.iter_mut().find(|(c, _)| *c == class) {
            Some((_, nodes)) => nodes.push(node),
            None => classes.push((class, vec![node])),
        }
    };
    for (i, ns) in graph.namespaces.iter().enumerate() {
        let title: Vec<String> = std::iter::once(&ns.name)
            .chain(&ns.routes)
            .map(|t| escape(t))
            .collect();
        let _ = writeln!(out, "  subgraph ns{i}[\"{}\"]", title.join("<br/>"));
        for link in &ns.links {
            let id = format!("n{}", ids.len());
            let _ = writeln!(
                out,
                "    {id}[\"{}\"]",
                label_lines(link)
                    .iter()
                    .map(|l| escape(l))
                    .collect::<Vec<_>>()
                    .join("<br/>")
            );
            class_of(link.owner.as_deref(), id.clone(), &mut classes);
            ids.insert(&link.id, id);
        }
        let _ = writeln!(out, "  end");
    }
    for e in &graph.edges {
        let (Some(a), Some(b)) = (ids.get(e.from.as_str()), ids.get(e.to.as_str())) else {
            continue;
        };
        let label = e
            .label
            .as_ref()
            .map(|l| format!("|\"{}\"|", escape(l)))
            .unwrap_or_default();
        let line = match e.kind {
            EdgeKind::Veth | EdgeKind::Port => format!("{a} ---{label} {b}"),
            EdgeKind::Parent | EdgeKind::Isolate => format!("{a} -.-{label} {b}"),
            EdgeKind::Masquerade | EdgeKind::Publish => format!("{a} -->{label} {b}"),
        };
        let _ = writeln!(out, "  {line}");
    }
    for (class, nodes) in &classes {
        let p = legend(graph)
            .into_iter()
            .map(|(_, p)| p)
            .find(|p| format!("o{}", &p.stroke[1..]) == *class)
            .expect("every class comes from a paint in the legend");
        let _ = writeln!(
            out,
            "  classDef {class} fill:{},stroke:{}{}",
            p.fill,
            p.stroke,
            if p.dashed {
                ",stroke-dasharray:4 3"
            } else {
                ""
            }
        );
        let _ = writeln!(out, "  class {} {class}", nodes.join(","));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subgraphs_nodes_edges_and_owner_classes() {
        let text = render(&super::super::fixture::graph());
        assert!(text.starts_with("flowchart TB\n"), "{text}");
        assert!(
            text.contains("  subgraph ns1[\"netns0<br/>default via 172.18.0.1\"]"),
            "{text}"
        );
        assert!(
            text.contains("    n0[\"br0<br/>bridge<br/>172.18.0.1/16\"]"),
            "{text}"
        );
        assert!(text.contains("  n1 --- n4"), "veth: {text}");
        assert!(
            text.contains("  n0 -->|\"MASQUERADE 172.18.0.0/16\"| n2"),
            "{text}"
        );
        assert!(
            text.contains("classDef o2563eb fill:#dbeafe,stroke:#2563eb"),
            "{text}"
        );
        assert!(text.contains("stroke-dasharray"), "not plumb's: {text}");
        assert_eq!(escape("a\"<b>&"), "a#quot;#lt;b#gt;#amp;");
    }
}
