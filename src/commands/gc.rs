//! `plumb gc [--yes]`: find what plumb made whose journal is gone (a
//! deleted journal, a wiped state directory, a damaged journal line), list
//! it, and with --yes remove it. Only plumb-marked objects are considered.

use super::print_lines;
use crate::error::Result;
use plumb_journal::gc;
use plumb_kernel::Kernel;

/// True when nothing is left (nothing found, or all of it removed).
pub fn gc(yes: bool) -> Result<bool> {
    let kernel = Kernel::new()?;
    let orphans = gc::find(&kernel)?;
    if orphans.is_empty() {
        eprintln!("plumb: nothing plumb made is without a live run");
        return Ok(true);
    }
    print_lines(orphans.iter().map(|o| o.describe()))?;
    if !yes {
        eprintln!(
            "plumb: {} object(s) above carry plumb's mark but no live run answers for them; `plumb gc --yes` removes them",
            orphans.len()
        );
        return Ok(false);
    }
    match gc::remove(&kernel, &orphans) {
        Ok(n) => {
            eprintln!("plumb: removed {n} object(s)");
            Ok(true)
        }
        Err(e) => {
            eprintln!("plumb: {e}");
            Ok(false)
        }
    }
}
