//! `plumb doc [NAME]`: the script API reference, from the engine's metadata.

use std::cell::RefCell;
use std::rc::Rc;

use super::print_lines;
use crate::error::{Error, Result};
use crate::script::{self, FnDoc};
use plumb_journal::Session;
use plumb_kernel::Kernel;

/// Every documented function: the API, the ipam module and the stdlib.
pub fn all() -> Result<Vec<FnDoc>> {
    let session = Session::dry_run(Kernel::new()?, Box::new(std::io::sink()));
    let (engine, _) = script::engine(Rc::new(RefCell::new(session)), Default::default());
    Ok(script::reference(&engine))
}

pub fn doc(filter: Option<&str>) -> Result<()> {
    let docs = all()?;
    let found: Vec<&FnDoc> = docs
        .iter()
        .filter(|f| filter.is_none_or(|n| f.name.contains(n)))
        .collect();
    if let (Some(name), true) = (filter, found.is_empty()) {
        let mut near: Vec<&str> = docs
            .iter()
            .filter(|d| script::similar(name, &d.name))
            .map(|d| d.name.as_str())
            .collect();
        near.dedup();
        let hint = if near.is_empty() {
            "`plumb doc` lists every function".to_string()
        } else {
            format!("did you mean {}?", near.join(", "))
        };
        return Err(Error::Usage(format!(
            "no function matches '{name}'; {hint}"
        )));
    }
    print_lines(
        found
            .into_iter()
            .map(|f| format!("{}\n    {}\n", f.signature, f.doc)),
    )
}
