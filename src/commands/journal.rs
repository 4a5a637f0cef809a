//! `plumb journal list | show RUN`, as text or (`--json`) as documented JSON.

use super::{print_json, print_lines};
use crate::error::Result;
use crate::schema::{RunDetail, RunSummary, Runs, RUNS_SCHEMA};
use plumb_journal::{format_time, state_dir, Journal};

fn params_text(j: &Journal) -> String {
    j.params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn list(json: bool) -> Result<()> {
    let runs = Journal::list()?;
    if json {
        return print_json(&Runs {
            schema: RUNS_SCHEMA.into(),
            state_dir: state_dir().display().to_string(),
            runs: runs.iter().map(RunSummary::of).collect(),
        });
    }
    if runs.is_empty() {
        return print_lines([format!("no runs in {}", state_dir().display())]);
    }
    let header = format!(
        "{:<24} {:<12} {:>7}  {:<19}  SOURCE [PARAMETERS]",
        "RUN", "STATUS", "CHANGES", "STARTED (UTC)"
    );
    print_lines(std::iter::once(header).chain(runs.iter().map(|j| {
        let params = params_text(j);
        format!(
            "{:<24} {:<12} {:>7}  {:<19}  {}{}",
            j.run_id,
            j.status().as_str(),
            j.live_changes(),
            format_time(j.started),
            j.source,
            if params.is_empty() {
                String::new()
            } else {
                format!(" [{params}]")
            }
        )
    })))
}

pub fn show(id: &str, json: bool) -> Result<()> {
    let j = Journal::load(id)?;
    if json {
        return print_json(&RunDetail::of(&j));
    }
    let params = params_text(&j);
    let head = format!(
        "run {} ({}), from {}, started {} UTC{}",
        j.run_id,
        j.status().as_str(),
        j.source,
        format_time(j.started),
        if params.is_empty() {
            String::new()
        } else {
            format!(", with {params}")
        }
    );
    print_lines(std::iter::once(head).chain(j.describe_entries()))
}
