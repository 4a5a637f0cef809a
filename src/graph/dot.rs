//! Graphviz DOT: each namespace a cluster, each link a node, classes on
//! everything (`node link bridge`, `edge veth`) so the SVG Graphviz draws
//! from it can be read like plumb's own.

use std::fmt::Write;

use super::{caption, class_of, label_lines, legend, paint};
use crate::schema::{EdgeKind, Graph};

/// A DOT string literal.
fn quote(text: &str) -> String {
    let mut q = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => q += "\\\"",
            '\\' => q += "\\\\",
            '\n' => q += "\\n",
            c => q.push(c),
        }
    }
    q + "\""
}

/// What an edge looks like, and which way it runs for the layout: a
/// bridge above its ports, a parent above what is built on it, the way out
/// on top.
fn edge_style(kind: EdgeKind) -> (&'static str, bool) {
    match kind {
        EdgeKind::Veth => ("dir=none, penwidth=1.6, color=\"#374151\"", false),
        EdgeKind::Port => ("dir=none, color=\"#6b7280\"", true),
        EdgeKind::Parent => ("dir=none, style=dashed, color=\"#6b7280\"", true),
        EdgeKind::Masquerade => ("dir=back, color=\"#c2410c\", fontcolor=\"#c2410c\"", true),
        EdgeKind::Publish => ("color=\"#1d4ed8\", fontcolor=\"#1d4ed8\"", false),
        EdgeKind::Isolate => (
            "dir=none, style=dashed, color=\"#dc2626\", fontcolor=\"#dc2626\", constraint=false",
            false,
        ),
    }
}

pub fn render(graph: &Graph) -> String {
    let mut out = String::new();
    let legend_text: Vec<String> = legend(graph).into_iter().map(|(t, _)| t).collect();
    let _ = writeln!(out, "digraph plumb {{");
    let _ = writeln!(
        out,
        "  graph [rankdir=TB, fontname=\"Helvetica\", fontsize=11, nodesep=0.3, ranksep=0.55, labelloc=b, label={}];",
        quote(&format!("{}\n{}", caption(graph), legend_text.join("   ")))
    );
    let _ = writeln!(
        out,
        "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=10, margin=\"0.12,0.05\"];"
    );
    let _ = writeln!(out, "  edge [fontname=\"Helvetica\", fontsize=9];");
    for (i, ns) in graph.namespaces.iter().enumerate() {
        let p = paint(graph, ns.owner.as_deref());
        let mut label = ns.name.clone();
        for route in &ns.routes {
            label += &format!("\n{route}");
        }
        let _ = writeln!(out, "  subgraph cluster_{i} {{");
        let _ = writeln!(
            out,
            "    label={}; class=\"namespace\"; style=\"rounded{}\"; color={}; fontsize=11; labeljust=l; labelloc=t;",
            quote(&label),
            if p.dashed { ",dashed" } else { "" },
            quote(p.stroke)
        );
        if ns.links.is_empty() {
            // Graphviz leaves out an empty cluster: a namespace with only lo still shows.
            let _ = writeln!(
                out,
                "    \"cluster_{i}/empty\" [label=\"(no links)\", class=\"empty\", shape=plaintext, style=\"\"];"
            );
        }
        for link in &ns.links {
            let p = paint(graph, link.owner.as_deref());
            let kind_class = if link.kind.is_empty() {
                "device"
            } else {
                &link.kind
            };
            let _ = writeln!(
                out,
                "    {} [label={}, class={}, fillcolor={}, color={}{}];",
                quote(&link.id),
                quote(&label_lines(link).join("\n")),
                quote(&format!("link {kind_class}")),
                quote(p.fill),
                quote(p.stroke),
                if p.dashed {
                    ", style=\"rounded,filled,dashed\""
                } else {
                    ""
                }
            );
        }
        let _ = writeln!(out, "  }}");
    }
    for e in &graph.edges {
        let (style, upward) = edge_style(e.kind);
        // An upward edge is written from its upper end, for the ranks.
        let (a, b) = if upward {
            (&e.to, &e.from)
        } else {
            (&e.from, &e.to)
        };
        let label = e
            .label
            .as_ref()
            .map(|l| format!(", label={}", quote(l)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {} -> {} [class={}, {style}{label}];",
            quote(a),
            quote(b),
            quote(class_of(e.kind))
        );
    }
    out + "}\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clusters_nodes_and_classed_edges() {
        let text = render(&super::super::fixture::graph());
        assert!(text.starts_with("digraph plumb {"), "{text}");
        assert_eq!(text.matches("subgraph cluster_").count(), 2, "{text}");
        assert!(
            text.contains(
                "\"host/br0\" [label=\"br0\\nbridge\\n172.18.0.1/16\", class=\"link bridge\""
            ),
            "{text}"
        );
        // The bridge is written above its port; the veth runs host to namespace.
        assert!(
            text.contains("\"host/br0\" -> \"host/veth0\" [class=\"port\""),
            "{text}"
        );
        assert!(
            text.contains("\"host/veth0\" -> \"netns0/ceth0\" [class=\"veth\""),
            "{text}"
        );
        assert_eq!(quote("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
    }
}
