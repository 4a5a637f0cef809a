//! Undo: newest change first, best-effort and idempotent (the CNI DEL contract).
//! Every failure is gathered and reported at the end; what is already gone
//! counts as undone. A namespace this undo deletes takes its links, addresses,
//! routes and rules with it, so those are not undone one by one.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use super::{mark_of, EntryState, Journal, Op};
use crate::error::{Error, Result};
use crate::kernel::{Kernel, NsRef};

/// How long to wait for the kernel to remove the links of deleted namespaces.
const LINK_REMOVAL_LIMIT: Duration = Duration::from_secs(20);

/// Undo every change with a sequence number above `after` that is still in
/// the kernel. Returns how many were undone.
pub fn undo_after(journal: &mut Journal, kernel: &Kernel, after: u64) -> Result<usize> {
    let mark = mark_of(&journal.run_id);
    let targets: Vec<usize> = journal
        .entries()
        .iter()
        .enumerate()
        .filter(|(_, e)| e.seq > after && matches!(e.state, EntryState::Done | EntryState::Pending))
        .map(|(i, _)| i)
        .rev()
        .collect();
    let doomed: HashSet<String> = targets
        .iter()
        .filter_map(|&i| match &journal.entries()[i].op {
            Op::NetnsAdd { name, .. } => Some(name.clone()),
            _ => None,
        })
        .collect();

    let mut errors = Vec::new();
    let mut removed_with_netns: BTreeMap<String, (NsRef, Vec<String>)> = BTreeMap::new();
    let mut undone = 0;
    // Namespaces met one after another (their contents need no undo) are
    // deleted together, in parallel, before the next change that does.
    let mut namespaces: Vec<(u64, String, Option<u64>)> = Vec::new();
    for i in targets {
        let entry = journal.entries()[i].clone();
        if let Op::NetnsAdd { name, .. } = &entry.op {
            namespaces.push((entry.seq, name.clone(), entry.outcome.and_then(|o| o.inode)));
            continue;
        }
        let covered = doomed.iter().any(|ns| entry.op.lives_in_netns(ns));
        // A veth with both ends in doomed namespaces goes with them: nothing to wait for.
        let veth_end = if covered {
            None
        } else {
            doomed
                .iter()
                .find_map(|ns| entry.op.veth_end_removed_with(ns))
        };
        if let Some((ns, name)) = veth_end {
            removed_with_netns
                .entry(format!("{ns:?}"))
                .or_insert_with(|| (ns.clone(), Vec::new()))
                .1
                .push(name.to_string());
        }
        let result = if covered || veth_end.is_some() {
            Ok(())
        } else {
            undone += delete_namespaces(journal, kernel, &mut namespaces, &mut errors)?;
            entry.op.undo(kernel, entry.outcome.as_ref(), &mark)
        };
        match result {
            Ok(()) => {
                journal.undone(entry.seq)?;
                undone += 1;
            }
            Err(e) => errors.push(Error::Journal(format!(
                "undo `{}`: {e}",
                entry.op.describe()
            ))),
        }
    }
    undone += delete_namespaces(journal, kernel, &mut namespaces, &mut errors)?;
    for (ns, names) in removed_with_netns.into_values() {
        if let Err(e) = kernel.wait_links_gone(&ns, &names, LINK_REMOVAL_LIMIT) {
            errors.push(e);
        }
    }
    if errors.is_empty() {
        Ok(undone)
    } else {
        Err(Error::Undo(errors))
    }
}

/// Delete the gathered namespaces (in parallel) and journal each as undone;
/// returns how many were.
fn delete_namespaces(
    journal: &mut Journal,
    kernel: &Kernel,
    namespaces: &mut Vec<(u64, String, Option<u64>)>,
    errors: &mut Vec<Error>,
) -> Result<usize> {
    if namespaces.is_empty() {
        return Ok(0);
    }
    let deletions: Vec<(String, Option<u64>)> = namespaces
        .iter()
        .map(|(_, name, inode)| (name.clone(), *inode))
        .collect();
    let results = kernel.delete_netns_many(&deletions);
    let mut undone = 0;
    for ((seq, name, _), result) in namespaces.drain(..).zip(results) {
        match result {
            Err(e) if !e.is_already_gone() => {
                errors.push(Error::Journal(format!("undo `ip netns add {name}`: {e}")))
            }
            _ => {
                journal.undone(seq)?;
                undone += 1;
            }
        }
    }
    Ok(undone)
}
