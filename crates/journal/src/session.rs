//! A session is one run: the kernel plus either a journal (changes are
//! recorded, then made) or a dry-run printer (changes are only printed).
//! It is the one seam between the script layer and the kernel: changes go
//! in as ops ([`Session::apply`]), questions through [`Session::inspect`]
//! (a dry run answers them without the kernel), programs through
//! [`Session::exec`], output through [`Session::say`]. Nothing above it
//! asks whether the run is a dry run.

use std::cell::RefCell;
use std::collections::HashSet;
use std::io::Write;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use ipnet::IpNet;

use crate::error::{Error, Result};
use crate::journal::{state_dir, EndStatus, Journal};
use crate::lock::StateLock;
use crate::op::{mark_of, run_of_mark, Op, Outcome, Owner, SHARED_MARK};
use crate::shared;
use crate::undo::{self, Report, UndoOptions};
use plumb_kernel::firewall::Batch;
use plumb_kernel::process::{self, ExecOutput};
use plumb_kernel::{
    shell, AddrInfo, Error as KernelError, Inspect, Kernel, LinkInfo, Neighbour, NsRef, RouteInfo,
};

/// Where in a script a change was asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// The script's line there, as written.
    pub text: String,
}

impl Origin {
    /// `FILE:LINE`, as journals record it.
    pub fn at(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

/// A failed change, with where the script asked for it when that is not
/// the call being made (a batched rule refused at a later flush).
#[derive(Debug)]
pub struct Failure {
    pub error: Error,
    pub origin: Option<Box<Origin>>,
}

impl<E: Into<Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure {
            error: e.into(),
            origin: None,
        }
    }
}

enum Mode {
    Apply(Journal),
    DryRun(DryRun),
}

/// Where a dry run prints, and what it has printed once already (chain
/// set-up, shared objects such as ip_forward).
struct DryRun {
    out: Box<dyn Write>,
    printed: HashSet<String>,
    last_origin: Option<(String, usize)>,
    view: DryRunView,
    leased: Vec<IpNet>,
}

impl DryRun {
    fn print(&mut self, line: &str) -> Result<()> {
        writeln!(self.out, "{line}").map_err(|e| Error::state("write the dry-run text", e))
    }

    /// `# FILE:LINE  TEXT` before the commands of a script line, once.
    fn mark(&mut self, origin: Option<&Origin>) -> Result<()> {
        let Some(o) = origin else { return Ok(()) };
        let here = (o.file.clone(), o.line);
        if self.last_origin.as_ref() == Some(&here) {
            return Ok(());
        }
        self.last_origin = Some(here);
        self.print(&format!("# {}  {}", o.at(), o.text.trim()))
    }

    fn print_op(&mut self, op: &Op, origin: Option<&Origin>) -> Result<()> {
        if let Some(key) = op.shared_key() {
            if !self.printed.insert(key) {
                return Ok(()); // a shared object is made once
            }
        }
        let setup = op.setup_shell();
        self.view.record(op);
        self.mark(origin)?;
        for line in op.shell() {
            let repeated = setup.contains(&line) && !self.printed.insert(line.clone());
            if !repeated {
                self.print(&line)?;
            }
        }
        Ok(())
    }
}

/// What a dry run answers. It cannot ask the kernel (its text must build
/// the same network on another machine): it knows the links and addresses
/// it has printed; any other named link or namespace is taken to exist;
/// other lists are empty and sysctls read "".
#[derive(Default)]
struct DryRunView {
    links: RefCell<Vec<(NsRef, LinkInfo)>>,
    addrs: RefCell<Vec<(NsRef, AddrInfo)>>,
}

fn stand_in(index: u32, name: &str) -> LinkInfo {
    LinkInfo {
        index,
        name: name.into(),
        kind: String::new(),
        alias: None,
        master: None,
        link: None,
        hairpin: None,
        up: true,
        mtu: 1500,
        mac: String::new(),
        group: 0,
    }
}

impl DryRunView {
    fn known(&self, ns: &NsRef, name: &str) -> Option<LinkInfo> {
        self.links
            .borrow()
            .iter()
            .find(|(n, l)| n == ns && l.name == name)
            .map(|(_, l)| l.clone())
    }

    fn add_link(&self, ns: &NsRef, name: &str, kind: &str) -> u32 {
        let mut links = self.links.borrow_mut();
        let index = links.len() as u32 + 1;
        links.push((
            ns.clone(),
            LinkInfo {
                kind: kind.into(),
                ..stand_in(index, name)
            },
        ));
        index
    }

    /// Take in what a printed op made.
    fn record(&self, op: &Op) {
        match op {
            Op::LinkAdd { ns, name, kind, .. } => {
                self.add_link(ns, name, kind.kernel_name());
                if let plumb_kernel::LinkKind::Veth { peer, peer_netns } = kind {
                    self.add_link(peer_netns.as_ref().unwrap_or(ns), peer, "veth");
                }
            }
            Op::AddrAdd { ns, dev, addr, .. } => {
                let index = match self.known(ns, dev) {
                    Some(l) => l.index,
                    None => self.add_link(ns, dev, ""),
                };
                self.addrs
                    .borrow_mut()
                    .push((ns.clone(), AddrInfo { index, addr: *addr }));
            }
            Op::LinkMove {
                ns,
                name,
                to,
                new_name,
            } => {
                for (n, l) in self.links.borrow_mut().iter_mut() {
                    if n == ns && l.name == *name {
                        (*n, l.name) = (to.clone(), new_name.clone());
                    }
                }
            }
            Op::NetnsAdd { .. }
            | Op::LinkSet { .. }
            | Op::SetMaster { .. }
            | Op::RouteAdd { .. }
            | Op::Sysctl { .. }
            | Op::Spawn { .. }
            | Op::Firewall { .. }
            | Op::Use { .. }
            | Op::Lease { .. } => {}
        }
    }
}

/// What a dry run has printed for the namespace `ns`.
fn in_namespace<T: Clone>(printed: &RefCell<Vec<(NsRef, T)>>, ns: &NsRef) -> Vec<T> {
    printed
        .borrow()
        .iter()
        .filter(|(n, _)| n == ns)
        .map(|(_, t)| t.clone())
        .collect()
}

impl Inspect for DryRunView {
    fn find_link(&self, ns: &NsRef, name: &str) -> plumb_kernel::Result<Option<LinkInfo>> {
        Ok(Some(
            self.known(ns, name).unwrap_or_else(|| stand_in(0, name)),
        ))
    }
    fn links(&self, ns: &NsRef) -> plumb_kernel::Result<Vec<LinkInfo>> {
        Ok(in_namespace(&self.links, ns))
    }
    fn addrs(&self, ns: &NsRef) -> plumb_kernel::Result<Vec<AddrInfo>> {
        Ok(in_namespace(&self.addrs, ns))
    }
    fn routes(&self, _: &NsRef) -> plumb_kernel::Result<Vec<RouteInfo>> {
        Ok(Vec::new())
    }
    fn neighbours(&self, _: &NsRef) -> plumb_kernel::Result<Vec<Neighbour>> {
        Ok(Vec::new())
    }
    fn sysctl(&self, _: &NsRef, _: &str) -> plumb_kernel::Result<String> {
        Ok(String::new())
    }
    fn netns_exists(&self, _: &NsRef) -> plumb_kernel::Result<()> {
        Ok(())
    }
    fn check_rule(
        &self,
        _: &NsRef,
        _: bool,
        _: &str,
        _: &str,
        _: &[String],
    ) -> plumb_kernel::Result<()> {
        Ok(())
    }
}

/// Rules gathered for one `iptables-restore`, with where each was asked for.
struct Pending {
    batch: Batch,
    origins: Vec<Option<Origin>>,
}

pub struct Session {
    kernel: Kernel,
    mode: Mode,
    /// Firewall rules gathered for one `iptables-restore`, journaled and
    /// applied together before the next other change (see [`Session::flush`]).
    pending: Option<Pending>,
    origin: Option<Origin>,
    /// Links this run made or holds as shared: no owner to look up.
    made: HashSet<(NsRef, String)>,
    /// Links whose owner this run has looked up already.
    checked: HashSet<(NsRef, String)>,
    /// Set (by a signal handler) to stop programs the script runs.
    cancel: Option<&'static AtomicBool>,
    /// Where what the script prints goes (standard output unless set).
    output: Option<Box<dyn Write>>,
}

/// Did a failed change leave nothing behind? A clean refusal before any
/// change (a taken name, bad input) is marked failed; anything else stays
/// "in flight" and its undo removes whatever part of it was made.
fn nothing_changed(e: &Error) -> bool {
    let Some(k) = e.kernel() else {
        return true;
    };
    matches!(
        k,
        KernelError::Invalid { .. }
            | KernelError::NoSuchLink { .. }
            | KernelError::NoSuchNetns(_)
            | KernelError::NotOurs { .. }
            | KernelError::Busy { .. }
            // iptables named the rule it refused: the batch is atomic.
            | KernelError::Rejected { rule: Some(_), .. }
    ) || k.errno() == Some(libc::EEXIST)
}

impl Session {
    pub fn new(kernel: Kernel, journal: Journal) -> Self {
        Session {
            kernel,
            mode: Mode::Apply(journal),
            pending: None,
            origin: None,
            made: HashSet::new(),
            checked: HashSet::new(),
            cancel: None,
            output: None,
        }
    }

    /// A session that prints each change as shell commands and makes none.
    pub fn dry_run(kernel: Kernel, mut out: Box<dyn Write>) -> Self {
        let _ = writeln!(out, "#!/bin/sh\n# generated by plumb --dry-run\nset -e");
        Session {
            kernel,
            mode: Mode::DryRun(DryRun {
                out,
                printed: HashSet::new(),
                last_origin: None,
                view: DryRunView::default(),
                leased: Vec::new(),
            }),
            pending: None,
            origin: None,
            made: HashSet::new(),
            checked: HashSet::new(),
            cancel: None,
            output: None,
        }
    }

    pub fn is_dry_run(&self) -> bool {
        matches!(self.mode, Mode::DryRun(_))
    }

    pub fn journal(&self) -> Option<&Journal> {
        match &self.mode {
            Mode::Apply(j) => Some(j),
            Mode::DryRun(_) => None,
        }
    }

    pub fn run_id(&self) -> Option<&str> {
        self.journal().map(|j| j.run_id.as_str())
    }

    /// Queries about the network: the kernel, or in a dry run its stand-in.
    pub fn inspect(&self) -> &dyn Inspect {
        match &self.mode {
            Mode::Apply(_) => &self.kernel,
            Mode::DryRun(dry) => &dry.view,
        }
    }

    /// Did this run make the link (or hold it as shared)? A dry run cannot
    /// tell and says yes.
    pub fn made_here(&self, ns: &NsRef, name: &str) -> bool {
        self.is_dry_run() || self.made.contains(&(ns.clone(), name.to_string()))
    }

    /// Where the script is now; changes made until the next call come from there.
    pub fn set_origin(&mut self, origin: Option<Origin>) {
        self.origin = origin;
    }

    /// Send what the script prints to `out` instead of standard output (a CNI
    /// plugin's standard output is the runtime's).
    pub fn set_output(&mut self, out: Box<dyn Write>) {
        self.output = Some(out);
    }

    /// A flag that, once set, stops programs the script runs.
    pub fn set_cancel(&mut self, cancel: &'static AtomicBool) {
        self.cancel = Some(cancel);
    }

    /// Journal the op, then apply it (or, in a dry run, print it). Firewall
    /// rules for the same namespace and family are gathered into one batch.
    pub fn apply(&mut self, op: Op) -> std::result::Result<(), Failure> {
        // A shared object this run holds already (ip_forward for the 600th
        // published port) is not journaled again, and does not break the
        // batch of rules being gathered.
        if let (Some(key), Mode::Apply(journal)) = (op.shared_key(), &self.mode) {
            if journal.holds(&key) {
                return Ok(());
            }
        }
        if let Op::Firewall {
            batch,
            shared: false,
        } = &op
        {
            match &mut self.pending {
                Some(p) if p.batch.ns == batch.ns && p.batch.v6 == batch.v6 => {
                    p.batch.rules.extend(batch.rules.iter().cloned());
                    p.origins
                        .extend(batch.rules.iter().map(|_| self.origin.clone()));
                }
                _ => {
                    self.flush()?;
                    self.pending = Some(Pending {
                        batch: batch.clone(),
                        origins: batch.rules.iter().map(|_| self.origin.clone()).collect(),
                    });
                }
            }
            return Ok(());
        }
        if let Op::Spawn { .. } = op {
            self.settle()?; // a program sees the network as journaled
        } else {
            self.flush()?;
        }
        let origin = self.origin.clone();
        self.apply_now(op, origin.as_ref())?;
        Ok(())
    }

    /// Apply gathered firewall rules now: before other changes, before a
    /// program runs that may depend on them, and at the end of a run. A
    /// refused rule is reported where the script asked for it.
    pub fn flush(&mut self) -> std::result::Result<(), Failure> {
        let Some(Pending { batch, origins }) = self.pending.take() else {
            return Ok(());
        };
        let first = origins.first().cloned().flatten();
        let op = Op::Firewall {
            batch,
            shared: false,
        };
        self.apply_now(op, first.as_ref()).map_err(|error| {
            let origin = match error.kernel() {
                Some(KernelError::Rejected { rule: Some(i), .. }) => {
                    origins.get(*i).cloned().flatten()
                }
                _ => first.clone(),
            };
            Failure {
                error,
                origin: origin.map(Box::new),
            }
        })
    }

    /// Bring the network to the state the journal describes before anything
    /// looks at it: gathered rules applied, and bridges built without
    /// multicast snooping (it makes each join O(ports)) get it back. At the
    /// end of a run or statement, and before a program or probe runs.
    pub fn settle(&mut self) -> std::result::Result<(), Failure> {
        self.flush()?;
        if let Mode::Apply(_) = self.mode {
            self.kernel.settle_bridges()?;
        }
        Ok(())
    }

    fn apply_now(&mut self, op: Op, origin: Option<&Origin>) -> Result<()> {
        let Session {
            kernel,
            mode,
            made,
            checked,
            ..
        } = self;
        let journal = match mode {
            Mode::DryRun(dry) => return dry.print_op(&op, origin),
            Mode::Apply(journal) => journal,
        };
        let at = origin.map(Origin::at);
        let mut run = Run {
            kernel,
            journal,
            at,
        };
        for (ns, name) in op.links_used() {
            let key = (ns.clone(), name.to_string());
            if made.contains(&key) || !checked.insert(key.clone()) {
                continue;
            }
            if run.note_use(ns, name)? {
                made.insert(key);
            }
        }
        match op.shared_key() {
            Some(key) => run.apply_shared(op.clone(), &key)?,
            None => run.apply_own(op.clone())?,
        }
        made.extend(links_made(&op));
        Ok(())
    }

    /// Run a program in `ns` and wait for it (a dry run prints it instead).
    /// Gathered rules are applied first: the program may depend on them.
    pub fn exec(
        &mut self,
        ns: &NsRef,
        argv: &[String],
        timeout: Duration,
    ) -> std::result::Result<ExecOutput, Failure> {
        self.settle()?;
        let origin = self.origin.clone();
        match &mut self.mode {
            Mode::DryRun(dry) => {
                dry.mark(origin.as_ref())?;
                dry.print(&shell::exec(ns, argv))?;
                Ok(ExecOutput {
                    code: 0,
                    stdout: String::new(),
                    stderr: String::new(),
                    timed_out: false,
                })
            }
            Mode::Apply(_) => Ok(process::exec_in(ns, argv, Some(timeout), self.cancel)?),
        }
    }

    /// Lease an address of `subnet` to `key` (a container): the lowest one
    /// no live run holds (host 1 is the gateway's). Decided and journaled
    /// under the lock, so runs at the same time never get the same one; a
    /// rollback releases it. A dry run hands out addresses in order.
    pub fn lease(&mut self, subnet: IpNet, key: &str) -> std::result::Result<IpNet, Failure> {
        self.flush()?;
        let origin = self.origin.clone();
        let Session { kernel, mode, .. } = self;
        match mode {
            Mode::DryRun(dry) => {
                let taken = dry.leased.iter().map(|a| a.addr()).collect();
                let addr = shared::free_host(&subnet, &taken).ok_or(Error::Exhausted {
                    subnet: subnet.to_string(),
                    leased: taken.len(),
                })?;
                dry.leased.push(addr);
                let op = Op::Lease {
                    subnet,
                    key: key.into(),
                    addr,
                };
                dry.print_op(&op, origin.as_ref())?;
                Ok(addr)
            }
            Mode::Apply(journal) => {
                let _lock = StateLock::acquire(&state_dir())?;
                let taken = shared::leased(&subnet)?;
                let addr = shared::free_host(&subnet, &taken).ok_or(Error::Exhausted {
                    subnet: subnet.to_string(),
                    leased: taken.len(),
                })?;
                let op = Op::Lease {
                    subnet,
                    key: key.into(),
                    addr,
                };
                let mut run = Run {
                    kernel,
                    journal,
                    at: origin.as_ref().map(Origin::at),
                };
                run.record_and_apply(op, Outcome::default(), false)?;
                Ok(addr)
            }
        }
    }

    /// What the script prints: to standard output, or in a dry run as an
    /// `echo` in the text, so the text does what the script does. A closed
    /// standard output is an error like any other.
    pub fn say(&mut self, text: &str) -> Result<()> {
        match &mut self.mode {
            Mode::DryRun(dry) => dry.print(&format!("echo {}", shell::quote(text))),
            Mode::Apply(_) => {
                let written = match &mut self.output {
                    Some(out) => writeln!(out, "{text}").and_then(|()| out.flush()),
                    None => {
                        let mut out = std::io::stdout().lock();
                        writeln!(out, "{text}").and_then(|()| out.flush())
                    }
                };
                written.map_err(|e| Error::state("write to standard output", e))
            }
        }
    }

    /// Try the network (a ping, a connection): gathered rules are applied
    /// first, as the probe may depend on them. A dry run cannot try: it
    /// notes `what` in its text and answers `assumed`.
    pub fn probe<T>(
        &mut self,
        what: &str,
        assumed: T,
        f: impl FnOnce() -> plumb_kernel::Result<T>,
    ) -> std::result::Result<T, Failure> {
        self.settle()?;
        match &mut self.mode {
            Mode::DryRun(dry) => {
                dry.print(&format!("# probe: {what}"))?;
                Ok(assumed)
            }
            Mode::Apply(_) => Ok(f()?),
        }
    }

    /// Undo every change made after `checkpoint`.
    pub fn undo_after(&mut self, checkpoint: u64) -> Result<Report> {
        // Gathered rules never reached the journal or the kernel.
        self.pending = None;
        match &mut self.mode {
            Mode::Apply(journal) => {
                undo::undo_after(journal, &self.kernel, checkpoint, UndoOptions::default())
            }
            Mode::DryRun(_) => Ok(Report::default()),
        }
    }

    /// Close the run: its changes stay, or are all undone.
    pub fn finish(&mut self, rolled_back: bool) -> Result<()> {
        match &mut self.mode {
            Mode::Apply(journal) => journal.end(if rolled_back {
                EndStatus::RolledBack
            } else {
                EndStatus::Applied
            }),
            Mode::DryRun(dry) => dry
                .out
                .flush()
                .map_err(|e| Error::state("write the dry-run text", e)),
        }
    }
}

/// The links an op brings into being (a veth: both ends).
fn links_made(op: &Op) -> Vec<(NsRef, String)> {
    match op {
        Op::LinkAdd { ns, name, kind, .. } => {
            let mut made = vec![(ns.clone(), name.clone())];
            if let plumb_kernel::LinkKind::Veth { peer, peer_netns } = kind {
                made.push((
                    peer_netns.clone().unwrap_or_else(|| ns.clone()),
                    peer.clone(),
                ));
            }
            made
        }
        Op::LinkMove { to, new_name, .. } => vec![(to.clone(), new_name.clone())],
        Op::Use { ns, name, .. } => vec![(ns.clone(), name.clone())],
        Op::NetnsAdd { .. }
        | Op::LinkSet { .. }
        | Op::SetMaster { .. }
        | Op::AddrAdd { .. }
        | Op::RouteAdd { .. }
        | Op::Sysctl { .. }
        | Op::Spawn { .. }
        | Op::Firewall { .. }
        | Op::Lease { .. } => Vec::new(),
    }
}

/// One change being journaled and made.
struct Run<'a> {
    kernel: &'a Kernel,
    journal: &'a mut Journal,
    at: Option<String>,
}

impl Run<'_> {
    /// Record the op, then make it; the outcome (or the failure) follows.
    fn record_and_apply(&mut self, mut op: Op, outcome: Outcome, make: bool) -> Result<()> {
        let seq = self.journal.next_seq();
        let mark = mark_of(&self.journal.run_id, seq);
        if let Op::Firewall { batch, shared } = &mut op {
            batch.comment = if *shared {
                Op::shared_comment(batch)
            } else {
                mark.clone()
            };
        }
        self.journal.record(op.clone(), self.at.clone())?;
        if !make {
            self.journal.done(seq, outcome);
            return Ok(());
        }
        match op.apply(self.kernel, &mark) {
            Ok(made) => {
                self.journal.done(
                    seq,
                    Outcome {
                        joined: outcome.joined,
                        preexisting: outcome.preexisting,
                        ..made
                    },
                );
                Ok(())
            }
            Err(e) => {
                if nothing_changed(&e) {
                    self.journal.failed(seq);
                }
                Err(self.name_the_owner(&op, self.name_the_runs(e)))
            }
        }
    }

    /// The kernel layer names owners by their marks (`plumb:RUN/SEQ`): say
    /// "this run" or "run RUN" instead.
    fn name_the_runs(&self, e: Error) -> Error {
        let Some(KernelError::Rejected { rule, message }) = e.kernel() else {
            return e;
        };
        let mut text = String::new();
        let mut rest = message.as_str();
        while let Some(at) = rest.find("plumb:") {
            text.push_str(&rest[..at]);
            let mark_end = rest[at..]
                .find(|c: char| c.is_whitespace() || matches!(c, ')' | ',' | ';'))
                .map_or(rest.len(), |n| at + n);
            let mark = &rest[at..mark_end];
            text.push_str(&match run_of_mark(mark) {
                Some(run) if run == self.journal.run_id => "this run".to_string(),
                Some(run) => format!("run {run}"),
                None => "the runs sharing it".to_string(),
            });
            rest = &rest[mark_end..];
        }
        text.push_str(rest);
        KernelError::Rejected {
            rule: *rule,
            message: text,
        }
        .into()
    }

    /// A name taken already: say whose it is (a run's, shared, or not plumb's).
    fn name_the_owner(&self, op: &Op, e: Error) -> Error {
        if e.kernel().and_then(|k| k.errno()) != Some(libc::EEXIST) {
            return e;
        }
        // The mark sits on the link itself, or on a namespace's lo.
        let (what, name, ns, marked) = match op {
            Op::LinkAdd { ns, name, .. } => (
                format!("link '{name}' in {}", ns.short_name()),
                name,
                ns.clone(),
                name.as_str(),
            ),
            Op::NetnsAdd { name, .. } => (
                format!("namespace '{name}'"),
                name,
                NsRef::Named(name.clone()),
                "lo",
            ),
            _ => return e,
        };
        let alias = match self.kernel.find_link(&ns, marked) {
            Ok(Some(l)) => l.alias,
            _ => None,
        };
        let maker = match alias.as_deref() {
            Some(SHARED_MARK) => {
                return Error::Exists {
                    what,
                    owner: "shared by plumb runs".into(),
                }
            }
            Some(mark) => run_of_mark(mark).map(str::to_string),
            // Not marked yet: a run may be making it this very moment, and
            // its journal says so first.
            None => shared::maker(name, |other| other.same_object(op)),
        };
        let owner = match maker {
            Some(run) if run == self.journal.run_id => "made by this run".into(),
            Some(run) => format!("made by run {run}; `plumb rollback {run}` removes it"),
            None => "not made by plumb".into(),
        };
        Error::Exists { what, owner }
    }

    fn apply_own(&mut self, mut op: Op) -> Result<()> {
        op.capture_old(self.kernel)?;
        let _lock = match op.needs_lock() {
            true => Some(StateLock::acquire(&state_dir())?),
            false => None,
        };
        self.record_and_apply(op, Outcome::default(), true)
    }

    /// A shared object: joined when a live run holds it, adopted when it is
    /// plumb's and was left, used as found when it is someone else's and
    /// alike, made otherwise. Decided under the lock.
    fn apply_shared(&mut self, mut op: Op, key: &str) -> Result<()> {
        if let Op::Firewall { batch, .. } = &mut op {
            batch.comment = Op::shared_comment(batch);
        }
        let _lock = StateLock::acquire(&state_dir())?;
        // This run holds none of it (see Session::apply): ask the others.
        let holder = shared::other_holder(key, &self.journal.run_id)?;
        let mut outcome = Outcome::default();
        if let Some(h) = &holder {
            if let (
                Op::Sysctl {
                    key, value, old, ..
                },
                Op::Sysctl {
                    value: theirs,
                    old: original,
                    ..
                },
            ) = (&mut op, &h.entry.op)
            {
                if value != theirs {
                    return Err(Error::Conflict {
                        what: format!("sysctl {key}"),
                        has: theirs.clone(),
                        want: value.clone(),
                        holder: format!("set by run {}", h.run),
                    });
                }
                // The last run to leave restores what was there before the first.
                *old = original.clone();
            }
            outcome.joined = Some(h.run.clone());
            outcome.preexisting = h.entry.outcome.as_ref().is_some_and(|o| o.preexisting);
        }
        // A live holder's rules are trusted to be there: checking would cost an
        // iptables-save for every container that joins a shared network.
        let present = match (&op, holder.is_none()) {
            (Op::Firewall { .. }, false) => true,
            _ => op.present(self.kernel)?,
        };
        if present && holder.is_none() {
            outcome.preexisting = self.found_before(&op)?;
        } else if !present && holder.is_none() {
            op.capture_old(self.kernel)?;
            if let Op::Sysctl {
                ns: NsRef::Host,
                key,
                old: Some(old),
                ..
            } = &op
            {
                shared::originals::remember(key, old)?;
            }
        }
        self.record_and_apply(op, outcome, !present)
    }

    /// A shared object that is there while no live run holds it: plumb's
    /// own (left by a run whose journal is gone) is adopted and goes with
    /// its last user; anything else was there before plumb and stays.
    fn found_before(&self, op: &Op) -> Result<bool> {
        Ok(match op {
            Op::LinkAdd { ns, name, kind, .. } => {
                let link = self.kernel.link(ns, name)?;
                if link.kind != kind.kernel_name() {
                    return Err(Error::Conflict {
                        what: format!("link '{name}' in {}", ns.short_name()),
                        has: format!(
                            "a {}",
                            if link.kind.is_empty() {
                                "device"
                            } else {
                                &link.kind
                            }
                        ),
                        want: format!("a {}", kind.kernel_name()),
                        holder: match link.alias.as_deref() {
                            Some(a) if a.starts_with("plumb:") => "made by plumb".into(),
                            _ => "not made by plumb".into(),
                        },
                    });
                }
                link.alias.as_deref() != Some(SHARED_MARK)
            }
            Op::Use { ns, name, .. } => {
                self.kernel.link(ns, name)?.alias.as_deref() != Some(SHARED_MARK)
            }
            Op::Firewall { .. } => false,
            Op::AddrAdd { .. } | Op::Sysctl { .. } => true,
            Op::NetnsAdd { .. }
            | Op::LinkSet { .. }
            | Op::LinkMove { .. }
            | Op::SetMaster { .. }
            | Op::RouteAdd { .. }
            | Op::Spawn { .. }
            | Op::Lease { .. } => false,
        })
    }

    /// The op names a link this run did not make: if it is another run's
    /// (or shared), journal the dependency first. True when one was journaled.
    fn note_use(&mut self, ns: &NsRef, name: &str) -> Result<bool> {
        let Some(link) = self.kernel.find_link(ns, name)? else {
            return Ok(false); // the op itself will say it is missing
        };
        let owner = match link.alias.as_deref() {
            Some(SHARED_MARK) => Owner::Shared,
            Some(alias) => match run_of_mark(alias) {
                Some(run) if run != self.journal.run_id => Owner::Run(run.to_string()),
                _ => return Ok(false),
            },
            None => return Ok(false),
        };
        let op = Op::Use {
            ns: ns.clone(),
            name: name.to_string(),
            owner: owner.clone(),
        };
        match owner {
            Owner::Shared => {
                let key = op.shared_key().expect("a shared use has a key");
                self.apply_shared(op, &key)?;
            }
            Owner::Run(run) => {
                let _lock = StateLock::acquire(&state_dir())?;
                if let Ok(theirs) = Journal::load(&run) {
                    if theirs.is_leaving() {
                        return Err(Error::Leaving {
                            what: format!("link '{name}' in {}", ns.short_name()),
                            owner: run,
                        });
                    }
                }
                self.record_and_apply(op, Outcome::default(), false)?;
            }
        }
        Ok(true)
    }
}
