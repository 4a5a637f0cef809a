//! `plumb graph` of every script's topology, in every format: each script
//! runs in a sandbox and is drawn from its journal and from the kernel; the
//! drawings are checked against what the journal says the run made (one
//! node per namespace and link, one edge per veth pair and bridge port).

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{assert_contains, repo, sandbox};
use serde_json::Value;

/// Every document script's name (scripts/NAME.rhai).
fn scripts() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo().join("scripts"))
        .unwrap()
        .filter_map(|e| {
            let path = e.unwrap().path();
            (path.extension()? == "rhai").then(|| path.file_stem()?.to_str().map(String::from))?
        })
        .collect();
    names.sort();
    assert!(names.len() >= 10, "{names:?}");
    names
}

fn has_graphviz() -> bool {
    Command::new("dot")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// What a run made, from its journal (`journal show --json`): namespaces,
/// links as `NS/NAME`, veth pairs and bridge ports as (link, link).
#[derive(Debug, Default)]
struct Made {
    namespaces: BTreeSet<String>,
    links: BTreeSet<String>,
    veths: BTreeSet<(String, String)>,
    ports: BTreeSet<(String, String)>,
}

fn ns_name(ns: &Value) -> String {
    match ns {
        Value::String(host) => host.clone(),
        Value::Object(m) => m
            .get("named")
            .or_else(|| m.get("path"))
            .and_then(Value::as_str)
            .map(String::from)
            .unwrap_or_else(|| format!("pid:{}", m["pid"])),
        other => panic!("namespace {other}"),
    }
}

fn made(run: &Value) -> Made {
    let mut m = Made::default();
    let id = |ns: &Value, name: &Value| format!("{}/{}", ns_name(ns), name.as_str().unwrap());
    for e in run["entries"].as_array().unwrap() {
        let op = &e["op"];
        match op["op"].as_str().unwrap() {
            "netns_add" => {
                m.namespaces.insert(op["name"].as_str().unwrap().into());
            }
            "link_add" => {
                let link = id(&op["ns"], &op["name"]);
                m.namespaces.insert(ns_name(&op["ns"]));
                let kind = &op["kind"];
                if kind["type"] == "veth" {
                    let peer_ns = if kind["peer_netns"].is_null() {
                        &op["ns"]
                    } else {
                        &kind["peer_netns"]
                    };
                    let peer = id(peer_ns, &kind["peer"]);
                    m.links.insert(peer.clone());
                    m.veths.insert((link.clone(), peer));
                }
                if let Some(master) = op["master"].as_str() {
                    m.ports
                        .insert((link.clone(), format!("{}/{master}", ns_name(&op["ns"]))));
                }
                m.links.insert(link);
            }
            "link_move" => {
                let (from, to) = (id(&op["ns"], &op["name"]), id(&op["to"], &op["new_name"]));
                m.namespaces.insert(ns_name(&op["to"]));
                let rename = |s: &str| if s == from { to.clone() } else { s.to_string() };
                m.links = m.links.iter().map(|l| rename(l)).collect();
                m.veths = m
                    .veths
                    .iter()
                    .map(|(a, b)| (rename(a), rename(b)))
                    .collect();
                m.ports.retain(|(port, _)| *port != from);
            }
            "set_master" => {
                let link = id(&op["ns"], &op["name"]);
                m.ports.retain(|(port, _)| *port != link);
                if let Some(master) = op["master"].as_str() {
                    m.ports
                        .insert((link, format!("{}/{master}", ns_name(&op["ns"]))));
                }
            }
            _ => {}
        }
    }
    m
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Parse SVG as XML (Graphviz's carries a DOCTYPE).
fn parse_svg(text: &str) -> Result<roxmltree::Document<'_>, roxmltree::Error> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    roxmltree::Document::parse_with_options(text, options)
}

/// Titles of the `<g>` elements whose class list holds every one of `classes`.
fn titled(svg: &roxmltree::Document, classes: &[&str]) -> Vec<String> {
    svg.descendants()
        .filter(|n| n.has_tag_name("g"))
        .filter(|n| {
            let have: Vec<&str> = n.attribute("class").unwrap_or("").split(' ').collect();
            classes.iter().all(|c| have.contains(c))
        })
        .map(|n| {
            n.children()
                .find(|c| c.has_tag_name("title"))
                .and_then(|t| t.text())
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

/// An SVG drawing (plumb's or Graphviz's) holds a node per link made, a
/// cluster per namespace made, an edge per veth pair and bridge port.
fn check_svg(name: &str, text: &str, made: &Made, graph: &Value) {
    let svg = parse_svg(text).unwrap_or_else(|e| panic!("{name}: the SVG is not XML: {e}"));
    let nodes: BTreeSet<String> = titled(&svg, &["node", "link"]).into_iter().collect();
    for link in &made.links {
        assert!(
            nodes.contains(link),
            "{name}: no node for {link} in {nodes:?}"
        );
    }
    let drawn_links: usize = graph["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["links"].as_array().unwrap().len())
        .sum();
    assert_eq!(nodes.len(), drawn_links, "{name}: one node per link");
    let clusters = titled(&svg, &["cluster"]).len();
    assert_eq!(
        clusters,
        graph["namespaces"].as_array().unwrap().len(),
        "{name}"
    );
    assert!(
        clusters >= made.namespaces.len(),
        "{name}: {clusters} clusters for {:?}",
        made.namespaces
    );
    assert_eq!(
        titled(&svg, &["edge", "veth"]).len(),
        made.veths.len(),
        "{name}: veth edges"
    );
    assert_eq!(
        titled(&svg, &["edge", "port"]).len(),
        made.ports.len(),
        "{name}: port edges"
    );
}

/// Edges as (kind, one end, other end), veth pairs and isolation unordered.
fn edge_set(graph: &Value) -> BTreeSet<(String, String, String)> {
    graph["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let kind = e["kind"].as_str().unwrap().to_string();
            let (mut a, mut b) = (e["from"].as_str().unwrap(), e["to"].as_str().unwrap());
            if (kind == "veth" || kind == "isolate") && a > b {
                std::mem::swap(&mut a, &mut b);
            }
            (kind, a.to_string(), b.to_string())
        })
        .collect()
}

#[test]
fn every_script_is_drawn_in_every_format_from_its_journal_and_from_the_kernel() {
    let out: PathBuf =
        std::env::temp_dir().join(format!("plumb-graph-test-{}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    let graphviz = has_graphviz();
    let mut body = String::new();
    for name in scripts() {
        let o = out.join(&name);
        body += &format!(
            r#"
            plumb run scripts/{name}.rhai >/dev/null 2>{o}.err || {{ cat {o}.err; die "{name} failed"; }}
            run=$(plumb journal list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["runs"][-1]["run"])')
            plumb journal show "$run" --json > {o}.run.json
            plumb graph -o {o}.svg
            plumb graph "$run" --format dot > {o}.dot
            plumb graph --format mermaid -o {o}.mmd
            plumb graph -o {o}.json
            plumb graph --input {o}.json --format json -o {o}.again.json
            plumb graph --input {o}.json --format svg > {o}.again.svg
            plumb graph --live --format json -o {o}.live.json
            plumb graph --live -o {o}.live.svg
            {graphviz}
            plumb rollback "$run" >/dev/null 2>&1
            "#,
            o = o.display(),
            graphviz = if graphviz {
                format!(
                    "plumb graph --renderer graphviz -o {o}.gv.svg",
                    o = o.display()
                )
            } else {
                String::new()
            }
        );
    }
    sandbox(&body).ok();
    for name in scripts() {
        let o = |ext: &str| out.join(format!("{name}.{ext}"));
        let run: Value = serde_json::from_str(&read(&o("run.json"))).unwrap();
        let made = made(&run);
        assert!(!made.links.is_empty(), "{name}: the run made no link");
        let graph: Value = serde_json::from_str(&read(&o("json"))).unwrap();
        assert_eq!(graph["schema"], "plumb/graph/1");

        check_svg(&name, &read(&o("svg")), &made, &graph);
        check_svg(
            &format!("{name} (from JSON)"),
            &read(&o("again.svg")),
            &made,
            &graph,
        );
        if graphviz {
            check_svg(
                &format!("{name} (Graphviz)"),
                &read(&o("gv.svg")),
                &made,
                &graph,
            );
            let parsed = Command::new("dot")
                .arg("-Tcanon")
                .arg(o("dot"))
                .output()
                .unwrap();
            assert!(
                parsed.status.success(),
                "{name}: dot rejects the DOT: {}",
                String::from_utf8_lossy(&parsed.stderr)
            );
        }
        // The JSON reads back into the same graph.
        assert_eq!(
            read(&o("json")),
            read(&o("again.json")),
            "{name}: JSON round trip"
        );

        let mermaid = read(&o("mmd"));
        assert!(mermaid.starts_with("flowchart TB\n"), "{name}: {mermaid}");
        for ns in &made.namespaces {
            assert!(
                mermaid.contains(&format!("[\"{ns}")),
                "{name}: no subgraph {ns}:\n{mermaid}"
            );
        }
        assert_eq!(
            mermaid.lines().filter(|l| l.contains(" --- ")).count(),
            made.veths.len() + made.ports.len(),
            "{name}: veth and port edges:\n{mermaid}"
        );

        // The kernel, read back, shows what the journal says was made.
        let live: Value = serde_json::from_str(&read(&o("live.json"))).unwrap();
        let (journal_edges, kernel_edges) = (edge_set(&graph), edge_set(&live));
        assert!(
            journal_edges.is_subset(&kernel_edges),
            "{name}: drawn from the journal but not found in the kernel: {:?}",
            journal_edges.difference(&kernel_edges).collect::<Vec<_>>()
        );
        check_svg(
            &format!("{name} (live)"),
            &read(&o("live.svg")),
            &made,
            &live,
        );
        let run_id = run["run"].as_str().unwrap();
        let owners: Vec<&str> = live["owners"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|o| o["id"].as_str())
            .collect();
        assert!(
            owners.contains(&run_id),
            "{name}: the live graph does not name the run: {owners:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn the_checked_in_pictures_are_those_of_the_scripts() {
    // docs/graphs/generate.sh draws them; each must show its script's run.
    for name in scripts() {
        let path = repo().join(format!("docs/graphs/{name}.svg"));
        let text = read(&path);
        let svg = parse_svg(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            text.contains(&format!("scripts/{name}.rhai")),
            "{name}: not drawn from its script"
        );
        assert!(
            !titled(&svg, &["node", "link"]).is_empty(),
            "{name}: no links drawn"
        );
        let readme = read(&repo().join("README.md"));
        assert!(
            readme.contains(&format!("docs/graphs/{name}.svg")),
            "README does not show {name}"
        );
    }
}

#[test]
fn graph_says_what_to_do_without_runs_and_rejects_a_foreign_json() {
    let bad = common::script_file("not-a-graph.json", r#"{"schema": "plumb/graph/9"}"#);
    let out = sandbox(&format!(
        r#"
        err=$(mktemp)
        if plumb graph 2>$err; then die "graph without runs should fail"; fi
        cat $err
        if plumb graph --input {} 2>$err; then die "a foreign JSON should fail"; fi
        cat $err
        "#,
        bad.display()
    ))
    .ok();
    assert_contains(
        &out.stdout,
        &["no run has changes in place", "--live", "not a plumb graph"],
    );
}

#[test]
fn the_repl_draws_what_the_session_made() {
    let file = std::env::temp_dir().join(format!("plumb-repl-graph-{}.svg", std::process::id()));
    let out = sandbox(&format!(
        r#"
        printf '%s\n' 'let br = bridge("br0");' 'let ns = netns("c1");' \
          'veth("v1", #{{ peer: "eth0", netns: ns, master: br }});' \
          ':graph {f}' ':graph' | plumb repl --rollback-on-exit
        "#,
        f = file.display()
    ))
    .ok();
    assert_contains(
        &out.stdout,
        &[
            &format!("drew the session's network to {}", file.display()),
            "flowchart TB",
            "v1<br/>veth",
        ],
    );
    let svg = read(&file);
    let doc = parse_svg(&svg).unwrap();
    let nodes = titled(&doc, &["node", "link"]);
    assert_eq!(nodes, vec!["host/br0", "host/v1", "c1/eth0"], "{svg}");
    assert_eq!(titled(&doc, &["edge", "veth"]), vec!["host/v1 -- c1/eth0"]);
    let _ = std::fs::remove_file(&file);
}
