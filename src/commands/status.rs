//! `plumb status [RUN] [--json]`: every live run (or one) with the objects
//! it made and whether each is still as made: fine, missing or changed.

use super::print_lines;
use crate::error::Result;
use crate::schema::{ObjectCheck, ObjectState, RunCheck, RunSummary, StatusReport, STATUS_SCHEMA};
use plumb_journal::{check_entry, expectations, Journal, Status};
use plumb_kernel::Kernel;

/// How `plumb status` ends.
pub enum Verdict {
    /// Every object is as made.
    Fine,
    /// Something is missing or changed.
    Drift,
    /// Some object could not be checked (and nothing drifted).
    Unknown,
}

/// Check one run's objects against the kernel.
pub fn check_run(k: &Kernel, j: &Journal) -> RunCheck {
    let entries = j.entries();
    let expected = expectations(entries);
    let objects: Vec<ObjectCheck> = entries
        .iter()
        .zip(&expected)
        .filter(|(e, _)| e.state.is_live())
        .map(|(e, op)| {
            let state = match check_entry(k, e, op.as_ref(), &j.run_id) {
                None if op.is_some() => ObjectState::InFlight,
                // Superseded by a later op of the run: that one is checked.
                None => ObjectState::Fine,
                Some(Ok(drift)) => drift.into(),
                Some(Err(error)) => ObjectState::Unknown {
                    error: error.to_string(),
                },
            };
            ObjectCheck {
                seq: e.seq,
                object: op.as_ref().unwrap_or(&e.op).object(),
                command: e.op.describe(),
                state,
            }
        })
        .collect();
    let count = |f: fn(&ObjectState) -> bool| objects.iter().filter(|o| f(&o.state)).count();
    RunCheck {
        summary: RunSummary::of(j),
        fine: count(|s| matches!(s, ObjectState::Fine)),
        missing: count(|s| matches!(s, ObjectState::Missing { .. })),
        changed: count(|s| matches!(s, ObjectState::Changed { .. })),
        unknown: count(|s| matches!(s, ObjectState::InFlight | ObjectState::Unknown { .. })),
        objects,
    }
}

/// Every run with changes in the kernel (applied, incomplete, or running):
/// what `status` checks and `graph` draws when no run is named.
pub fn live_runs() -> Result<Vec<Journal>> {
    Ok(Journal::list()?
        .into_iter()
        .filter(|j| {
            matches!(
                j.status(),
                Status::Applied | Status::Incomplete | Status::Running
            )
        })
        .collect())
}

fn runs(run: Option<&str>) -> Result<Vec<Journal>> {
    match run {
        Some(id) => Ok(vec![Journal::load(id)?]),
        None => live_runs(),
    }
}

pub fn report(run: Option<&str>) -> Result<StatusReport> {
    let kernel = Kernel::new()?;
    let runs: Vec<RunCheck> = runs(run)?.iter().map(|j| check_run(&kernel, j)).collect();
    Ok(StatusReport {
        schema: STATUS_SCHEMA.into(),
        drift: runs.iter().any(|r| r.missing + r.changed > 0),
        runs,
    })
}

fn state_text(state: &ObjectState) -> (&'static str, String) {
    match state {
        ObjectState::Fine => ("fine", String::new()),
        ObjectState::Missing { what } => ("missing", format!(": {what} is gone")),
        ObjectState::Changed { changes } => (
            "changed",
            format!(
                ": {}",
                changes
                    .iter()
                    .map(|c| format!("{} is {} (made {})", c.what, c.found, c.expected))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        ObjectState::InFlight => ("in flight", ": not known to have been made".into()),
        ObjectState::Unknown { error } => ("unknown", format!(": {error}")),
    }
}

fn lines(report: &StatusReport) -> Vec<String> {
    if report.runs.is_empty() {
        return vec!["no run has changes in place".into()];
    }
    let mut lines = Vec::new();
    for r in &report.runs {
        let s = &r.summary;
        lines.push(format!(
            "run {} ({}), {}: {} object(s): {} fine, {} missing, {} changed{}",
            s.run,
            s.status.as_str(),
            s.source,
            r.objects.len(),
            r.fine,
            r.missing,
            r.changed,
            if r.unknown > 0 {
                format!(", {} unknown", r.unknown)
            } else {
                String::new()
            }
        ));
        for o in &r.objects {
            let (word, detail) = state_text(&o.state);
            // "missing  address X on Y", not "...: address X on Y is gone".
            let detail = match &o.state {
                ObjectState::Missing { what } if *what == o.object => String::new(),
                _ => detail,
            };
            lines.push(format!("{:>4}  {word:<9}  {}{detail}", o.seq, o.object));
        }
    }
    lines
}

pub fn status(run: Option<&str>, json: bool) -> Result<Verdict> {
    let report = report(run)?;
    if json {
        super::print_json(&report)?;
    } else {
        print_lines(lines(&report))?;
    }
    let unchecked = report.runs.iter().any(|r| {
        r.objects
            .iter()
            .any(|o| matches!(o.state, ObjectState::Unknown { .. }))
    });
    Ok(match (report.drift, unchecked) {
        (true, _) => Verdict::Drift,
        (false, true) => Verdict::Unknown,
        (false, false) => Verdict::Fine,
    })
}
