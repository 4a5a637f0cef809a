//! The topology to draw ([`Graph`]), built from runs' journals (what the
//! runs made, as their ops say) or from the kernel (`--live`: the host and
//! every named namespace, as netlink and iptables-save report them). Owners
//! come from the marks plumb leaves: a link's alias `plumb:RUN/SEQ`, a
//! namespace's lo alias, a rule's comment.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::error::Result;
use crate::schema::{
    EdgeKind, Graph, GraphEdge, GraphLink, GraphNamespace, NamespaceKind, OwnerInfo, GRAPH_SCHEMA,
};
use plumb_journal::{route_text, run_of_mark, EntryState, Journal, Op, Owner, SHARED_MARK};
use plumb_kernel::firewall::{DNAT, FORWARD, POSTROUTING};
use plumb_kernel::{netns, process, Inspect, Kernel, LinkInfo, LinkKind, NsRef, MAIN_TABLE};

/// The kind of the node NAT edges lead to when the way out is not known.
pub const UPLINK: &str = "uplink";

/// A run's script as the graph names it: relative to the current
/// directory when it is under it (`scripts/pod.rhai`), else as journaled.
fn shown_path(source: &str) -> String {
    let path = std::path::Path::new(source);
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(|p| p.display().to_string()))
        .unwrap_or_else(|| source.to_string())
}

/// The owner a plumb mark names: a run id, `shared`, or None (not plumb's).
fn owner_of_mark(mark: Option<&str>) -> Option<String> {
    let mark = mark?;
    if mark == SHARED_MARK || mark.starts_with(&format!("{SHARED_MARK}/")) {
        return Some("shared".into());
    }
    run_of_mark(mark).map(str::to_string)
}

struct NsNode {
    ns: NsRef,
    owner: Option<String>,
    routes: Vec<String>,
}

struct LinkNode {
    ns: usize,
    name: String,
    kind: String,
    owner: Option<String>,
    /// Made by a run (or seen in the kernel), not only named by one.
    made: bool,
    mtu: Option<u32>,
    up: Option<bool>,
    addresses: Vec<String>,
}

/// A rule's words as iptables prints them, with whose rule it is.
struct RuleWords {
    ns: NsRef,
    chain: String,
    words: Vec<String>,
    owner: Option<String>,
}

/// An edge between links (by index), with its label and owner.
struct Edge {
    kind: EdgeKind,
    from: usize,
    to: usize,
    label: Option<String>,
    owner: Option<String>,
}

#[derive(Default)]
struct Builder {
    namespaces: Vec<NsNode>,
    links: Vec<LinkNode>,
    edges: Vec<Edge>,
    rules: Vec<RuleWords>,
    /// Each namespace's way out, when its default route names one.
    uplinks: HashMap<usize, usize>,
}

impl Builder {
    fn ns(&mut self, ns: &NsRef) -> usize {
        if let Some(i) = self.namespaces.iter().position(|n| n.ns == *ns) {
            return i;
        }
        self.namespaces.push(NsNode {
            ns: ns.clone(),
            owner: None,
            routes: Vec::new(),
        });
        self.namespaces.len() - 1
    }

    fn find(&self, ns: &NsRef, name: &str) -> Option<usize> {
        let n = self.namespaces.iter().position(|n| n.ns == *ns)?;
        self.links.iter().position(|l| l.ns == n && l.name == name)
    }

    /// The link, added unknown (named by an op, not made by it) if new.
    fn link(&mut self, ns: &NsRef, name: &str) -> usize {
        if let Some(i) = self.find(ns, name) {
            return i;
        }
        let ns = self.ns(ns);
        self.links.push(LinkNode {
            ns,
            name: name.into(),
            kind: String::new(),
            owner: None,
            made: false,
            mtu: None,
            up: None,
            addresses: Vec::new(),
        });
        self.links.len() - 1
    }

    fn edge(
        &mut self,
        kind: EdgeKind,
        from: usize,
        to: usize,
        label: Option<String>,
        owner: Option<String>,
    ) {
        let same = |e: &Edge| {
            e.kind == kind
                && e.label == label
                && ((e.from, e.to) == (from, to)
                    || (matches!(kind, EdgeKind::Veth | EdgeKind::Isolate)
                        && (e.from, e.to) == (to, from)))
        };
        if !self.edges.iter().any(same) {
            self.edges.push(Edge {
                kind,
                from,
                to,
                label,
                owner,
            });
        }
    }

    fn drop_edges(&mut self, kind: EdgeKind, from: usize) {
        self.edges.retain(|e| !(e.kind == kind && e.from == from));
    }

    /// The node NAT edges of `ns` lead to: its default route's link, or a
    /// stand-in for the way out.
    fn uplink(&mut self, ns: &NsRef) -> usize {
        let n = self.ns(ns);
        if let Some(&l) = self.uplinks.get(&n) {
            return l;
        }
        let l = self.link(ns, "(uplink)");
        self.links[l].kind = UPLINK.into();
        self.uplinks.insert(n, l);
        l
    }

    /// The link holding `ip`, anywhere.
    fn holder_of(&self, ip: IpAddr) -> Option<usize> {
        self.links.iter().position(|l| {
            l.addresses
                .iter()
                .any(|a| a.parse::<IpNet>().is_ok_and(|n| n.addr() == ip))
        })
    }

    /// The link in `ns` with an address inside `net` (a subnet's gateway),
    /// a bridge first.
    fn gateway_of(&self, ns: &NsRef, net: IpNet) -> Option<usize> {
        let n = self.namespaces.iter().position(|x| x.ns == *ns)?;
        let inside = |l: &LinkNode| {
            l.ns == n
                && l.addresses
                    .iter()
                    .any(|a| a.parse::<IpNet>().is_ok_and(|a| net.contains(&a.addr())))
        };
        let candidates: Vec<usize> = (0..self.links.len())
            .filter(|&i| inside(&self.links[i]))
            .collect();
        candidates
            .iter()
            .copied()
            .find(|&i| self.links[i].kind == "bridge")
            .or_else(|| candidates.first().copied())
    }

    /// NAT, published ports and isolation, from plumb's rules.
    fn interpret_rules(&mut self) {
        for rule in std::mem::take(&mut self.rules) {
            let w = Words(&rule.words);
            let target = w.after("-j");
            match (rule.chain.as_str(), target) {
                (POSTROUTING, Some("MASQUERADE")) if w.after("-d").is_none() => {
                    let Some(net) = w.after("-s").and_then(|s| s.parse::<IpNet>().ok()) else {
                        continue;
                    };
                    let out = match w.after("-o") {
                        Some(link) if !w.negated("-o") => self.link(&rule.ns, link),
                        _ => self.uplink(&rule.ns),
                    };
                    let from = match self.gateway_of(&rule.ns, net) {
                        Some(g) => g,
                        None => continue,
                    };
                    self.edge(
                        EdgeKind::Masquerade,
                        from,
                        out,
                        Some(format!("MASQUERADE {net}")),
                        rule.owner,
                    );
                }
                (DNAT, Some("DNAT")) => {
                    let Some(to) = w.after("--to-destination") else {
                        continue;
                    };
                    let ip = to
                        .parse::<std::net::SocketAddr>()
                        .map(|s| s.ip())
                        .or_else(|_| to.parse::<IpAddr>());
                    let Some(target) = ip.ok().and_then(|ip| self.holder_of(ip)) else {
                        continue;
                    };
                    let proto = w.after("-p").unwrap_or("tcp");
                    let port = w.after("--dport").unwrap_or("?");
                    let host = w.after("-d").map(str::to_string).unwrap_or_default();
                    let from = self.uplink(&rule.ns);
                    self.edge(
                        EdgeKind::Publish,
                        from,
                        target,
                        Some(format!("{proto} {host}:{port} → {to}")),
                        rule.owner,
                    );
                }
                (FORWARD, Some("DROP")) => {
                    let (Some(a), Some(b)) = (w.after("-i"), w.after("-o")) else {
                        continue;
                    };
                    let (Some(a), Some(b)) = (self.find(&rule.ns, a), self.find(&rule.ns, b))
                    else {
                        continue;
                    };
                    self.edge(
                        EdgeKind::Isolate,
                        a.min(b),
                        a.max(b),
                        Some("isolated".into()),
                        rule.owner,
                    );
                }
                _ => {}
            }
        }
    }

    fn finish(mut self, source: &str, sources: &HashMap<String, String>) -> Graph {
        self.interpret_rules();
        let mut order: Vec<usize> = (0..self.namespaces.len()).collect();
        order.sort_by_key(|&i| self.namespaces[i].ns != NsRef::Host);
        let ns_name = |i: usize| self.namespaces[i].ns.short_name();
        let id = |l: &LinkNode| format!("{}/{}", ns_name(l.ns), l.name);
        let namespaces: Vec<GraphNamespace> = order
            .iter()
            .map(|&i| {
                let n = &self.namespaces[i];
                GraphNamespace {
                    name: n.ns.short_name(),
                    kind: match n.ns {
                        NsRef::Host => NamespaceKind::Host,
                        NsRef::Named(_) => NamespaceKind::Named,
                        NsRef::Pid(_) => NamespaceKind::Pid,
                        NsRef::Path(_) => NamespaceKind::Path,
                    },
                    owner: n.owner.clone(),
                    links: self
                        .links
                        .iter()
                        .filter(|l| l.ns == i)
                        .map(|l| GraphLink {
                            id: id(l),
                            name: l.name.clone(),
                            kind: l.kind.clone(),
                            owner: l.owner.clone(),
                            mtu: l.mtu,
                            up: l.up,
                            addresses: l.addresses.clone(),
                        })
                        .collect(),
                    routes: n.routes.clone(),
                }
            })
            .collect();
        let edges: Vec<GraphEdge> = self
            .edges
            .iter()
            .map(|e| GraphEdge {
                kind: e.kind,
                from: id(&self.links[e.from]),
                to: id(&self.links[e.to]),
                label: e.label.clone(),
                owner: e.owner.clone(),
            })
            .collect();
        let mut owners: Vec<String> = namespaces
            .iter()
            .flat_map(|n| {
                std::iter::once(n.owner.clone()).chain(n.links.iter().map(|l| l.owner.clone()))
            })
            .chain(edges.iter().map(|e| e.owner.clone()))
            .flatten()
            .collect();
        owners.sort_by_key(|o| (o == "shared", plumb_journal::run_number(o), o.clone()));
        owners.dedup();
        Graph {
            schema: GRAPH_SCHEMA.into(),
            source: source.into(),
            owners: owners
                .into_iter()
                .map(|id| OwnerInfo {
                    source: sources.get(&id).cloned(),
                    id,
                })
                .collect(),
            namespaces,
            edges,
        }
    }
}

/// Looking up options in a rule's words.
struct Words<'a>(&'a [String]);

impl Words<'_> {
    fn position(&self, flag: &str) -> Option<usize> {
        self.0.iter().position(|w| w == flag)
    }

    fn after(&self, flag: &str) -> Option<&str> {
        self.0.get(self.position(flag)? + 1).map(String::as_str)
    }

    fn negated(&self, flag: &str) -> bool {
        self.position(flag)
            .and_then(|i| i.checked_sub(1))
            .is_some_and(|i| self.0[i] == "!")
    }
}

/// The entries of a run to draw: what is in the kernel, or for a run rolled
/// back, what it had made.
fn drawn(journal: &Journal) -> Vec<&plumb_journal::Entry> {
    let live: Vec<_> = journal
        .entries()
        .iter()
        .filter(|e| e.state.is_live())
        .collect();
    if !live.is_empty() {
        return live;
    }
    journal
        .entries()
        .iter()
        .filter(|e| e.state != EntryState::Failed)
        .collect()
}

fn owner_text(owner: &Owner) -> String {
    match owner {
        Owner::Run(r) => r.clone(),
        Owner::Shared => "shared".into(),
    }
}

/// What the runs made, from their journals.
pub fn from_runs(journals: &[&Journal]) -> Graph {
    let mut b = Builder::default();
    let mut sources = HashMap::new();
    for journal in journals {
        let run = journal.run_id.clone();
        sources.insert(run.clone(), shown_path(&journal.source));
        for entry in drawn(journal) {
            add_op(&mut b, &entry.op, &run);
        }
    }
    b.finish("runs", &sources)
}

fn add_op(b: &mut Builder, op: &Op, run: &str) {
    let mine = Some(run.to_string());
    match op {
        Op::NetnsAdd { name, .. } => {
            let n = b.ns(&NsRef::Named(name.clone()));
            b.namespaces[n].owner = mine;
        }
        Op::LinkAdd {
            ns,
            name,
            kind,
            settings,
            shared,
        } => {
            let owner = if *shared { Some("shared".into()) } else { mine };
            let l = b.link(ns, name);
            let node = &mut b.links[l];
            node.kind = kind.kernel_name().into();
            node.owner = owner.clone();
            node.made = true;
            node.mtu = settings.mtu;
            node.up = Some(settings.up);
            match kind {
                LinkKind::Veth { peer, peer_netns } => {
                    let p = b.link(peer_netns.as_ref().unwrap_or(ns), peer);
                    let node = &mut b.links[p];
                    node.kind = "veth".into();
                    node.owner = owner;
                    node.made = true;
                    node.mtu = settings.mtu;
                    node.up = Some(settings.up);
                    b.edge(EdgeKind::Veth, l, p, None, None);
                }
                LinkKind::Bridge => {}
                LinkKind::Vxlan { dev, spec } => {
                    if let Some(dev) = dev {
                        let d = b.link(ns, dev);
                        b.edge(
                            EdgeKind::Parent,
                            l,
                            d,
                            Some(format!("vxlan {}", spec.id)),
                            None,
                        );
                    }
                }
                LinkKind::Macvlan { parent, mode } => {
                    let p = b.link(ns, parent);
                    b.edge(
                        EdgeKind::Parent,
                        l,
                        p,
                        Some(format!("macvlan {}", mode.as_str())),
                        None,
                    );
                }
            }
            if let Some(master) = &settings.master {
                let m = b.link(ns, master);
                b.edge(EdgeKind::Port, l, m, None, None);
            }
        }
        Op::LinkSet {
            ns, name, change, ..
        } => {
            let l = b.link(ns, name);
            match change {
                plumb_kernel::LinkChange::Up => b.links[l].up = Some(true),
                plumb_kernel::LinkChange::Down => b.links[l].up = Some(false),
                plumb_kernel::LinkChange::Mtu(m) => b.links[l].mtu = Some(*m),
                plumb_kernel::LinkChange::Mac(_)
                | plumb_kernel::LinkChange::Alias(_)
                | plumb_kernel::LinkChange::Hairpin(_) => {}
            }
        }
        Op::LinkMove {
            ns,
            name,
            to,
            new_name,
        } => {
            let l = b.link(ns, name);
            let to = b.ns(to);
            let node = &mut b.links[l];
            node.ns = to;
            node.name = new_name.clone();
            node.addresses.clear();
            node.up = Some(false);
            b.drop_edges(EdgeKind::Port, l);
        }
        Op::SetMaster {
            ns, name, master, ..
        } => {
            let l = b.link(ns, name);
            b.drop_edges(EdgeKind::Port, l);
            if let Some(master) = master {
                let m = b.link(ns, master);
                b.edge(EdgeKind::Port, l, m, None, None);
            }
        }
        Op::AddrAdd { ns, dev, addr, .. } => {
            let l = b.link(ns, dev);
            let text = addr.to_string();
            if !b.links[l].addresses.contains(&text) {
                b.links[l].addresses.push(text);
            }
        }
        Op::RouteAdd { ns, route } => {
            let n = b.ns(ns);
            b.namespaces[n].routes.push(route_text(route));
        }
        Op::Firewall { batch, shared } => {
            let owner = if *shared { Some("shared".into()) } else { mine };
            for rule in &batch.rules {
                b.rules.push(RuleWords {
                    ns: batch.ns.clone(),
                    chain: rule.chain.clone(),
                    words: rule.matches.iter().chain(&rule.target).cloned().collect(),
                    owner: owner.clone(),
                });
            }
        }
        Op::Use { ns, name, owner } => {
            let l = b.link(ns, name);
            if !b.links[l].made {
                b.links[l].owner = Some(owner_text(owner));
            }
        }
        Op::Sysctl { .. } | Op::Spawn { .. } | Op::Lease { .. } => {}
    }
}

/// Split an iptables-save line into words (its comments are double-quoted).
fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut word = String::new();
        if c == '"' {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => word.extend(chars.next()),
                    '"' => break,
                    c => word.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                word.push(c);
                chars.next();
            }
        }
        words.push(word);
    }
    words
}

/// plumb's rules in `ns`, from iptables-save and ip6tables-save.
fn saved_rules(ns: &NsRef) -> Vec<RuleWords> {
    let mut rules = Vec::new();
    for command in ["iptables-save", "ip6tables-save"] {
        let argv = [command.to_string()];
        let Ok(out) = process::exec_in(ns, &argv, Some(std::time::Duration::from_secs(30)), None)
        else {
            continue; // no iptables here: no rules to draw
        };
        for line in out.stdout.lines() {
            let Some(rest) = line.strip_prefix("-A ") else {
                continue;
            };
            let words = split_words(rest);
            let Some(chain) = words.first().filter(|c| c.starts_with("PLUMB-")) else {
                continue;
            };
            let w = Words(&words);
            rules.push(RuleWords {
                ns: ns.clone(),
                chain: chain.clone(),
                owner: owner_of_mark(w.after("--comment")),
                words: words[1..].to_vec(),
            });
        }
    }
    rules
}

/// Where live journals say a plumb link's peer or parent is: by the link's
/// mark, (namespace, name).
fn journal_links(journals: &[Journal]) -> HashMap<String, (NsRef, String)> {
    let mut known = HashMap::new();
    for j in journals {
        for e in j.entries().iter().filter(|e| e.state.is_live()) {
            if let Op::LinkAdd { ns, kind, .. } = &e.op {
                let other = match kind {
                    LinkKind::Veth { peer, peer_netns } => Some((
                        peer_netns.clone().unwrap_or_else(|| ns.clone()),
                        peer.clone(),
                    )),
                    LinkKind::Macvlan { parent, .. } => Some((ns.clone(), parent.clone())),
                    LinkKind::Vxlan { dev, .. } => dev.clone().map(|d| (ns.clone(), d)),
                    LinkKind::Bridge => None,
                };
                if let Some(other) = other {
                    known.insert(plumb_journal::mark_of(&j.run_id, e.seq), other);
                }
            }
        }
    }
    known
}

/// The kernel as it is: the host and every named namespace.
pub fn live(k: &Kernel) -> Result<Graph> {
    let journals = Journal::list()?;
    let sources: HashMap<String, String> = journals
        .iter()
        .map(|j| (j.run_id.clone(), shown_path(&j.source)))
        .collect();
    let known = journal_links(&journals);
    let spaces: Vec<NsRef> = std::iter::once(NsRef::Host)
        .chain(netns::list_named().into_iter().map(NsRef::Named))
        .collect();
    let mut b = Builder::default();
    // (node, namespace, what the kernel says) of every link drawn.
    let mut seen: Vec<(usize, NsRef, LinkInfo)> = Vec::new();
    for ns in &spaces {
        // A namespace file whose namespace is gone, or one plumb may not enter: skipped.
        let Ok(links) = k.links(ns) else { continue };
        let addrs = k.addrs(ns)?;
        let routes = k.routes(ns)?;
        let n = b.ns(ns);
        let name_of = |index: u32| {
            links
                .iter()
                .find(|l| l.index == index)
                .map(|l| l.name.clone())
        };
        for link in &links {
            if link.name == "lo" {
                b.namespaces[n].owner = owner_of_mark(link.alias.as_deref());
                continue;
            }
            let l = b.link(ns, &link.name);
            let node = &mut b.links[l];
            node.kind = link.kind.clone();
            node.owner = owner_of_mark(link.alias.as_deref());
            node.made = true;
            node.mtu = Some(link.mtu);
            node.up = Some(link.up);
            node.addresses = addrs
                .iter()
                .filter(|a| a.index == link.index)
                .filter(|a| !matches!(a.addr, IpNet::V6(v6) if v6.addr().segments()[0] & 0xffc0 == 0xfe80))
                .map(|a| a.addr.to_string())
                .collect();
            seen.push((l, ns.clone(), link.clone()));
        }
        for route in routes.iter().filter(|r| r.table == MAIN_TABLE) {
            if route.dest.is_some() && route.via.is_none() {
                continue; // a connected route: the address says it
            }
            let dev = route.dev.and_then(name_of);
            if route.dest.is_none() {
                if let Some(uplink) = dev.as_deref().and_then(|d| b.find(ns, d)) {
                    b.uplinks.entry(n).or_insert(uplink);
                }
            }
            b.namespaces[n]
                .routes
                .push(route_text(&plumb_kernel::Route {
                    dest: route.dest,
                    via: route.via,
                    dev: if route.via.is_some() { None } else { dev },
                }));
        }
        b.rules.extend(saved_rules(ns));
    }
    // Bridge ports: the master is in the same namespace.
    for (l, ns, info) in &seen {
        if let Some(name) = info
            .master
            .and_then(|m| seen.iter().find(|(_, n, i)| n == ns && i.index == m))
            .map(|(_, _, i)| i.name.clone())
        {
            let m = b.find(ns, &name).expect("seen links are drawn");
            b.edge(EdgeKind::Port, *l, m, None, None);
        }
    }
    pair_veths(&mut b, &seen, &known);
    link_parents(&mut b, &seen, &known);
    // A veth end without a mark is its pair's (plumb marks the end it names).
    let pairs: Vec<(usize, usize)> = b
        .edges
        .iter()
        .filter(|e| e.kind == EdgeKind::Veth)
        .map(|e| (e.from, e.to))
        .collect();
    for (a, p) in pairs {
        match (b.links[a].owner.clone(), b.links[p].owner.clone()) {
            (Some(o), None) => b.links[p].owner = Some(o),
            (None, Some(o)) => b.links[a].owner = Some(o),
            _ => {}
        }
    }
    Ok(b.finish("live", &sources))
}

/// Veth pairs: the kernel names a veth's peer by index only, in a namespace
/// it does not name. A peer the journals know (by the link's mark) is
/// taken first; the rest are matched by their indexes pointing at each
/// other, in the same namespace first.
fn pair_veths(
    b: &mut Builder,
    seen: &[(usize, NsRef, LinkInfo)],
    known: &HashMap<String, (NsRef, String)>,
) {
    let veths: Vec<&(usize, NsRef, LinkInfo)> =
        seen.iter().filter(|(_, _, i)| i.kind == "veth").collect();
    let mut paired = vec![false; veths.len()];
    let mutual = |a: &LinkInfo, p: &LinkInfo| a.link == Some(p.index) && p.link == Some(a.index);
    for (i, (_, _, info)) in veths.iter().enumerate() {
        let Some((peer_ns, peer)) = info.alias.as_ref().and_then(|m| known.get(m)) else {
            continue;
        };
        if let Some(j) = veths
            .iter()
            .position(|(_, n, p)| n == peer_ns && p.name == *peer && mutual(info, p))
        {
            if !paired[i] && !paired[j] && i != j {
                paired[i] = true;
                paired[j] = true;
                b.edge(EdgeKind::Veth, veths[i].0, veths[j].0, None, None);
            }
        }
    }
    for i in 0..veths.len() {
        if paired[i] {
            continue;
        }
        let (_, ns, info) = veths[i];
        let candidates =
            (0..veths.len()).filter(|&j| j != i && !paired[j] && mutual(info, &veths[j].2));
        let best = candidates.min_by_key(|&j| veths[j].1 != *ns);
        if let Some(j) = best {
            paired[i] = true;
            paired[j] = true;
            b.edge(EdgeKind::Veth, veths[i].0, veths[j].0, None, None);
        }
    }
}

/// VXLAN and macvlan parents: by the journal for plumb's links (a macvlan
/// moved into a container names a parent in the namespace it was made in);
/// otherwise the link with that index beside it, or else in the host.
fn link_parents(
    b: &mut Builder,
    seen: &[(usize, NsRef, LinkInfo)],
    known: &HashMap<String, (NsRef, String)>,
) {
    for (l, ns, info) in seen.iter().filter(|(_, _, i)| i.kind != "veth") {
        // A VXLAN's device is not its IFLA_LINK: only the journal names it.
        let by_journal = info
            .alias
            .as_ref()
            .and_then(|m| known.get(m))
            .and_then(|(pns, pname)| b.find(pns, pname));
        let by_index = || {
            let index = info.link?;
            [ns, &NsRef::Host].into_iter().find_map(|n| {
                seen.iter()
                    .find(|(other, sns, i)| other != l && sns == n && i.index == index)
                    .map(|(other, _, _)| *other)
            })
        };
        if let Some(parent) = by_journal.or_else(by_index) {
            b.edge(EdgeKind::Parent, *l, parent, Some(info.kind.clone()), None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_lines_split_into_words_with_quoted_comments() {
        assert_eq!(
            split_words(r#"PLUMB-DNAT -p tcp -m comment --comment "plumb:r 1/2" -j DNAT"#),
            vec![
                "PLUMB-DNAT",
                "-p",
                "tcp",
                "-m",
                "comment",
                "--comment",
                "plumb:r 1/2",
                "-j",
                "DNAT"
            ]
        );
    }

    #[test]
    fn marks_name_owners() {
        assert_eq!(
            owner_of_mark(Some("plumb:20261123-1-4/7")).as_deref(),
            Some("20261123-1-4")
        );
        assert_eq!(owner_of_mark(Some(SHARED_MARK)).as_deref(), Some("shared"));
        assert_eq!(
            owner_of_mark(Some("plumb:shared/0a1b")).as_deref(),
            Some("shared")
        );
        assert_eq!(owner_of_mark(Some("uplink")), None);
        assert_eq!(owner_of_mark(None), None);
    }
}
