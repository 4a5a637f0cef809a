//! Orphans: what plumb made whose journal is gone (deleted, a wiped state
//! directory, a damaged line). Everything plumb makes carries a mark — a
//! link's alias, a namespace's lo alias, a rule's comment, a spawned
//! program's environment — `plumb:RUN/SEQ` (or `plumb:shared...` for shared
//! objects). An object is an orphan when no live journal entry answers for
//! its mark. Unmarked objects are never touched.

use std::collections::HashSet;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::journal::{Journal, Status};
use crate::op::{run_of_mark, Op, SHARED_MARK};
use plumb_kernel::firewall::{self, Batch, Rule};
use plumb_kernel::{netns, process, Inspect, Kernel, NsRef};

/// A plumb-marked object no live run answers for.
#[derive(Debug, Clone, PartialEq)]
pub enum Orphan {
    Process {
        pid: u32,
        start_time: u64,
        mark: String,
        command: String,
    },
    Rules {
        ns: NsRef,
        v6: bool,
        comment: String,
        /// (table, chain) the rules sit in.
        chains: Vec<(String, String)>,
    },
    Link {
        ns: NsRef,
        index: u32,
        name: String,
        mark: String,
    },
    /// A named namespace, or (inode None) a file under /run/netns that a
    /// run killed mid-way never mounted a namespace on.
    Netns {
        name: String,
        inode: Option<u64>,
        mark: String,
    },
    /// A host-wide sysctl plumb changed that no live run holds: put back.
    Setting { key: String, original: String },
}

impl Orphan {
    pub fn describe(&self) -> String {
        match self {
            Orphan::Process {
                pid, mark, command, ..
            } => {
                format!("process {pid} ({command}), {mark}")
            }
            Orphan::Rules {
                ns,
                v6,
                comment,
                chains,
                ..
            } => format!(
                "{} rules in {} ({}), {comment}",
                if *v6 { "ip6tables" } else { "iptables" },
                chains
                    .iter()
                    .map(|(t, c)| format!("{t} {c}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                ns.short_name()
            ),
            Orphan::Link { ns, name, mark, .. } => {
                format!("link {name} in {}, {mark}", ns.short_name())
            }
            Orphan::Netns { name, mark, .. } => format!("namespace {name}, {mark}"),
            Orphan::Setting { key, original } => {
                format!("sysctl {key}, set by plumb, was {original}")
            }
        }
    }
}

/// What the live journals answer for.
struct Live {
    /// `plumb:RUN/SEQ` of every live entry.
    marks: HashSet<String>,
    /// Keys and comments of live shared objects.
    shared: HashSet<String>,
}

fn live() -> Result<Live> {
    let mut live = Live {
        marks: HashSet::new(),
        shared: HashSet::new(),
    };
    for j in Journal::list()? {
        if matches!(j.status(), Status::RolledBack | Status::Unreadable) {
            continue;
        }
        for e in j.entries().iter().filter(|e| e.state.is_live()) {
            live.marks.insert(crate::op::mark_of(&j.run_id, e.seq));
            if let Some(key) = e.op.shared_key() {
                live.shared.insert(key);
            }
            if let Op::Firewall {
                batch,
                shared: true,
            } = &e.op
            {
                live.shared.insert(Op::shared_comment(batch));
            }
        }
    }
    Ok(live)
}

fn is_mark(text: &str) -> bool {
    text.starts_with("plumb:")
}

/// Find the orphans. The kernel is read before the journals: an object
/// made meanwhile had its entry journaled first, so it is never taken for
/// an orphan.
pub fn find(kernel: &Kernel) -> Result<Vec<Orphan>> {
    let mut seen = Vec::new();
    for (pid, start_time, mark, command) in process::marked() {
        if is_mark(&mark) {
            seen.push(Orphan::Process {
                pid,
                start_time,
                mark,
                command,
            });
        }
    }
    let mut spaces = vec![NsRef::Host];
    for name in netns::list_named() {
        let ns = NsRef::Named(name.clone());
        if !netns::is_mounted(&name) {
            if let Some(mark) = netns::file_mark(&name).filter(|m| is_mark(m)) {
                seen.push(Orphan::Netns {
                    name,
                    inode: None,
                    mark,
                });
            }
            continue;
        }
        let lo = kernel.find_link(&ns, "lo").ok().flatten();
        if let (Some(mark), Ok(inode)) = (lo.and_then(|l| l.alias), netns::inode(&ns)) {
            if is_mark(&mark) {
                seen.push(Orphan::Netns {
                    name,
                    inode: Some(inode),
                    mark,
                });
            }
        }
        spaces.push(ns);
    }
    for ns in &spaces {
        for link in kernel.links(ns).unwrap_or_default() {
            if let Some(mark) = link.alias.filter(|a| is_mark(a) && link.name != "lo") {
                seen.push(Orphan::Link {
                    ns: ns.clone(),
                    index: link.index,
                    name: link.name,
                    mark,
                });
            }
        }
        for v6 in [false, true] {
            let Ok(found) = firewall::commented(ns, v6, "plumb:") else {
                continue; // no ip6tables, or not in this namespace
            };
            let mut by_comment: Vec<Orphan> = Vec::new();
            for (table, chain, comment) in found {
                match by_comment
                    .iter_mut()
                    .find(|o| matches!(o, Orphan::Rules { comment: c, .. } if *c == comment))
                {
                    Some(Orphan::Rules { chains, .. }) => chains.push((table, chain)),
                    _ => by_comment.push(Orphan::Rules {
                        ns: ns.clone(),
                        v6,
                        comment,
                        chains: vec![(table, chain)],
                    }),
                }
            }
            seen.extend(by_comment);
        }
    }
    let live = live()?;
    for (key, original) in crate::shared::originals::read() {
        let held = Op::Sysctl {
            ns: NsRef::Host,
            key: key.clone(),
            value: String::new(),
            old: None,
        }
        .shared_key()
        .is_some_and(|k| live.shared.contains(&k));
        if !held {
            seen.push(Orphan::Setting { key, original });
        }
    }
    let orphans: Vec<Orphan> = seen
        .into_iter()
        .filter(|o| match o {
            Orphan::Process { mark, .. }
            | Orphan::Netns { mark, .. }
            | Orphan::Link { mark, .. }
                if mark != SHARED_MARK =>
            {
                !live.marks.contains(mark)
            }
            Orphan::Link { ns, name, .. } => !live.shared.contains(&shared_link_key(ns, name)),
            Orphan::Rules { comment, .. } if run_of_mark(comment).is_some() => {
                !live.marks.contains(comment)
            }
            Orphan::Rules { comment, .. } => !live.shared.contains(comment),
            Orphan::Process { .. } | Orphan::Netns { .. } | Orphan::Setting { .. } => true,
        })
        .collect();
    // A namespace that goes takes its links with it.
    let doomed: Vec<NsRef> = orphans
        .iter()
        .filter_map(|o| match o {
            Orphan::Netns { name, .. } => Some(NsRef::Named(name.clone())),
            _ => None,
        })
        .collect();
    Ok(orphans
        .into_iter()
        .filter(|o| !matches!(o, Orphan::Link { ns, .. } | Orphan::Rules { ns, .. } if doomed.contains(ns)))
        .collect())
}

fn shared_link_key(ns: &NsRef, name: &str) -> String {
    Op::Use {
        ns: ns.clone(),
        name: name.into(),
        owner: crate::op::Owner::Shared,
    }
    .shared_key()
    .expect("a shared use has a key")
}

/// Remove orphans: processes first, then rules, links, namespaces. Every
/// failure is reported; the rest goes on.
pub fn remove(kernel: &Kernel, orphans: &[Orphan]) -> Result<usize> {
    let mut failures = Vec::new();
    let mut removed = 0;
    let rank = |o: &Orphan| match o {
        Orphan::Process { .. } => 0,
        Orphan::Rules { .. } => 1,
        Orphan::Link { .. } => 2,
        Orphan::Netns { .. } => 3,
        Orphan::Setting { .. } => 4,
    };
    let mut ordered: Vec<&Orphan> = orphans.iter().collect();
    ordered.sort_by_key(|o| rank(o));
    for orphan in ordered {
        let result: Result<()> = match orphan {
            Orphan::Process {
                pid, start_time, ..
            } => process::stop(
                &process::Spawned {
                    pid: *pid,
                    start_time: *start_time,
                },
                Duration::from_secs(2),
            )
            .map_err(Into::into),
            Orphan::Rules {
                ns,
                v6,
                comment,
                chains,
            } => Batch {
                ns: ns.clone(),
                v6: *v6,
                comment: comment.clone(),
                rules: chains
                    .iter()
                    .map(|(t, c)| Rule::new(t, c, &[], &[]))
                    .collect(),
            }
            .remove()
            .map_err(Into::into),
            Orphan::Link {
                ns, index, name, ..
            } => kernel.delete_link(ns, *index, name).map_err(Into::into),
            Orphan::Netns { name, inode, .. } => kernel
                .delete_netns_many(&[(name.clone(), *inode)])
                .remove(0)
                .map_err(Into::into),
            Orphan::Setting { key, original } => {
                match plumb_kernel::sysctl::set(&NsRef::Host, key, original) {
                    // A link's own setting went with the link (removed above).
                    Err(_) if !plumb_kernel::sysctl::exists(&NsRef::Host, key)? => Ok(()),
                    result => result.map_err(Error::from),
                }
                .and_then(|()| crate::shared::originals::forget(key))
            }
        };
        match result {
            Ok(()) => removed += 1,
            Err(e) if e.is_already_gone() => removed += 1,
            Err(e) => failures.push(crate::error::UndoFailure {
                command: format!("remove {}", orphan.describe()),
                error: Box::new(e),
            }),
        }
    }
    if orphans.iter().any(|o| matches!(o, Orphan::Netns { .. })) {
        settle(kernel);
    }
    if failures.is_empty() {
        Ok(removed)
    } else {
        Err(Error::Undo(failures))
    }
}

/// The kernel removes a deleted namespace's links, and their veth peers in
/// the host, a moment later. A peer that was never marked (its run was
/// killed between creating and marking it) cannot be waited for by name:
/// wait until the host's links stop changing (at most 2 s).
fn settle(kernel: &Kernel) {
    let names = || -> Vec<String> {
        kernel
            .links(&NsRef::Host)
            .unwrap_or_default()
            .into_iter()
            .map(|l| l.name)
            .collect()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    let (mut last, mut since) = (names(), std::time::Instant::now());
    while std::time::Instant::now() < deadline && since.elapsed() < Duration::from_millis(100) {
        std::thread::sleep(Duration::from_millis(5));
        let now = names();
        if now != last {
            (last, since) = (now, std::time::Instant::now());
        }
    }
}
