//! Undo: newest change first, best-effort and idempotent (the CNI DEL contract).
//! Every failure is gathered and reported at the end; what is already gone
//! counts as undone. A namespace this undo deletes takes its links,
//! addresses, routes and rules with it, so those are not undone one by one
//! ([`plan`], a plain function); a namespace that processes plumb did not
//! start still use is left in place and named, unless `kill` is asked for.

use std::collections::HashMap;
use std::time::Duration;

use crate::error::{Error, Result, UndoFailure};
use crate::journal::{Entry, Journal};
use crate::lock::StateLock;
use crate::op::{mark_of, Op};
use crate::shared;
use plumb_kernel::{netns, process, Inspect, Kernel, LinkKind, NsRef};

/// Up to this many links (a full bridge, 1024 ports, and the bridge) go
/// in one request at the end of a run (Kernel::delete_links_together): one
/// unregister batch instead of the bridge's own (40-80 ms, and with its
/// ports still in it, per-port work the namespaces' batch then repeats),
/// for a link dump and one group change per link. Teardown of
/// bench/containers.rhai, medians of 2-4 alternating rounds: W100 0.11 ->
/// 0.09 s, W250 and W500 the same, W1000 0.92 -> 0.75 s; but W2000 2.10 ->
/// 2.28 s, where each group change on a host end walks the host's IPv6
/// routes (bench/FLOOR.md, finding 4).
const TOGETHER_MAX: usize = 1025;

/// How long the kernel gets to remove the links of deleted namespaces
/// before plumb deletes what is left itself.
const LINK_REMOVAL_LIMIT: Duration = Duration::from_secs(2);

/// One step of an undo, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Undo this entry (an index into the journal's entries) on its own.
    Undo(usize),
    /// Bring these bridges (their `ip link add`) down: they go later in
    /// this undo, and a bridge that is down skips its multicast pass over
    /// every remaining port for each port that leaves (x1.17 at W1000,
    /// bench/FLOOR.md). A speed step only: nothing is journaled.
    Quiet(Vec<usize>),
    /// Delete these namespaces together (indexes of their `ip netns add`),
    /// with the entries whose effect goes with them.
    Namespaces {
        spaces: Vec<usize>,
        covered: Vec<Covered>,
    },
}

/// An entry undone by deleting a namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Covered {
    pub entry: usize,
    /// The index of the namespace's own entry.
    pub by: usize,
    /// A veth end outside the namespace: gone only once the kernel has
    /// removed the namespace's links (it is deleted directly otherwise).
    pub outside: bool,
}

/// The steps that undo every live entry with a sequence number above
/// `after`, newest first. Namespaces met one after another (their contents
/// need no undo) are deleted together, before the next change that does.
pub fn plan(entries: &[Entry], after: u64) -> Vec<Step> {
    let targets: Vec<usize> = (0..entries.len())
        .rev()
        .filter(|&i| entries[i].seq > after && entries[i].state.is_live())
        .collect();
    let doomed: HashMap<&str, usize> = targets
        .iter()
        .filter_map(|&i| entries[i].op.created_netns().map(|n| (n, i)))
        .collect();
    let doomed_by = |ns: &NsRef| match ns {
        NsRef::Named(n) => doomed.get(n.as_str()).copied(),
        NsRef::Host | NsRef::Pid(_) | NsRef::Path(_) => None,
    };
    let mut steps = Vec::new();
    let mut spaces = Vec::new();
    let mut covered = Vec::new();
    for i in targets {
        let op = &entries[i].op;
        if op.created_netns().is_some() {
            spaces.push(i);
        } else if let Some(by) = op.lives_in().and_then(doomed_by) {
            covered.push(Covered {
                entry: i,
                by,
                outside: false,
            });
        } else if let Some(by) = op.veth_across().and_then(|(_, _, peer)| doomed_by(peer)) {
            covered.push(Covered {
                entry: i,
                by,
                outside: true,
            });
        } else {
            if !spaces.is_empty() {
                steps.push(Step::Namespaces {
                    spaces: std::mem::take(&mut spaces),
                    covered: Vec::new(),
                });
            }
            steps.push(Step::Undo(i));
        }
    }
    if !spaces.is_empty() {
        steps.push(Step::Namespaces {
            spaces,
            covered: Vec::new(),
        });
    }
    // Each covered entry goes with the step that deletes its namespace.
    for c in covered {
        for step in &mut steps {
            if let Step::Namespaces { spaces, covered } = step {
                if spaces.contains(&c.by) {
                    covered.push(c);
                    break;
                }
            }
        }
    }
    quiet_bridges_first(entries, steps)
}

/// How many of `next` can be undone while a batch of rules is removed: up
/// to and with the first namespace deletion, if no other rule batch comes
/// first (rules keep their order); 0 if no namespaces come.
fn alongside_rules(entries: &[Entry], next: &[Step]) -> usize {
    for (n, step) in next.iter().enumerate() {
        match step {
            Step::Namespaces { .. } => return n + 1,
            Step::Undo(j) if matches!(entries[*j].op, Op::Firewall { .. }) => return 0,
            Step::Undo(_) | Step::Quiet(_) => {}
        }
    }
    0
}

/// Before namespaces whose veth ends are ports of a bridge this undo
/// deletes later, that bridge goes down (not a shared one: others may
/// still use it).
fn quiet_bridges_first(entries: &[Entry], steps: Vec<Step>) -> Vec<Step> {
    let deleted_later = |step_index: usize, ns: &NsRef, name: &str| {
        steps[step_index..].iter().find_map(|s| match s {
            Step::Undo(j) => match &entries[*j].op {
                Op::LinkAdd {
                    ns: n,
                    name: b,
                    kind: LinkKind::Bridge,
                    shared: false,
                    ..
                } if n == ns && b == name => Some(*j),
                _ => None,
            },
            _ => None,
        })
    };
    let mut out = Vec::with_capacity(steps.len());
    for (k, step) in steps.iter().enumerate() {
        if let Step::Namespaces { covered, .. } = step {
            let mut bridges: Vec<usize> = covered
                .iter()
                .filter(|c| c.outside)
                .filter_map(|c| match &entries[c.entry].op {
                    Op::LinkAdd { ns, settings, .. } => {
                        deleted_later(k, ns, settings.master.as_deref()?)
                    }
                    _ => None,
                })
                .collect();
            bridges.sort_unstable();
            bridges.dedup();
            if !bridges.is_empty() {
                out.push(Step::Quiet(bridges));
            }
        }
        out.push(step.clone());
    }
    out
}

/// A link of the run's, to be deleted with others: its entry, its name
/// and the mark it carries.
struct OwnLink {
    entry: usize,
    name: String,
    mark: String,
}

/// What an undo did, beyond what it reports as failures.
#[derive(Debug, Default)]
pub struct Report {
    pub undone: usize,
    /// Things left alone on purpose, and objects still shared with live runs.
    pub notes: Vec<String>,
}

/// Options of an undo.
#[derive(Clone, Copy, Debug, Default)]
pub struct UndoOptions {
    /// End processes plumb did not start that keep the run's namespaces alive.
    pub kill: bool,
}

struct Undoer<'a> {
    journal: &'a mut Journal,
    kernel: &'a Kernel,
    options: UndoOptions,
    report: Report,
    failures: Vec<UndoFailure>,
    /// Bridges to delete right after the next namespaces are unmounted.
    early: Vec<usize>,
}

/// Undo every change with a sequence number above `after` that is still in
/// the kernel.
pub fn undo_after(
    journal: &mut Journal,
    kernel: &Kernel,
    after: u64,
    options: UndoOptions,
) -> Result<Report> {
    let steps = plan(journal.entries(), after);
    let mut undoer = Undoer {
        journal,
        kernel,
        options,
        report: Report::default(),
        failures: Vec::new(),
        early: Vec::new(),
    };
    let mut k = 0;
    while k < steps.len() {
        let beside = match steps[k] {
            Step::Undo(i) if undoer.rules_alone(i) => {
                alongside_rules(undoer.journal.entries(), &steps[k + 1..])
            }
            _ => 0,
        };
        if beside == 0 {
            undoer.step(steps[k].clone());
            k += 1;
            continue;
        }
        // Rules need iptables processes (tens of ms), namespaces the
        // kernel's clean-up: independent, so they go at once.
        let Step::Undo(i) = steps[k] else {
            unreachable!("checked above")
        };
        let entry = undoer.entry(i);
        let Op::Firewall { batch, .. } = &entry.op else {
            unreachable!("rules_alone is a rule batch")
        };
        // What needs the state lock (a shared object's release) waits for
        // the rules, which hold it: it comes after them.
        let (locked, free): (Vec<Step>, Vec<Step>) =
            steps[k + 1..=k + beside].iter().cloned().partition(
                |s| matches!(s, Step::Undo(j) if undoer.journal.entries()[*j].op.takes_lock()),
            );
        let result = std::thread::scope(|s| {
            let rules = s.spawn(|| {
                let _lock = StateLock::acquire(&crate::journal::state_dir())?;
                batch.remove().map_err(Error::from)
            });
            for next in free {
                undoer.step(next);
            }
            rules.join().expect("the rule removal thread panicked")
        });
        undoer.record(&entry, result);
        for next in locked {
            undoer.step(next);
        }
        k += 1 + beside;
    }
    if let Err(e) = undoer.journal.retry_unwritten() {
        undoer.report.notes.push(format!(
            "{e}: the journal will show changes that are gone; `plumb rollback {}` finds them gone and completes the record",
            undoer.journal.run_id
        ));
    }
    if undoer.failures.is_empty() {
        Ok(undoer.report)
    } else {
        Err(Error::Undo(undoer.failures))
    }
}

impl Undoer<'_> {
    fn entry(&self, i: usize) -> Entry {
        self.journal.entries()[i].clone()
    }

    fn mark(&self, entry: &Entry) -> String {
        mark_of(&self.journal.run_id, entry.seq)
    }

    fn fail(&mut self, entry: &Entry, error: Error) {
        self.failures.push(UndoFailure {
            command: entry.op.describe(),
            error: Box::new(error),
        });
    }

    fn undone(&mut self, entry: &Entry) {
        self.journal.undone(entry.seq);
        self.report.undone += 1;
    }

    /// Bring our bridges down (checked by their mark); a failure only
    /// costs time, and the bridge's own undo follows. They are deleted as
    /// soon as the namespaces are unmounted (see delete_namespaces).
    fn quiet(&mut self, bridges: &[usize]) {
        self.early = bridges.to_vec();
        for &i in bridges {
            let entry = self.entry(i);
            if let Op::LinkAdd { ns, name, .. } = &entry.op {
                let ours = self
                    .kernel
                    .find_link(ns, name)
                    .ok()
                    .flatten()
                    .is_some_and(|l| l.alias.as_deref() == Some(self.mark(&entry).as_str()));
                if ours {
                    let _ = self
                        .kernel
                        .set_link(ns, name, &plumb_kernel::LinkChange::Down);
                }
            }
        }
    }

    fn step(&mut self, step: Step) {
        match step {
            Step::Undo(i) => self.undo_entry(i),
            Step::Quiet(bridges) => self.quiet(&bridges),
            Step::Namespaces { spaces, covered } => self.delete_namespaces(&spaces, &covered),
        }
    }

    /// A batch of this run's own rules, in the kernel: its removal needs
    /// nothing but iptables (no kernel handle, no other entry).
    fn rules_alone(&self, i: usize) -> bool {
        let entry = &self.journal.entries()[i];
        matches!(entry.op, Op::Firewall { shared: false, .. })
            && !entry.outcome.as_ref().is_some_and(|o| o.preexisting)
    }

    fn undo_entry(&mut self, i: usize) {
        let entry = self.entry(i);
        if !entry.state.is_live() {
            return; // undone earlier in this undo (an early bridge)
        }
        // A shared object's release is decided and recorded under the lock:
        // another run deciding at the same time must see it gone or not.
        let _lock = match entry.op.takes_lock() {
            true => match StateLock::acquire(&crate::journal::state_dir()) {
                Ok(lock) => Some(lock),
                Err(e) => return self.fail(&entry, e),
            },
            false => None,
        };
        let result = match entry.op.shared_key() {
            Some(key) => self.release_shared(&entry, &key),
            None => entry
                .op
                .undo(self.kernel, entry.outcome.as_ref(), &self.mark(&entry)),
        };
        self.record(&entry, result);
    }

    fn record(&mut self, entry: &Entry, result: Result<()>) {
        match result {
            Ok(()) => self.undone(entry),
            Err(e) if e.is_not_ours() => {
                self.report.notes.push(format!("{e}"));
                self.undone(entry);
            }
            Err(e) => self.fail(entry, e),
        }
    }

    /// A shared object goes only with its last live user (under the lock).
    fn release_shared(&mut self, entry: &Entry, key: &str) -> Result<()> {
        // This run's own other entries first (in memory), then other runs'.
        let own = self.journal.entries().iter().any(|e| {
            e.seq != entry.seq && e.state.is_live() && e.op.shared_key().as_deref() == Some(key)
        });
        if own {
            return Ok(());
        }
        if let Some(h) = shared::other_holder(key, &self.journal.run_id)? {
            self.report.notes.push(format!(
                "kept `{}`: run {} uses it too",
                entry.op.describe(),
                h.run
            ));
            return Ok(());
        }
        entry
            .op
            .undo(self.kernel, entry.outcome.as_ref(), &self.mark(entry))?;
        if let Op::Sysctl {
            ns: NsRef::Host,
            key,
            ..
        } = &entry.op
        {
            shared::originals::forget(key)?;
        }
        Ok(())
    }

    fn delete_namespaces(&mut self, spaces: &[usize], covered: &[Covered]) {
        let entries: Vec<Entry> = spaces.iter().map(|&i| self.entry(i)).collect();
        let inodes: Vec<u64> = entries
            .iter()
            .filter_map(|e| e.outcome.as_ref().and_then(|o| o.inode))
            .collect();
        let busy = netns::processes_in(&inodes);
        let mut deletions = Vec::new();
        for (&i, entry) in spaces.iter().zip(&entries) {
            let name = entry
                .op
                .created_netns()
                .expect("a namespace entry")
                .to_string();
            let inode = entry.outcome.as_ref().and_then(|o| o.inode);
            let holders = inode
                .and_then(|n| busy.get(&n))
                .cloned()
                .unwrap_or_default();
            if !holders.is_empty() {
                if self.options.kill {
                    self.kill(&holders);
                } else {
                    let held = plumb_kernel::Error::Busy {
                        ns: format!("namespace '{name}'"),
                        holders: holders
                            .iter()
                            .map(|(pid, cmd)| format!("pid {pid} ({cmd})"))
                            .collect(),
                    };
                    self.fail(entry, held.into());
                    continue;
                }
            }
            deletions.push((i, name, inode));
        }
        let requests: Vec<(String, Option<u64>)> = deletions
            .iter()
            .map(|(_, name, inode)| (name.clone(), *inode))
            .collect();
        // A few links go first, in one request per namespace they are in:
        // the bridges going early and the ends of the veths into the
        // namespaces (the namespaces then have only lo to clean up).
        let deleted_ns: Vec<usize> = deletions.iter().map(|(i, _, _)| *i).collect();
        let mut with_others = Vec::new();
        for (ns, links) in self.together(covered, &deleted_ns) {
            let names: Vec<(String, String)> = links
                .iter()
                .map(|l| (l.name.clone(), l.mark.clone()))
                .collect();
            match self.kernel.delete_links_together(&ns, &names) {
                Ok(names) => with_others.extend(
                    links
                        .iter()
                        .filter(|l| names.contains(&l.name))
                        .map(|l| l.entry),
                ),
                // What did not go together goes one by one below.
                Err(e) => self.report.notes.push(format!(
                    "the run's links in {ns} could not be deleted in one request ({e}); deleted one by one"
                )),
            }
        }
        let results = self.kernel.delete_netns_many(&requests);
        // The kernel now removes the namespaces' remaining veths, and their
        // ports, in one batch of its own: the bridges they were on go
        // meanwhile, so the two batches' grace periods overlap (each costs
        // 40-80 ms).
        for i in std::mem::take(&mut self.early) {
            if with_others.contains(&i) {
                let entry = self.entry(i);
                self.undone(&entry);
            } else {
                self.undo_entry(i);
            }
        }
        let mut gone = Vec::new();
        // Recorded together, in one write, once the step is done.
        let mut done = Vec::new();
        for ((i, _, _), result) in deletions.into_iter().zip(results) {
            let entry = self.entry(i);
            match result.map_err(Error::from) {
                Ok(()) => {
                    done.push(entry.seq);
                    gone.push(i);
                }
                Err(e) if e.is_already_gone() => {
                    done.push(entry.seq);
                    gone.push(i);
                }
                Err(e) if e.is_not_ours() => {
                    self.report.notes.push(format!("{e}"));
                    done.push(entry.seq);
                    gone.push(i);
                }
                Err(e) => self.fail(&entry, e),
            }
        }
        // What lived inside a deleted namespace is gone with it; a veth end
        // outside it once the kernel has removed the namespace's links. A
        // kept namespace keeps its contents, but not the ends outside it.
        let mut outside: HashMap<NsRef, Vec<usize>> = HashMap::new();
        for c in covered {
            let entry = self.entry(c.entry);
            match (c.outside, gone.contains(&c.by)) {
                _ if with_others.contains(&c.entry) => done.push(entry.seq),
                (true, true) => {
                    let (ns, _, _) = entry.op.veth_across().expect("a veth");
                    outside.entry(ns.clone()).or_default().push(c.entry);
                }
                // The namespace stays: the end outside it goes now, by itself.
                (true, false) => self.undo_entry(c.entry),
                (false, true) => done.push(entry.seq),
                (false, false) => {}
            }
        }
        for (ns, indexes) in outside {
            let names: Vec<String> = indexes
                .iter()
                .map(|&i| {
                    self.entry(i)
                        .op
                        .veth_across()
                        .expect("a veth")
                        .1
                        .to_string()
                })
                .collect();
            let left = match self.kernel.wait_links_gone(&ns, &names, LINK_REMOVAL_LIMIT) {
                Ok(left) => left,
                Err(e) => {
                    self.failures.push(UndoFailure {
                        command: format!("wait for the links of deleted namespaces in {ns}"),
                        error: Box::new(e.into()),
                    });
                    continue;
                }
            };
            for i in indexes {
                let entry = self.entry(i);
                let name = entry.op.veth_across().expect("a veth").1.to_string();
                if left.contains(&name) {
                    // Something else keeps the namespace alive: delete our end.
                    self.undo_entry(i);
                } else {
                    done.push(entry.seq);
                }
            }
        }
        self.report.undone += done.len();
        self.journal.undone_all(&done);
    }

    /// The links to delete in one request per namespace before namespaces
    /// are unmounted: the bridges going early and the ends outside the
    /// deleted namespaces of their veths; none when there are more than
    /// [`TOGETHER_MAX`].
    fn together(&self, covered: &[Covered], deleted: &[usize]) -> Vec<(NsRef, Vec<OwnLink>)> {
        let ends = covered
            .iter()
            .filter(|c| c.outside && deleted.contains(&c.by))
            .map(|c| c.entry);
        let mut by_ns: Vec<(NsRef, Vec<OwnLink>)> = Vec::new();
        let mut count = 0;
        for i in self.early.iter().copied().chain(ends) {
            let entry = self.entry(i);
            let Op::LinkAdd {
                ns,
                name,
                shared: false,
                ..
            } = &entry.op
            else {
                continue;
            };
            let link = OwnLink {
                entry: i,
                name: name.clone(),
                mark: self.mark(&entry),
            };
            match by_ns.iter_mut().find(|(n, _)| n == ns) {
                Some((_, links)) => links.push(link),
                None => by_ns.push((ns.clone(), vec![link])),
            }
            count += 1;
        }
        if count > TOGETHER_MAX {
            by_ns.clear();
        }
        by_ns
    }

    /// End processes plumb did not start: SIGTERM, then SIGKILL.
    fn kill(&mut self, holders: &[(u32, String)]) {
        for (pid, command) in holders {
            let Some(start_time) = process::start_time(*pid) else {
                continue;
            };
            let target = process::Spawned {
                pid: *pid,
                start_time,
            };
            match process::stop_one(&target, Duration::from_secs(2)) {
                Ok(()) => self
                    .report
                    .notes
                    .push(format!("stopped pid {pid} ({command})")),
                Err(e) => self.failures.push(UndoFailure {
                    command: format!("kill {pid}"),
                    error: Box::new(e.into()),
                }),
            }
        }
    }
}

/// Roll a whole run back: refused while other live runs use its objects
/// (unless `force`), then every change undone, and the run closed as
/// rolled back only if nothing of it remains.
pub fn rollback(
    journal: &mut Journal,
    kernel: &Kernel,
    force: bool,
    options: UndoOptions,
) -> Result<Report> {
    journal.check_same_host()?;
    {
        let _lock = StateLock::acquire(&crate::journal::state_dir())?;
        let users = shared::users(&journal.run_id)?;
        if !users.is_empty() && !force {
            let mut what: Vec<String> = users.iter().map(|(_, link)| link.clone()).collect();
            what.sort();
            what.dedup();
            let mut runs: Vec<String> = users.into_iter().map(|(run, _)| run).collect();
            runs.sort();
            runs.dedup();
            return Err(Error::InUse {
                run: journal.run_id.clone(),
                what: what.join(", "),
                users: runs,
            });
        }
        journal.leaving()?;
    }
    let report = undo_after(journal, kernel, 0, options);
    // Written only when nothing of the run remains (see Journal::end).
    journal.end(crate::journal::EndStatus::RolledBack)?;
    if !journal.unreadable_lines().is_empty() {
        return Err(Error::Damaged {
            run: journal.run_id.clone(),
            lines: journal.unreadable_lines().to_vec(),
        });
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::EntryState;
    use crate::op::Op;
    use plumb_kernel::{LinkKind, LinkSettings};

    fn netns(name: &str) -> Op {
        Op::NetnsAdd {
            name: name.into(),
            ipv6: false,
        }
    }

    fn veth_into(name: &str, ns: &str) -> Op {
        Op::LinkAdd {
            ns: NsRef::Host,
            name: name.into(),
            kind: LinkKind::Veth {
                peer: "eth0".into(),
                peer_netns: Some(NsRef::Named(ns.into())),
            },
            settings: LinkSettings {
                master: Some("br0".into()),
                up: true,
                ..Default::default()
            },
            shared: false,
        }
    }

    fn addr_in(ns: &str) -> Op {
        Op::AddrAdd {
            ns: NsRef::Named(ns.into()),
            dev: "eth0".into(),
            addr: "10.0.0.2/24".parse().unwrap(),
            shared: false,
        }
    }

    fn bridge() -> Op {
        Op::LinkAdd {
            ns: NsRef::Host,
            name: "br0".into(),
            kind: LinkKind::Bridge,
            settings: LinkSettings::default(),
            shared: false,
        }
    }

    #[test]
    fn namespaces_take_their_contents_and_veth_ends_with_them() {
        let entries = vec![
            Entry::done(1, bridge()),
            Entry::done(2, netns("a")),
            Entry::done(3, veth_into("va", "a")),
            Entry::done(4, addr_in("a")),
            Entry::done(5, netns("b")),
            Entry::done(6, veth_into("vb", "b")),
            Entry::done(7, addr_in("b")),
        ];
        let steps = plan(&entries, 0);
        assert_eq!(
            steps,
            vec![
                // br0 goes later: it goes down before its ports leave.
                Step::Quiet(vec![0]),
                Step::Namespaces {
                    spaces: vec![4, 1],
                    covered: vec![
                        Covered {
                            entry: 6,
                            by: 4,
                            outside: false
                        },
                        Covered {
                            entry: 5,
                            by: 4,
                            outside: true
                        },
                        Covered {
                            entry: 3,
                            by: 1,
                            outside: false
                        },
                        Covered {
                            entry: 2,
                            by: 1,
                            outside: true
                        },
                    ],
                },
                Step::Undo(0),
            ]
        );
    }

    #[test]
    fn rules_go_beside_the_next_namespaces_unless_other_rules_come_first() {
        let rules = || Op::Firewall {
            batch: plumb_kernel::firewall::Batch {
                ns: NsRef::Host,
                v6: false,
                comment: String::new(),
                rules: Vec::new(),
            },
            shared: false,
        };
        let forwarding = Op::Sysctl {
            ns: NsRef::Host,
            key: "net.ipv4.ip_forward".into(),
            value: "1".into(),
            old: None,
        };
        let entries = vec![
            Entry::done(1, netns("a")),
            Entry::done(2, forwarding),
            Entry::done(3, rules()),
        ];
        let steps = plan(&entries, 0);
        assert_eq!(steps[0], Step::Undo(2));
        // The shared setting and the namespace go while the rules are removed.
        assert_eq!(alongside_rules(&entries, &steps[1..]), 2);
        let entries = vec![
            Entry::done(1, netns("a")),
            Entry::done(2, rules()),
            Entry::done(3, rules()),
        ];
        let steps = plan(&entries, 0);
        assert_eq!(alongside_rules(&entries, &steps[1..]), 0);
        let entries = vec![Entry::done(1, rules()), Entry::done(2, netns("a"))];
        assert_eq!(alongside_rules(&entries, &plan(&entries, 0)[1..]), 0);
    }

    #[test]
    fn a_shared_bridge_or_one_that_stays_is_not_brought_down() {
        let shared = Op::LinkAdd {
            ns: NsRef::Host,
            name: "br0".into(),
            kind: LinkKind::Bridge,
            settings: LinkSettings::default(),
            shared: true,
        };
        let entries = vec![
            Entry::done(1, shared),
            Entry::done(2, netns("a")),
            Entry::done(3, veth_into("va", "a")),
        ];
        assert!(!plan(&entries, 0)
            .iter()
            .any(|s| matches!(s, Step::Quiet(_))));
        // Undoing only what came after the bridge: it stays up.
        let entries = vec![
            Entry::done(1, bridge()),
            Entry::done(2, netns("a")),
            Entry::done(3, veth_into("va", "a")),
        ];
        assert!(!plan(&entries, 1)
            .iter()
            .any(|s| matches!(s, Step::Quiet(_))));
    }

    #[test]
    fn a_change_between_namespaces_keeps_the_order() {
        let rule = Op::Sysctl {
            ns: NsRef::Named("a".into()),
            key: "net.ipv4.ip_forward".into(),
            value: "1".into(),
            old: None,
        };
        let entries = vec![
            Entry::done(1, netns("a")),
            Entry::done(2, bridge()),
            Entry::done(3, netns("b")),
            Entry::done(4, rule),
        ];
        assert_eq!(
            plan(&entries, 0),
            vec![
                Step::Namespaces {
                    spaces: vec![2],
                    covered: vec![],
                },
                Step::Undo(1),
                Step::Namespaces {
                    spaces: vec![0],
                    covered: vec![Covered {
                        entry: 3,
                        by: 0,
                        outside: false
                    }],
                },
            ]
        );
    }

    #[test]
    fn only_live_entries_after_the_checkpoint_are_undone() {
        let mut entries = vec![
            Entry::done(1, bridge()),
            Entry::done(2, addr_in("x")),
            Entry::done(3, bridge()),
        ];
        entries[2].state = EntryState::Undone;
        assert_eq!(plan(&entries, 1), vec![Step::Undo(1)]);
        entries[1].state = EntryState::Failed;
        assert_eq!(plan(&entries, 0), vec![Step::Undo(0)]);
    }
}
