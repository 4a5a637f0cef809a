//! Every JSON document plumb prints, in one place: `journal list --json`,
//! `journal show --json`, `status --json`, `graph --format json`, and the
//! records the script's query functions return. docs/json.md describes
//! them; each document names its schema and version (`"schema":
//! "plumb/runs/1"`), raised only when a field changes meaning or goes:
//! fields may be added within a version.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use plumb_journal::{Drift, Entry, EntryState, Journal, Op, Outcome, Status};

pub const RUNS_SCHEMA: &str = "plumb/runs/1";
pub const RUN_SCHEMA: &str = "plumb/run/1";
pub const STATUS_SCHEMA: &str = "plumb/status/1";
pub const GRAPH_SCHEMA: &str = "plumb/graph/1";

/// A run's status, as `journal list` words it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Applied,
    RolledBack,
    Incomplete,
    Unreadable,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Applied => "applied",
            RunStatus::RolledBack => "rolled back",
            RunStatus::Incomplete => "incomplete",
            RunStatus::Unreadable => "unreadable",
        }
    }
}

impl From<Status> for RunStatus {
    fn from(s: Status) -> Self {
        match s {
            Status::Running => RunStatus::Running,
            Status::Applied => RunStatus::Applied,
            Status::RolledBack => RunStatus::RolledBack,
            Status::Incomplete => RunStatus::Incomplete,
            Status::Unreadable => RunStatus::Unreadable,
        }
    }
}

/// `journal list --json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Runs {
    pub schema: String,
    pub state_dir: String,
    pub runs: Vec<RunSummary>,
}

/// One run: who started it, from what, and how much of it is in the kernel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub run: String,
    pub status: RunStatus,
    /// Changes still in the kernel (applied, or in flight).
    pub changes: usize,
    /// Unix time (seconds) the run began.
    pub started: u64,
    /// The script's path, `<stdin>`, or `(repl)`.
    pub source: String,
    /// Its `--set` parameters.
    pub params: BTreeMap<String, String>,
    pub pid: u32,
}

impl RunSummary {
    pub fn of(j: &Journal) -> RunSummary {
        RunSummary {
            run: j.run_id.clone(),
            status: j.status().into(),
            changes: j.live_changes(),
            started: j.started,
            source: j.source.clone(),
            params: j.params.clone(),
            pid: j.pid(),
        }
    }
}

/// Where an entry stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryStateJson {
    /// Journaled; not known to have reached the kernel.
    InFlight,
    Applied,
    Failed,
    Undone,
}

impl From<EntryState> for EntryStateJson {
    fn from(s: EntryState) -> Self {
        match s {
            EntryState::Pending => EntryStateJson::InFlight,
            EntryState::Done => EntryStateJson::Applied,
            EntryState::Failed => EntryStateJson::Failed,
            EntryState::Undone => EntryStateJson::Undone,
        }
    }
}

/// `journal show RUN --json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunDetail {
    pub schema: String,
    #[serde(flatten)]
    pub summary: RunSummary,
    pub entries: Vec<EntryJson>,
    /// Journal lines that could not be read (what they said may remain).
    pub unreadable_lines: Vec<usize>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntryJson {
    pub seq: u64,
    pub state: EntryStateJson,
    /// Where the script asked for it: `FILE:LINE`.
    pub at: Option<String>,
    /// The change as the journal records it (its `op` names the kind).
    pub op: Op,
    /// What applying it learned (a namespace's inode, a process's pid).
    pub outcome: Option<Outcome>,
    /// The equivalent shell commands.
    pub commands: Vec<String>,
}

impl EntryJson {
    pub fn of(e: &Entry) -> EntryJson {
        EntryJson {
            seq: e.seq,
            state: e.state.into(),
            at: e.at.clone(),
            op: e.op.clone(),
            outcome: e.outcome.clone(),
            commands: e.op.shell(),
        }
    }
}

impl RunDetail {
    pub fn of(j: &Journal) -> RunDetail {
        RunDetail {
            schema: RUN_SCHEMA.into(),
            summary: RunSummary::of(j),
            entries: j.entries().iter().map(EntryJson::of).collect(),
            unreadable_lines: j.unreadable_lines().to_vec(),
        }
    }
}

/// `status --json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatusReport {
    pub schema: String,
    pub runs: Vec<RunCheck>,
    /// Something is missing or changed (the exit status is 1).
    pub drift: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunCheck {
    #[serde(flatten)]
    pub summary: RunSummary,
    pub objects: Vec<ObjectCheck>,
    pub fine: usize,
    pub missing: usize,
    pub changed: usize,
    /// Objects that could not be checked (or were in flight).
    pub unknown: usize,
}

/// One object a run made and how it compares with the kernel now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObjectCheck {
    /// The journal entry that made it.
    pub seq: u64,
    /// `link 'br0' (bridge) in host`.
    pub object: String,
    /// The entry's first shell command.
    pub command: String,
    #[serde(flatten)]
    pub state: ObjectState,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ObjectState {
    Fine,
    /// `what` is not there.
    Missing {
        what: String,
    },
    /// There, with these differences.
    Changed {
        changes: Vec<Difference>,
    },
    /// In flight when its run stopped: not known to have been made.
    InFlight,
    /// The check itself failed (`error` says why).
    Unknown {
        error: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Difference {
    pub what: String,
    pub expected: String,
    pub found: String,
}

impl From<Drift> for ObjectState {
    fn from(d: Drift) -> Self {
        match d {
            Drift::Fine => ObjectState::Fine,
            Drift::Missing { what } => ObjectState::Missing { what },
            Drift::Changed { changes } => ObjectState::Changed {
                changes: changes
                    .into_iter()
                    .map(|c| Difference {
                        what: c.what,
                        expected: c.expected,
                        found: c.found,
                    })
                    .collect(),
            },
        }
    }
}

/// `graph --format json`: namespaces with their links, and what joins them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Graph {
    pub schema: String,
    /// What it shows: `live` or `runs`.
    pub source: String,
    /// The owners objects name, for a legend: runs (with their scripts), `shared`.
    pub owners: Vec<OwnerInfo>,
    /// The host first, then in the order met.
    pub namespaces: Vec<GraphNamespace>,
    pub edges: Vec<GraphEdge>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerInfo {
    /// A run id, or `shared`.
    pub id: String,
    /// The run's script, when its journal is there.
    pub source: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NamespaceKind {
    Host,
    /// Under /run/netns.
    Named,
    /// A process's (`pid:N`).
    Pid,
    /// A namespace file elsewhere (a container runtime's).
    Path,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GraphNamespace {
    /// `host`, the name, `pid:N`, or the path.
    pub name: String,
    pub kind: NamespaceKind,
    /// The run that made it, `shared`, or null: not plumb's.
    pub owner: Option<String>,
    pub links: Vec<GraphLink>,
    /// Routes with a gateway, and default routes: `default via 172.18.0.1`.
    pub routes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GraphLink {
    /// Unique in the graph: `NAMESPACE/NAME`.
    pub id: String,
    pub name: String,
    /// `bridge`, `veth`, `vxlan`, `macvlan`, `uplink` (the way out NAT
    /// edges lead to), or the kernel's word; empty when unknown.
    pub kind: String,
    /// The run that made it, `shared`, or null: not plumb's.
    pub owner: Option<String>,
    /// Null when unknown (a run's graph knows only what the run set).
    pub mtu: Option<u32>,
    pub up: Option<bool>,
    pub addresses: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// The two ends of a veth pair (from: the end made, to: the peer).
    Veth,
    /// A bridge port: from the port to its bridge.
    Port,
    /// A VXLAN or macvlan device: from it to the link it is built on.
    Parent,
    /// Source NAT: from the subnet's bridge (or gateway link) to the uplink.
    Masquerade,
    /// A published port: from the uplink to the link that owns the target address.
    Publish,
    /// Forwarding dropped between two bridges.
    Isolate,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphEdge {
    pub kind: EdgeKind,
    /// Link ids.
    pub from: String,
    pub to: String,
    pub label: Option<String>,
    /// Whose it is (for NAT edges, the run whose rule it is).
    pub owner: Option<String>,
}

/// What `addrs(ns)` returns, one per address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryAddr {
    /// The link's name.
    pub dev: Option<String>,
    /// `172.18.0.1/16`.
    pub addr: String,
}

/// What `routes(ns)` returns, one per route of the main table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryRoute {
    /// A prefix, or `default`.
    pub dest: String,
    pub via: Option<String>,
    pub dev: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use plumb_kernel::{LinkKind, LinkSettings, NsRef};

    fn round_trip<T>(value: &T)
    where
        T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        let text = serde_json::to_string_pretty(value).unwrap();
        let back: T = serde_json::from_str(&text).unwrap();
        assert_eq!(&back, value, "{text}");
    }

    fn summary() -> RunSummary {
        RunSummary {
            run: "20261123-101010-3".into(),
            status: RunStatus::Applied,
            changes: 2,
            started: 1_795_395_176,
            source: "scripts/bridge-nat.rhai".into(),
            params: [("subnet".to_string(), "10.9.0.0/16".to_string())].into(),
            pid: 42,
        }
    }

    #[test]
    fn run_documents_round_trip() {
        round_trip(&Runs {
            schema: RUNS_SCHEMA.into(),
            state_dir: "/run/plumb".into(),
            runs: vec![summary()],
        });
        round_trip(&RunDetail {
            schema: RUN_SCHEMA.into(),
            summary: summary(),
            entries: vec![EntryJson {
                seq: 1,
                state: EntryStateJson::Applied,
                at: Some("s.rhai:3".into()),
                op: Op::LinkAdd {
                    ns: NsRef::Host,
                    name: "br0".into(),
                    kind: LinkKind::Bridge,
                    settings: LinkSettings {
                        mtu: Some(1400),
                        master: None,
                        up: true,
                        mac: None,
                    },
                    shared: false,
                },
                outcome: Some(Outcome::default()),
                commands: vec!["ip link add br0 type bridge".into()],
            }],
            unreadable_lines: vec![7],
        });
    }

    #[test]
    fn status_reports_round_trip_with_each_state() {
        let objects = [
            ObjectState::Fine,
            ObjectState::Missing {
                what: "link 'veth0' in host".into(),
            },
            ObjectState::Changed {
                changes: vec![Difference {
                    what: "mtu".into(),
                    expected: "1500".into(),
                    found: "1400".into(),
                }],
            },
            ObjectState::InFlight,
            ObjectState::Unknown {
                error: "iptables-save failed".into(),
            },
        ]
        .into_iter()
        .enumerate()
        .map(|(i, state)| ObjectCheck {
            seq: i as u64 + 1,
            object: "link 'br0' (bridge) in host".into(),
            command: "ip link add br0 type bridge".into(),
            state,
        })
        .collect();
        let report = StatusReport {
            schema: STATUS_SCHEMA.into(),
            runs: vec![RunCheck {
                summary: summary(),
                objects,
                fine: 1,
                missing: 1,
                changed: 1,
                unknown: 2,
            }],
            drift: true,
        };
        round_trip(&report);
        let text = serde_json::to_string(&report.runs[0].objects[2]).unwrap();
        assert!(
            text.contains(r#""state":"changed","changes":[{"what":"mtu""#),
            "{text}"
        );
    }
}
