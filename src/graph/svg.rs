//! SVG, drawn by plumb itself (no other program needed) or by Graphviz's
//! `dot` from the DOT text (`--renderer graphviz`, when it is installed).
//!
//! plumb's layout is layered twice. Namespaces are boxes in ranks: a
//! namespace whose bridge port is one end of a veth sits above the
//! namespace with the other end, a macvlan's parent above the macvlan, the
//! host above the namespaces it joins directly, and joined namespaces
//! without a bridge between them side by side; each rank is ordered by
//! where its links' partners sit above. Inside a box, links are in rows: a
//! bridge above its ports, a parent above what is built on it, the way out
//! above what is NATed through it. Edges are vertical curves between rows
//! and ranks (a published port runs down a channel beside its box); labels
//! move a line up or down off links and other labels. Both renderings mark
//! their parts alike (`g.cluster`, `g.node.link.KIND`, `g.edge.KIND`, each
//! with a `<title>`).

use std::collections::HashMap;
use std::fmt::Write;
use std::process::{Command, Stdio};

use super::{caption, class_of, label_lines, legend, paint, Paint};
use crate::error::{Error, Result};
use crate::schema::{EdgeKind, Graph};

const CHAR_W: f64 = 6.7;
const LINE_H: f64 = 14.0;
const NODE_PAD_X: f64 = 8.0;
const NODE_PAD_Y: f64 = 5.0;
const NODE_GAP: f64 = 18.0;
const ROW_GAP: f64 = 40.0;
const BOX_PAD: f64 = 12.0;
const TITLE_H: f64 = 24.0;
const BOX_GAP: f64 = 36.0;
const RANK_GAP: f64 = 76.0;
const MARGIN: f64 = 20.0;

/// Is Graphviz's `dot` on PATH?
pub fn graphviz_available() -> bool {
    Command::new("dot")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// SVG from Graphviz: `dot -Tsvg` of the DOT text.
pub fn with_graphviz(graph: &Graph) -> Result<String> {
    let run = |e| Error::io("run Graphviz's dot", e);
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(run)?;
    let text = super::dot::render(graph);
    let mut stdin = child.stdin.take().expect("piped");
    let writer = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, text.as_bytes()));
    let out = child.wait_with_output().map_err(run)?;
    writer
        .join()
        .expect("the writer thread does not panic")
        .map_err(run)?;
    if !out.status.success() {
        return Err(Error::Usage(format!(
            "Graphviz's dot failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn text_width(text: &str) -> f64 {
    text.chars().count() as f64 * CHAR_W
}

struct Node {
    ns: usize,
    id: String,
    kind: String,
    lines: Vec<String>,
    paint: Paint,
    w: f64,
    h: f64,
    /// Relative to its box, then absolute.
    x: f64,
    y: f64,
    depth: usize,
}

impl Node {
    fn cx(&self) -> f64 {
        self.x + self.w / 2.0
    }
    fn cy(&self) -> f64 {
        self.y + self.h / 2.0
    }
}

struct NsBox {
    title: String,
    host: bool,
    routes: Vec<String>,
    paint: Paint,
    rows: Vec<Vec<usize>>,
    w: f64,
    h: f64,
    x: f64,
    y: f64,
    rank: usize,
}

struct Layout {
    nodes: Vec<Node>,
    boxes: Vec<NsBox>,
    edges: Vec<(EdgeKind, usize, usize, Option<String>)>,
}

/// Links in a box that each link hangs below: its bridge, its parent, the
/// way out it is NATed through.
fn ups(layout: &Layout) -> Vec<Vec<usize>> {
    let mut ups = vec![Vec::new(); layout.nodes.len()];
    for &(kind, a, b, _) in &layout.edges {
        if layout.nodes[a].ns != layout.nodes[b].ns {
            continue;
        }
        match kind {
            EdgeKind::Port | EdgeKind::Parent | EdgeKind::Masquerade => ups[a].push(b),
            EdgeKind::Veth | EdgeKind::Publish | EdgeKind::Isolate => {}
        }
    }
    ups
}

fn build(graph: &Graph) -> Layout {
    let mut nodes = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut boxes = Vec::new();
    for (n, ns) in graph.namespaces.iter().enumerate() {
        for link in &ns.links {
            let lines = label_lines(link);
            let w = lines.iter().map(|l| text_width(l)).fold(60.0, f64::max) + 2.0 * NODE_PAD_X;
            index.insert(&link.id, nodes.len());
            nodes.push(Node {
                ns: n,
                id: link.id.clone(),
                kind: if link.kind.is_empty() {
                    "device".into()
                } else {
                    link.kind.clone()
                },
                h: lines.len() as f64 * LINE_H + 2.0 * NODE_PAD_Y,
                lines,
                paint: paint(graph, link.owner.as_deref()),
                w,
                x: 0.0,
                y: 0.0,
                depth: 0,
            });
        }
        boxes.push(NsBox {
            title: ns.name.clone(),
            host: ns.kind == crate::schema::NamespaceKind::Host,
            routes: ns.routes.clone(),
            paint: paint(graph, ns.owner.as_deref()),
            rows: Vec::new(),
            w: 0.0,
            h: 0.0,
            x: 0.0,
            y: 0.0,
            rank: 0,
        });
    }
    let edges = graph
        .edges
        .iter()
        .filter_map(|e| {
            Some((
                e.kind,
                *index.get(e.from.as_str())?,
                *index.get(e.to.as_str())?,
                e.label.clone(),
            ))
        })
        .collect();
    Layout {
        nodes,
        boxes,
        edges,
    }
}

/// Rows inside each box, and the box's size.
fn lay_out_boxes(layout: &mut Layout) {
    let ups = ups(layout);
    let n = layout.nodes.len();
    for _ in 0..=n {
        let mut changed = false;
        for (i, up) in ups.iter().enumerate() {
            let depth = up
                .iter()
                .map(|&u| layout.nodes[u].depth + 1)
                .max()
                .unwrap_or(0)
                .min(n);
            if depth != layout.nodes[i].depth {
                layout.nodes[i].depth = depth;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    for (b, nsbox) in layout.boxes.iter_mut().enumerate() {
        let members: Vec<usize> = (0..n).filter(|&i| layout.nodes[i].ns == b).collect();
        let deepest = members.iter().map(|&i| layout.nodes[i].depth).max();
        let mut rows: Vec<Vec<usize>> = match deepest {
            Some(d) => (0..=d)
                .map(|d| {
                    members
                        .iter()
                        .copied()
                        .filter(|&i| layout.nodes[i].depth == d)
                        .collect()
                })
                .filter(|r: &Vec<usize>| !r.is_empty())
                .collect(),
            None => Vec::new(),
        };
        // Each row under the links it hangs from.
        for r in 1..rows.len() {
            let place: HashMap<usize, usize> = rows[..r]
                .iter()
                .flat_map(|row| row.iter().enumerate().map(|(p, &i)| (i, p)))
                .collect();
            let key = |i: &usize| {
                let above: Vec<f64> = ups[*i]
                    .iter()
                    .filter_map(|u| place.get(u))
                    .map(|&p| p as f64)
                    .collect();
                if above.is_empty() {
                    f64::MAX
                } else {
                    above.iter().sum::<f64>() / above.len() as f64
                }
            };
            rows[r].sort_by(|a, b| key(a).total_cmp(&key(b)));
        }
        let row_w = |row: &Vec<usize>, nodes: &[Node]| {
            row.iter().map(|&i| nodes[i].w).sum::<f64>()
                + NODE_GAP * row.len().saturating_sub(1) as f64
        };
        let inner = rows
            .iter()
            .map(|r| row_w(r, &layout.nodes))
            .chain(std::iter::once(text_width(&nsbox.title) + 20.0))
            .chain(nsbox.routes.iter().map(|r| text_width(&format!("↳ {r}"))))
            .fold(80.0, f64::max);
        let mut y = TITLE_H;
        for row in &rows {
            let mut x = BOX_PAD + (inner - row_w(row, &layout.nodes)) / 2.0;
            let height = row.iter().map(|&i| layout.nodes[i].h).fold(0.0, f64::max);
            for &i in row {
                let node = &mut layout.nodes[i];
                node.x = x;
                node.y = y;
                x += node.w + NODE_GAP;
            }
            y += height + ROW_GAP;
        }
        if !rows.is_empty() {
            y -= ROW_GAP - BOX_PAD;
        }
        nsbox.w = inner + 2.0 * BOX_PAD;
        nsbox.h = y + nsbox.routes.len() as f64 * LINE_H + 4.0;
        nsbox.rows = rows;
    }
}

/// Ranks of namespaces (see the module's doc).
fn rank_boxes(layout: &mut Layout) {
    let count = layout.boxes.len();
    let mut above: Vec<(usize, usize)> = Vec::new();
    let mut beside: Vec<(usize, usize)> = Vec::new();
    let mut joined = vec![false; count];
    let host: Vec<bool> = layout.boxes.iter().map(|b| b.host).collect();
    for &(kind, a, b, _) in &layout.edges {
        let (na, nb) = (&layout.nodes[a], &layout.nodes[b]);
        if na.ns == nb.ns {
            continue;
        }
        let (ba, bb) = (na.ns, nb.ns);
        match kind {
            EdgeKind::Veth => {
                joined[ba] = true;
                joined[bb] = true;
                match (na.depth > 0, nb.depth > 0) {
                    _ if host[ba] => above.push((ba, bb)),
                    _ if host[bb] => above.push((bb, ba)),
                    (true, false) => above.push((ba, bb)),
                    (false, true) => above.push((bb, ba)),
                    _ => beside.push((ba, bb)),
                }
            }
            EdgeKind::Parent => {
                joined[ba] = true;
                joined[bb] = true;
                above.push((bb, ba));
            }
            EdgeKind::Port | EdgeKind::Masquerade | EdgeKind::Publish | EdgeKind::Isolate => {}
        }
    }
    let mut rank = vec![0usize; count];
    for _ in 0..=count {
        let mut changed = false;
        for &(a, b) in &above {
            if rank[b] < rank[a] + 1 && rank[a] < count {
                rank[b] = rank[a] + 1;
                changed = true;
            }
        }
        for &(a, b) in &beside {
            let m = rank[a].max(rank[b]);
            if rank[a] != m || rank[b] != m {
                rank[a] = m;
                rank[b] = m;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    // A namespace joined to nothing is a leaf, like the containers.
    let lowest = rank.iter().copied().max().unwrap_or(0);
    for b in 0..count {
        layout.boxes[b].rank = if joined[b] || host[b] {
            rank[b]
        } else {
            lowest
        };
    }
}

/// In each row of the rank's boxes, links joined to a box beside them
/// move to the side that faces it, so the join crosses no other link.
fn face_neighbours(layout: &mut Layout, members: &[usize]) {
    for &b in members {
        let side = |i: usize, l: &Layout| {
            l.edges
                .iter()
                .filter(|e| e.0 == EdgeKind::Veth && (e.1 == i || e.2 == i))
                .map(|e| if e.1 == i { e.2 } else { e.1 })
                .map(|other| l.nodes[other].ns)
                .filter(|&ob| ob != b && members.contains(&ob))
                .map(|ob| (l.boxes[ob].x - l.boxes[b].x).signum() as i8)
                .next()
                .unwrap_or(0)
        };
        for r in 0..layout.boxes[b].rows.len() {
            let mut row = layout.boxes[b].rows[r].clone();
            let Some(start) = row.iter().map(|&i| layout.nodes[i].x).reduce(f64::min) else {
                continue;
            };
            row.sort_by_key(|&i| side(i, layout));
            let mut x = start;
            for &i in &row {
                layout.nodes[i].x = x;
                x += layout.nodes[i].w + NODE_GAP;
            }
            layout.boxes[b].rows[r] = row;
        }
    }
}

/// Boxes placed rank by rank, each under its partners above.
fn place_boxes(layout: &mut Layout) {
    let ranks = layout
        .boxes
        .iter()
        .map(|b| b.rank)
        .max()
        .map_or(0, |r| r + 1);
    let mut y = MARGIN;
    let mut placed: Vec<bool> = vec![false; layout.boxes.len()];
    for r in 0..ranks {
        let members: Vec<usize> = (0..layout.boxes.len())
            .filter(|&b| layout.boxes[b].rank == r)
            .collect();
        if members.is_empty() {
            continue;
        }
        // Where the links each box is joined to sit, among boxes already placed.
        let desired = |b: usize, l: &Layout| {
            let xs: Vec<f64> = l
                .edges
                .iter()
                .filter_map(|&(_, p, q, _)| {
                    let (np, nq) = (&l.nodes[p], &l.nodes[q]);
                    if np.ns == b && nq.ns != b && placed[nq.ns] {
                        Some(l.boxes[nq.ns].x + nq.cx())
                    } else if nq.ns == b && np.ns != b && placed[np.ns] {
                        Some(l.boxes[np.ns].x + np.cx())
                    } else {
                        None
                    }
                })
                .collect();
            (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
        };
        let mut order: Vec<(usize, Option<f64>)> =
            members.iter().map(|&b| (b, desired(b, layout))).collect();
        order.sort_by(|a, b| {
            a.1.unwrap_or(f64::MAX)
                .total_cmp(&b.1.unwrap_or(f64::MAX))
                .then(a.0.cmp(&b.0))
        });
        let mut cursor = 0.0f64;
        let mut shift = Vec::new();
        for &(b, want) in &order {
            let w = layout.boxes[b].w;
            let x = match want {
                Some(c) => cursor.max(c - w / 2.0),
                None => cursor,
            };
            layout.boxes[b].x = x;
            layout.boxes[b].y = y;
            cursor = x + w + BOX_GAP;
            if let Some(c) = want {
                shift.push(c - (x + w / 2.0));
            }
        }
        // Centre the rank on its partners as a whole.
        if !shift.is_empty() {
            let delta = shift.iter().sum::<f64>() / shift.len() as f64;
            for &(b, _) in &order {
                layout.boxes[b].x += delta;
            }
        }
        for &(b, _) in &order {
            placed[b] = true;
        }
        face_neighbours(layout, &members);
        let height = members
            .iter()
            .map(|&b| layout.boxes[b].h)
            .fold(0.0, f64::max);
        y += height + RANK_GAP;
    }
    let left = layout.boxes.iter().map(|b| b.x).fold(f64::MAX, f64::min);
    let dx = if left == f64::MAX { 0.0 } else { MARGIN - left };
    for b in &mut layout.boxes {
        b.x += dx;
    }
    for node in &mut layout.nodes {
        let b = &layout.boxes[node.ns];
        node.x += b.x;
        node.y += b.y;
    }
}

/// Where a label's text stands relative to its point.
#[derive(Clone, Copy, PartialEq)]
enum Anchor {
    Start,
    Middle,
    End,
}

impl Anchor {
    fn svg(self) -> &'static str {
        match self {
            Anchor::Start => "start",
            Anchor::Middle => "middle",
            Anchor::End => "end",
        }
    }
}

/// An edge's path, and where its label goes.
struct Route {
    path: String,
    label: (f64, f64, Anchor),
}

fn cubic(p: [(f64, f64); 4], t: f64) -> (f64, f64) {
    let u = 1.0 - t;
    let (a, b, c, d) = (u * u * u, 3.0 * u * u * t, 3.0 * u * t * t, t * t * t);
    (
        a * p[0].0 + b * p[1].0 + c * p[2].0 + d * p[3].0,
        a * p[0].1 + b * p[1].1 + c * p[2].1 + d * p[3].1,
    )
}

fn curve(p: [(f64, f64); 4]) -> String {
    format!(
        "M{:.1},{:.1} C{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}",
        p[0].0, p[0].1, p[1].0, p[1].1, p[2].0, p[2].1, p[3].0, p[3].1
    )
}

/// Is another link of the same row between `a` and `b`?
fn between(layout: &Layout, a: &Node, b: &Node) -> bool {
    let (lo, hi) = (a.cx().min(b.cx()), a.cx().max(b.cx()));
    layout
        .nodes
        .iter()
        .any(|n| n.ns == a.ns && (n.y - a.y).abs() < 1.0 && n.cx() > lo + 1.0 && n.cx() < hi - 1.0)
}

/// The path of an edge between two links: side to side when they are
/// level (over the row when others stand between), else a vertical curve.
fn route(layout: &Layout, a: &Node, b: &Node) -> Route {
    let level = (a.cy() - b.cy()).abs() < a.h.min(b.h) / 2.0;
    if level && a.ns == b.ns && between(layout, a, b) {
        let (x1, x2, y) = (a.cx(), b.cx(), a.y.min(b.y));
        let lift = 14.0 + (x2 - x1).abs() / 12.0;
        let p = [(x1, y), (x1, y - lift), (x2, y - lift), (x2, y)];
        let (lx, ly) = cubic(p, 0.5);
        return Route {
            path: curve(p),
            label: (lx, ly - 4.0, Anchor::Middle),
        };
    }
    if level {
        let (l, r) = if a.cx() <= b.cx() { (a, b) } else { (b, a) };
        let (x1, y1, x2, y2) = (l.x + l.w, l.cy(), r.x, r.cy());
        let mid = (x1 + x2) / 2.0;
        return Route {
            path: curve([(x1, y1), (mid, y1), (mid, y2), (x2, y2)]),
            label: (mid, (y1 + y2) / 2.0 - 5.0, Anchor::Middle),
        };
    }
    let (y1, y2) = if a.cy() < b.cy() {
        (a.y + a.h, b.y)
    } else {
        (a.y, b.y + b.h)
    };
    let (x1, x2) = (a.cx(), b.cx());
    let bend = (y2 - y1) / 2.0;
    let p = [(x1, y1), (x1, y1 + bend), (x2, y2 - bend), (x2, y2)];
    let (lx, ly) = cubic(p, 0.5);
    Route {
        path: curve(p),
        label: (lx + 6.0, ly + 4.0, Anchor::Start),
    }
}

/// A published port's path: out of the side of the way out that faces the
/// target, down a channel beside its box (the `lane`th), and into the
/// target from above, crossing no link of the box it leaves.
fn around(a: &Node, b: &Node, owner: &NsBox, lane: usize) -> Route {
    let left = b.cx() < owner.x + owner.w / 2.0;
    let offset = 12.0 + lane as f64 * 10.0;
    let (x1, channel, step) = if left {
        (a.x, owner.x - offset, 6.0)
    } else {
        (a.x + a.w, owner.x + owner.w + offset, -6.0)
    };
    let y1 = a.cy();
    let (x2, y2) = (b.x + b.w * if left { 0.3 } else { 0.7 }, b.y);
    let turn = y2 - 26.0;
    Route {
        path: format!(
            "M{x1:.1},{y1:.1} H{:.1} Q{channel:.1},{y1:.1} {channel:.1},{:.1} V{turn:.1} C{channel:.1},{:.1} {x2:.1},{:.1} {x2:.1},{y2:.1}",
            channel + step,
            y1 + 6.0,
            turn + 14.0,
            turn + 6.0
        ),
        label: if left {
            (channel - 5.0, y1 + 18.0 + lane as f64 * 13.0, Anchor::End)
        } else {
            (channel + 5.0, y1 + 18.0 + lane as f64 * 13.0, Anchor::Start)
        },
    }
}

/// Stroke, dashes and arrow of an edge kind; its legend text.
fn edge_look(kind: EdgeKind) -> (&'static str, f64, &'static str, &'static str, &'static str) {
    match kind {
        EdgeKind::Veth => ("#374151", 1.8, "", "", "veth pair"),
        EdgeKind::Port => ("#6b7280", 1.2, "", "", "bridge port"),
        EdgeKind::Parent => ("#6b7280", 1.2, "5 3", "", "built on (vxlan, macvlan)"),
        EdgeKind::Masquerade => ("#c2410c", 1.4, "", "nat", "masquerade (to the way out)"),
        EdgeKind::Publish => ("#1d4ed8", 1.4, "", "pub", "published port"),
        EdgeKind::Isolate => ("#dc2626", 1.6, "2 3", "", "isolated from each other (✕)"),
    }
}

fn dash(paint: &Paint) -> &'static str {
    if paint.dashed {
        " stroke-dasharray=\"4 3\""
    } else {
        ""
    }
}

/// A rectangle: left, top, right, bottom.
type Rect = (f64, f64, f64, f64);

fn overlaps(a: Rect, b: Rect) -> bool {
    a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3
}

/// Labels placed clear of links and of each other, moved up or down a
/// line at a time when they are not.
struct Labels {
    /// The links' rectangles, then the labels placed so far.
    taken: Vec<Rect>,
    /// How many of `taken` are links.
    links: usize,
    svg: String,
    /// Leftmost and rightmost x of any label.
    span: (f64, f64),
}

impl Labels {
    fn place(&mut self, text: &str, (x, y, anchor): (f64, f64, Anchor), color: &str) {
        let w = text_width(text) * 10.0 / 11.0;
        let left = match anchor {
            Anchor::Start => x,
            Anchor::Middle => x - w / 2.0,
            Anchor::End => x - w,
        };
        let rect = |dy: f64| (left - 2.0, y + dy - 10.0, left + w + 2.0, y + dy + 3.0);
        let shifts = [0.0, 13.0, -13.0, 26.0, -26.0, 39.0, -39.0];
        let clear = |dy: f64, among: &[Rect]| !among.iter().any(|t| overlaps(*t, rect(dy)));
        // Clear of everything, else at least of other labels (text over a
        // link's border reads; text over text does not).
        let dy = shifts
            .into_iter()
            .find(|&dy| clear(dy, &self.taken))
            .or_else(|| {
                shifts
                    .into_iter()
                    .find(|&dy| clear(dy, &self.taken[self.links..]))
            })
            .unwrap_or(0.0);
        self.taken.push(rect(dy));
        self.span = (self.span.0.min(left), self.span.1.max(left + w));
        let _ = writeln!(
            self.svg,
            "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"{}\" font-size=\"10\" fill=\"{color}\" stroke=\"#ffffff\" stroke-width=\"3\" paint-order=\"stroke\">{}</text>",
            y + dy,
            anchor.svg(),
            xml(text)
        );
    }
}

/// SVG by plumb's own layout.
pub fn render(graph: &Graph) -> String {
    let mut layout = build(graph);
    lay_out_boxes(&mut layout);
    rank_boxes(&mut layout);
    place_boxes(&mut layout);
    let mut body = String::new();
    for b in &layout.boxes {
        let _ = write!(
            body,
            "<g class=\"cluster namespace\"><title>{}</title>\
             <rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"8\" fill=\"#f9fafb\" stroke=\"{}\" stroke-width=\"1.5\"{}/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-weight=\"bold\" fill=\"{}\">{}</text>",
            xml(&b.title),
            b.x,
            b.y,
            b.w,
            b.h,
            b.paint.stroke,
            dash(&b.paint),
            b.x + 10.0,
            b.y + 16.0,
            b.paint.stroke,
            xml(&b.title)
        );
        for (i, r) in b.routes.iter().enumerate() {
            let _ = write!(
                body,
                "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#4b5563\">{}</text>",
                b.x + BOX_PAD,
                b.y + b.h - 6.0 - (b.routes.len() - 1 - i) as f64 * LINE_H,
                xml(&format!("↳ {r}"))
            );
        }
        body += "</g>\n";
    }
    let mut labels = Labels {
        taken: layout
            .nodes
            .iter()
            .map(|n| (n.x, n.y, n.x + n.w, n.y + n.h))
            .collect(),
        links: layout.nodes.len(),
        svg: String::new(),
        span: (f64::MAX, f64::MIN),
    };
    let mut lanes: HashMap<usize, usize> = HashMap::new();
    for (kind, a, b, label) in &layout.edges {
        let (na, nb) = (&layout.nodes[*a], &layout.nodes[*b]);
        let r = match kind {
            EdgeKind::Publish if nb.y > na.y + na.h => {
                let lane = lanes.entry(na.ns).or_default();
                *lane += 1;
                around(na, nb, &layout.boxes[na.ns], *lane - 1)
            }
            _ => route(&layout, na, nb),
        };
        let (color, width, dashes, arrow, _) = edge_look(*kind);
        let _ = writeln!(
            body,
            "<g class=\"edge {}\"><title>{} -- {}</title><path d=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"{width}\"{}{}/></g>",
            class_of(*kind),
            xml(&na.id),
            xml(&nb.id),
            r.path,
            if dashes.is_empty() { String::new() } else { format!(" stroke-dasharray=\"{dashes}\"") },
            if arrow.is_empty() { String::new() } else { format!(" marker-end=\"url(#{arrow})\"") },
        );
        match (kind, label) {
            // Between two bridges there is room for a mark, not a word (the legend says it).
            (EdgeKind::Isolate, _) => labels.place("✕", r.label, color),
            (_, Some(label)) => labels.place(label, r.label, color),
            (_, None) => {}
        }
    }
    for n in &layout.nodes {
        let _ = write!(
            body,
            "<g class=\"node link {}\"><title>{}</title>\
             <rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"5\" fill=\"{}\" stroke=\"{}\" stroke-width=\"1.2\"{}/>",
            xml(&n.kind),
            xml(&n.id),
            n.x,
            n.y,
            n.w,
            n.h,
            n.paint.fill,
            n.paint.stroke,
            dash(&n.paint)
        );
        for (i, line) in n.lines.iter().enumerate() {
            let _ = write!(
                body,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\"{}>{}</text>",
                n.cx(),
                n.y + NODE_PAD_Y + 11.0 + i as f64 * LINE_H,
                if i == 0 {
                    " font-weight=\"bold\""
                } else {
                    " fill=\"#374151\""
                },
                xml(line)
            );
        }
        body += "</g>\n";
    }
    let (legend_svg, legend_w, bottom) = legend_svg(graph, &layout);
    let left = (labels.span.0 - MARGIN).min(0.0);
    let right = layout
        .boxes
        .iter()
        .map(|b| b.x + b.w)
        .fold(MARGIN + legend_w, f64::max)
        .max(labels.span.1)
        + MARGIN;
    let (width, height) = (right - left, bottom + MARGIN);
    let marker = |id: &str, color: &str| {
        format!(
            "<marker id=\"{id}\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"{color}\"/></marker>"
        )
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"{left:.0} 0 {width:.0} {height:.0}\" \
         font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\" font-size=\"11\">\n\
         <title>{}</title>\n<defs>{}{}</defs>\n\
         <rect x=\"{left:.0}\" width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n\
         <g class=\"graph\">\n{body}<g class=\"labels\">\n{}</g>\n<g class=\"legend\">{legend_svg}</g>\n</g>\n</svg>\n",
        xml(&caption(graph)),
        marker("nat", "#c2410c"),
        marker("pub", "#1d4ed8"),
        labels.svg,
    )
}

/// The legend under the drawing: the caption, each owner's colour, then
/// the kinds of edges drawn. Returns it, its width and where it ends.
fn legend_svg(graph: &Graph, layout: &Layout) -> (String, f64, f64) {
    let mut y = layout
        .boxes
        .iter()
        .map(|b| b.y + b.h)
        .fold(MARGIN, f64::max)
        + 24.0;
    let mut svg = format!(
        "<text x=\"{MARGIN}\" y=\"{y:.1}\" font-weight=\"bold\">{}</text>",
        xml(&caption(graph))
    );
    let mut widest = text_width(&caption(graph));
    for (text, p) in legend(graph) {
        y += 18.0;
        let _ = write!(
            svg,
            "<rect x=\"{MARGIN}\" y=\"{:.1}\" width=\"14\" height=\"12\" rx=\"3\" fill=\"{}\" stroke=\"{}\"{}/>\
             <text x=\"{:.1}\" y=\"{y:.1}\">{}</text>",
            y - 10.0,
            p.fill,
            p.stroke,
            dash(&p),
            MARGIN + 22.0,
            xml(&text)
        );
        widest = widest.max(22.0 + text_width(&text));
    }
    let mut kinds: Vec<EdgeKind> = layout.edges.iter().map(|e| e.0).collect();
    kinds.sort();
    kinds.dedup();
    let mut x = MARGIN;
    y += 22.0;
    for kind in kinds {
        let (color, width, dashes, arrow, text) = edge_look(kind);
        let _ = write!(
            svg,
            "<path d=\"M{x:.1},{:.1} h26\" stroke=\"{color}\" stroke-width=\"{width}\"{}{}/>\
             <text x=\"{:.1}\" y=\"{y:.1}\" fill=\"#374151\">{}</text>",
            y - 4.0,
            if dashes.is_empty() {
                String::new()
            } else {
                format!(" stroke-dasharray=\"{dashes}\"")
            },
            if arrow.is_empty() {
                String::new()
            } else {
                format!(" marker-end=\"url(#{arrow})\"")
            },
            x + 34.0,
            xml(text)
        );
        x += 34.0 + text_width(text) + 22.0;
    }
    (svg, widest.max(x - MARGIN), y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bridge_is_above_its_port_and_the_namespace_below_the_host() {
        let graph = super::super::fixture::graph();
        let mut layout = build(&graph);
        lay_out_boxes(&mut layout);
        rank_boxes(&mut layout);
        place_boxes(&mut layout);
        let node = |id: &str| layout.nodes.iter().find(|n| n.id == id).unwrap();
        assert!(node("host/br0").y < node("host/veth0").y);
        assert!(
            node("host/(uplink)").y < node("host/br0").y,
            "the way out on top"
        );
        assert!(node("host/veth0").y + node("host/veth0").h < node("netns0/ceth0").y);
        assert_eq!((layout.boxes[0].rank, layout.boxes[1].rank), (0, 1));
        // Nodes sit inside their boxes.
        for n in &layout.nodes {
            let b = &layout.boxes[n.ns];
            assert!(n.x >= b.x && n.x + n.w <= b.x + b.w + 0.01, "{}", n.id);
            assert!(n.y >= b.y && n.y + n.h <= b.y + b.h + 0.01, "{}", n.id);
        }
    }

    #[test]
    fn parts_are_marked_and_text_escaped() {
        let mut graph = super::super::fixture::graph();
        graph.namespaces[1].name = "a<b&c".into();
        let svg = render(&graph);
        assert_eq!(svg.matches("<g class=\"cluster namespace\">").count(), 2);
        assert_eq!(svg.matches("<g class=\"node link ").count(), 5);
        assert_eq!(svg.matches("<g class=\"edge veth\">").count(), 1);
        assert!(svg.contains("<title>a&lt;b&amp;c</title>"), "{svg}");
        assert!(!svg.contains("a<b"), "{svg}");
    }

    #[test]
    fn siblings_joined_without_a_bridge_share_a_rank() {
        use crate::schema::*;
        let mut graph = super::super::fixture::graph();
        graph.namespaces.remove(0);
        graph.namespaces.push(GraphNamespace {
            name: "right".into(),
            kind: NamespaceKind::Named,
            owner: None,
            links: vec![GraphLink {
                id: "right/eth0".into(),
                name: "eth0".into(),
                kind: "veth".into(),
                owner: None,
                mtu: None,
                up: None,
                addresses: vec![],
            }],
            routes: vec![],
        });
        graph.edges = vec![GraphEdge {
            kind: EdgeKind::Veth,
            from: "netns0/ceth0".into(),
            to: "right/eth0".into(),
            label: None,
            owner: None,
        }];
        let mut layout = build(&graph);
        lay_out_boxes(&mut layout);
        rank_boxes(&mut layout);
        place_boxes(&mut layout);
        assert_eq!((layout.boxes[0].rank, layout.boxes[1].rank), (0, 0));
        assert!(layout.boxes[0].x + layout.boxes[0].w < layout.boxes[1].x);
    }
}
