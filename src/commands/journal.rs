//! `plumb journal list | show RUN`.

use super::print_lines;
use crate::error::Result;
use plumb_journal::{format_time, state_dir, Journal};

fn params_text(j: &Journal) -> String {
    j.params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn list() -> Result<()> {
    let runs = Journal::list()?;
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

pub fn show(id: &str) -> Result<()> {
    let j = Journal::load(id)?;
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
